import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import type { AuditLogTable } from '../storage/schema.js';

export type ActorType = 'user' | 'operator' | 'secret_key' | 'system';

/** Who made a change, and from where when it came over HTTP. */
export interface Actor {
  type: ActorType;
  id?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditEntry {
  type: string;
  actor: Actor;
  target?: { type: string; id: string };
  data?: object;
}

/** Writes an audit entry in the caller's transaction, so it exists exactly when the change does. */
export async function recordAudit(db: Db, now: number, e: AuditEntry): Promise<void> {
  await db.insertInto('audit_logs').values({
    id: newId('aud', now),
    type: e.type,
    actor_type: e.actor.type,
    actor_id: e.actor.id ?? null,
    target_type: e.target?.type ?? null,
    target_id: e.target?.id ?? null,
    ip: e.actor.ip ?? null,
    user_agent: e.actor.userAgent ?? null,
    data: JSON.stringify(e.data ?? {}),
    created_at: now,
  }).execute();
}

export type StoredAuditLog = Omit<AuditLogTable, 'sequence'> & { sequence: number };

/** Entries after `after` (a sequence), oldest first; optionally about one target or of some types. */
export async function listAuditLogs(db: Db, q: { after: number; limit: number; targetId?: string | undefined; types: string[] }):
  Promise<{ data: StoredAuditLog[]; hasMore: boolean }> {
  let query = db.selectFrom('audit_logs').selectAll().where('sequence', '>', q.after);
  if (q.targetId) query = query.where('target_id', '=', q.targetId);
  if (q.types.length) query = query.where('type', 'in', q.types);
  const rows = (await query.orderBy('sequence').limit(q.limit + 1).execute()) as StoredAuditLog[];
  return { data: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

export function auditLogJson(e: StoredAuditLog) {
  return {
    object: 'audit_log' as const,
    id: e.id,
    sequence: e.sequence,
    type: e.type,
    actor: { type: e.actor_type, id: e.actor_id },
    target: e.target_type ? { type: e.target_type, id: e.target_id } : null,
    ip: e.ip,
    user_agent: e.user_agent,
    data: JSON.parse(e.data) as unknown,
    created_at: e.created_at,
  };
}
