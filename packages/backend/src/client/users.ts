import { seg, type Requester } from './request.js';
import type {
  BanParams, CreateUserParams, DeletedObject, MetadataParams, SetRoleOptions, UpdateUserParams, User, UserFilterParams,
  UserListParams,
} from './types.js';

/** /v1/users: Clerk's user calls, plus Latchkey's ban reason/end and role assignment. */
export function usersApi(request: Requester) {
  const user = (id: string, action = '') => `/users/${seg(id)}${action}`;
  return {
    /** A bare array, newest first unless `order_by` says otherwise. */
    list: (params: UserListParams = {}) => request<User[]>('GET', '/users', { query: { ...params } }),
    count: async (params: UserFilterParams = {}) =>
      (await request<{ total_count: number }>('GET', '/users/count', { query: { ...params } })).total_count,
    get: (id: string) => request<User>('GET', user(id)),
    create: (params: CreateUserParams) => request<User>('POST', '/users', { body: params }),
    /** Metadata given here replaces each document named; use updateMetadata to merge. */
    update: (id: string, params: UpdateUserParams) => request<User>('PATCH', user(id), { body: params }),
    /** Keeps a tombstone and erases the personal data; the user is 404 afterwards. */
    delete: (id: string) => request<DeletedObject<'user'>>('DELETE', user(id)),
    /** Deep merge: objects merge key by key, `null` deletes a key, other values replace. */
    updateMetadata: (id: string, params: MetadataParams) => request<User>('PATCH', user(id, '/metadata'), { body: params }),
    /** Replaces the documents given, leaves the others. */
    replaceMetadata: (id: string, params: MetadataParams) => request<User>('PUT', user(id, '/metadata'), { body: params }),
    /** Revokes every active session at once; `until` lifts the ban by itself. */
    ban: (id: string, params: BanParams = {}) => {
      const until = params.until instanceof Date ? params.until.getTime() : params.until;
      return request<User>('POST', user(id, '/ban'), { body: { reason: params.reason, until } });
    },
    unban: (id: string) => request<User>('POST', user(id, '/unban')),
    /** A locked user gets no new sessions or tokens but keeps the sessions they have. */
    lock: (id: string) => request<User>('POST', user(id, '/lock')),
    unlock: (id: string) => request<User>('POST', user(id, '/unlock')),
    /** Sets public_metadata.role to a role of the catalog, or removes it with null. */
    setRole: (id: string, role: string | null, opts: SetRoleOptions = {}) =>
      request<User>('POST', user(id, '/role'), { body: { role, ...opts } }),
  };
}
