import type { Requester } from './request.js';
import type { RevocationListParams, Revocations } from './types.js';

/** /v1/revocations: what the revocation check keeps locally (revoked sessions, suspended and deleted users). */
export function revocationsApi(request: Requester) {
  return {
    /** Without `after`, a snapshot; with the previous answer's cursor, what changed since. */
    list: (params: RevocationListParams = {}) => request<Revocations>('GET', '/revocations', { query: { ...params } }),
  };
}
