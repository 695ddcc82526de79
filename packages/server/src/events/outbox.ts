import { PostgresAdapter, sql } from 'kysely';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';

export const EVENT_TYPES = ['user.created', 'user.updated', 'user.deleted', 'session.created', 'session.ended',
  'session.removed', 'session.revoked'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

// Names "event order" among PostgreSQL advisory locks.
const EVENT_ORDER_LOCK = 7_241_105_338;

/**
 * Writes an event in the caller's transaction: no change without its event, no
 * event without its change (a rollback takes both).
 *
 * A sequence value is drawn at insert but becomes visible at commit, so two
 * PostgreSQL transactions could commit out of sequence order and a feed reader
 * at `after=N` would skip the later-visible lower one for good. Taking a
 * transaction-scoped lock before the insert makes event-writing transactions
 * commit in sequence order. (SQLite runs one write transaction at a time.)
 */
export async function recordEvent(db: Db, now: number, type: EventType, data: object, userId: string | null): Promise<void> {
  if (db.getExecutor().adapter instanceof PostgresAdapter) {
    await sql`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})`.execute(db);
  }
  await db.insertInto('events')
    .values({ id: newId('evt', now), type, data: JSON.stringify(data), user_id: userId, created_at: now })
    .execute();
}
