import type { SessionStatus, SessionTable } from '../storage/schema.js';

/**
 * Expiry and abandonment happen by the clock, not by a write: a session whose
 * `expire_at` or `abandon_at` has passed is expired or abandoned whatever its row
 * says. Readers apply this, and `settleSessions` persists it.
 */
export function effectiveStatus(s: Pick<SessionTable, 'status' | 'expire_at' | 'abandon_at'>, now: number): SessionStatus {
  if (s.status !== 'active') return s.status;
  if (now >= s.expire_at) return 'expired';
  if (now >= s.abandon_at) return 'abandoned';
  return 'active';
}

export function withEffectiveStatus(s: SessionTable, now: number): SessionTable {
  const status = effectiveStatus(s, now);
  if (status === s.status) return s;
  const changedAt = status === 'expired' ? s.expire_at : s.abandon_at;
  return { ...s, status, updated_at: Math.max(s.updated_at, changedAt) };
}
