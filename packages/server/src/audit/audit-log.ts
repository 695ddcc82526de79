import { PostgresAdapter, sql, type Insertable } from 'kysely';
import { newId } from '../ids/ids.js';
import { settledPage } from '../storage/commit-order.js';
import { originOf } from '../events/origin.js';
import type { Db } from '../storage/database.js';
import { DELETE_BATCH, deleteInBatches } from '../storage/batched-delete.js';
import type { AuditLogTable } from '../storage/schema.js';
import { prepared } from '../storage/prepared.js';

/**
 * The audit log: who did what to whom, from where, and when. Entries are
 * written in the transaction of the change they describe (or, for a refusal
 * that changes nothing, on their own), so an entry exists exactly when the
 * change does. docs/audit-log.md lists the types.
 */

export type ActorType = 'user' | 'operator' | 'secret_key' | 'system';

/** Who acts: an end user (id null while unknown), the operator (CLI), a secret key (Backend API), or the server itself. */
export interface ActorRef {
  type: ActorType;
  id?: string | null;
}

/** An actor with the address and user agent of their request. */
export interface Actor extends ActorRef {
  ip?: string | null;
  userAgent?: string | null;
}

export interface AuditEntry {
  type: string;
  /** Who acted; fields left out come from the origin the handle carries (events/origin.ts), else "system". */
  actor?: Actor;
  target?: { type: string; id: string };
  data?: object;
}

function resolveActor(db: Db, given: Actor | undefined): Required<Actor> {
  const origin = originOf(db);
  // The request's actor, unless the caller names another kind (then only what it gives).
  const base: ActorRef = given?.type && given.type !== origin?.actor?.type ? { type: given.type } : origin?.actor ?? { type: 'system' };
  return {
    type: base.type,
    id: given?.id ?? base.id ?? null,
    ip: given?.ip ?? (origin?.clientIp || null),
    userAgent: given?.userAgent ?? (origin?.userAgent || null),
  };
}

/** Writes an audit entry in the caller's transaction, so it exists exactly when the change does. */
export async function recordAudit(db: Db, now: number, e: AuditEntry): Promise<void> {
  const actor = resolveActor(db, e.actor);
  const row = {
    id: newId('aud', now),
    type: e.type,
    actor_type: actor.type,
    actor_id: actor.id,
    target_type: e.target?.type ?? null,
    target_id: e.target?.id ?? null,
    ip: actor.ip,
    user_agent: actor.userAgent,
    data: JSON.stringify(e.data ?? {}),
    created_at: now,
  };
  await db.executeQuery(insertAudit(db, ...AUDIT_COLUMNS.map((c) => row[c])));
}

const AUDIT_COLUMNS = ['id', 'type', 'actor_type', 'actor_id', 'target_type', 'target_id', 'ip', 'user_agent', 'data', 'created_at'] as const;

const insertAudit = prepared((db: Db, ...values: unknown[]) => db.getExecutor().adapter instanceof PostgresAdapter
  // The transaction takes its id before it draws the sequence, so cursor reads can settle (storage/commit-order.ts).
  ? db.insertInto('audit_logs').columns([...AUDIT_COLUMNS]).expression(sql`select ${sql.join(values)} from (select pg_current_xact_id()) as xid`)
  : db.insertInto('audit_logs').values(Object.fromEntries(AUDIT_COLUMNS.map((c, i) => [c, values[i]])) as Insertable<AuditLogTable>));

export type StoredAuditLog = Omit<AuditLogTable, 'sequence'> & { sequence: number };

export interface AuditQuery {
  /** Oldest first from `after`, or newest first from `before`. */
  order: 'asc' | 'desc';
  after?: number | undefined;
  before?: number | undefined;
  limit: number;
  actorType?: string | undefined;
  actorId?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  types: string[];
  /** Time range on created_at (ms): created_after < t < created_before. */
  createdAfter?: number | undefined;
  createdBefore?: number | undefined;
}

/** One page of entries matching the filters; the last one's sequence is the cursor to the next. */
export async function listAuditLogs(db: Db, q: AuditQuery): Promise<{ data: StoredAuditLog[]; hasMore: boolean }> {
  let query = db.selectFrom('audit_logs').selectAll();
  if (q.after !== undefined) query = query.where('sequence', '>', q.after);
  if (q.before !== undefined) query = query.where('sequence', '<', q.before);
  if (q.actorType) query = query.where('actor_type', '=', q.actorType);
  if (q.actorId) query = query.where('actor_id', '=', q.actorId);
  if (q.targetType) query = query.where('target_type', '=', q.targetType);
  if (q.targetId) query = query.where('target_id', '=', q.targetId);
  if (q.types.length) query = query.where('type', 'in', q.types);
  if (q.createdAfter !== undefined) query = query.where('created_at', '>', q.createdAfter);
  if (q.createdBefore !== undefined) query = query.where('created_at', '<', q.createdBefore);
  const read = async () => {
    const rows = await query.orderBy('sequence', q.order).limit(q.limit + 1).execute();
    return { data: rows.slice(0, q.limit).map((r) => ({ ...r, sequence: Number(r.sequence) })), hasMore: rows.length > q.limit };
  };
  // Oldest first is how a reader follows the log: it must not pass an entry still committing.
  return q.order === 'asc' ? settledPage(db, 'audit_logs', q.after ?? 0, read) : read();
}

/** Every matching entry, oldest first, a page at a time: the JSON-lines export. */
export async function* exportAuditLogs(db: Db, q: Omit<AuditQuery, 'order' | 'limit' | 'before'>): AsyncGenerator<StoredAuditLog> {
  let after = q.after ?? 0;
  for (;;) {
    const page = await listAuditLogs(db, { ...q, order: 'asc', after, limit: 1000 });
    yield* page.data;
    if (!page.hasMore) return;
    // An empty page that has more stops before an entry still committing: ask again shortly.
    if (page.data.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    else after = page.data.at(-1)!.sequence;
  }
}

const DAY_MS = 24 * 3_600_000;

/** Deletes entries older than `days`, a batch at a time; returns how many went. */
export async function applyAuditRetention(db: Db, now: number, days: number): Promise<number> {
  const cutoff = now - days * DAY_MS;
  return deleteInBatches(() => db.deleteFrom('audit_logs').where('sequence', 'in', (eb) =>
    eb.selectFrom('audit_logs').select('sequence').where('created_at', '<', cutoff).limit(DELETE_BATCH)).executeTakeFirst());
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
