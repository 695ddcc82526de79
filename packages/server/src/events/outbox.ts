import { PostgresAdapter, sql } from 'kysely';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import { enqueueDeliveries } from '../webhooks/fanout.js';
import { announceEvents, EVENTS_CHANNEL } from './signal.js';

import type { EventType } from './types.js';

export { EVENT_TYPES, type EventType } from './types.js';

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
 *
 * The event's webhook messages are queued in the same transaction, and the
 * delivery workers are told (on PostgreSQL by NOTIFY, delivered at commit).
 */
export async function recordEvent(db: Db, now: number, type: EventType, data: object, userId: string | null): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  if (postgres) await sql`select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})`.execute(db);
  const id = newId('evt', now);
  const { sequence } = await db.insertInto('events')
    .values({ id, type, data: JSON.stringify(data), user_id: userId, created_at: now })
    .returning('sequence').executeTakeFirstOrThrow();
  const queued = await enqueueDeliveries(db, { sequence: Number(sequence), id, type, userId }, now);
  if (queued === 0) return;
  if (postgres) await sql`select pg_notify(${EVENTS_CHANNEL}, '')`.execute(db);
  else announceEvents();
}
