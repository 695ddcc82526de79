import { seg, type Requester } from './request.js';
import type { CatalogList, CreateRoleParams, Role, RolePreset, UpdateRoleParams } from './types.js';

/** /v1/roles: the role catalog that public_metadata.role must name. */
export function rolesApi(request: Requester) {
  const role = (key: string) => `/roles/${seg(key)}`;
  return {
    list: () => request<CatalogList<Role>>('GET', '/roles'),
    get: (key: string) => request<Role>('GET', role(key)),
    create: (params: CreateRoleParams) => request<Role>('POST', '/roles', { body: params }),
    update: (key: string, params: UpdateRoleParams) => request<Role>('PATCH', role(key), { body: params }),
    /** Refused (422 role_in_use) while a user holds the role or a setting names it. */
    delete: (key: string) => request<{ object: 'role'; key: string; deleted: true }>('DELETE', role(key)),
    /** Adds the preset's missing roles and fills unset settings; applying it again changes nothing. Answers the catalog. */
    applyPreset: (preset: RolePreset) => request<CatalogList<Role>>('POST', '/roles/presets', { body: { preset } }),
  };
}
