import { seg, type Requester } from './request.js';
import type { CreateJwtTemplateParams, DeletedObject, JwtTemplate, PaginatedList, UpdateJwtTemplateParams } from './types.js';

/** /v1/jwt_templates (the built-in `convex` template included). */
export function jwtTemplatesApi(request: Requester) {
  const template = (id: string) => `/jwt_templates/${seg(id)}`;
  return {
    list: () => request<PaginatedList<JwtTemplate>>('GET', '/jwt_templates'),
    get: (id: string) => request<JwtTemplate>('GET', template(id)),
    /** A template named `convex` replaces the built-in one. */
    create: (params: CreateJwtTemplateParams) => request<JwtTemplate>('POST', '/jwt_templates', { body: params }),
    /** Changes only the fields given. */
    update: (id: string, params: UpdateJwtTemplateParams) => request<JwtTemplate>('PATCH', template(id), { body: params }),
    delete: (id: string) => request<DeletedObject<'jwt_template'>>('DELETE', template(id)),
  };
}
