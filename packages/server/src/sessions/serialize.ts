import type { SessionTable } from '../storage/schema.js';

/** Clerk's Session JSON. */
export function sessionJson(s: SessionTable) {
  return {
    object: 'session' as const,
    id: s.id,
    client_id: s.client_id,
    user_id: s.user_id,
    status: s.status,
    last_active_at: s.last_active_at,
    last_active_organization_id: null,
    actor: null,
    expire_at: s.expire_at,
    abandon_at: s.abandon_at,
    created_at: s.created_at,
    updated_at: s.updated_at,
  };
}
