import { seg, type Requester } from './request.js';
import type { CreateTokenOptions, PaginatedList, Session, SessionListParams, Token } from './types.js';

/** /v1/sessions, including token minting. */
export function sessionsApi(request: Requester) {
  const session = (id: string, action = '') => `/sessions/${seg(id)}${action}`;
  return {
    /** Needs `user_id` or `client_id`. Always asks for the paginated shape, so the total comes along. */
    list: (params: SessionListParams) =>
      request<PaginatedList<Session>>('GET', '/sessions', { query: { ...params, paginated: true } }),
    get: (id: string) => request<Session>('GET', session(id)),
    /** A session (and its client) made server-side, e.g. for tests or impersonation tooling. */
    create: (params: { user_id: string }) => request<Session>('POST', '/sessions', { body: params }),
    /** A session that is no longer active comes back unchanged. */
    revoke: (id: string) => request<Session>('POST', session(id, '/revoke')),
    /** A session token, or with `template` a JWT-template token (e.g. "convex"). */
    createToken: (id: string, template?: string, opts: CreateTokenOptions = {}) =>
      request<Token>('POST', session(id, template === undefined ? '/tokens' : `/tokens/${seg(template)}`), { body: opts }),
  };
}
