import { PostgresAdapter, sql } from 'kysely';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import { planDeliveries, queueDeliveries, queuedWith } from '../webhooks/fanout.js';
import { announceEvents } from './signal.js';

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
 * On PostgreSQL the lock, the event, its messages and the NOTIFY are one
 * statement, so the lock is held for that statement and the COMMIT only.
 */
export async function recordEvent(db: Db, now: number, type: EventType, data: object, userId: string | null): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const id = newId('evt', now);
  // Everything that does not need the sequence happens before the lock: the lock
  // serialises event writers until they commit, so what runs under it bounds them.
  const plan = await planDeliveries(db, type, userId ?? id, postgres);
  const event = { sequence: 0, id, type, userId };
  const values = { id, type, data: JSON.stringify(data), user_id: userId, created_at: now };
  if (postgres) {
    await sql`with lock as (select pg_advisory_xact_lock(${EVENT_ORDER_LOCK})),
      ev as (
        insert into events (id, type, data, user_id, created_at)
        select ${values.id}, ${values.type}, ${values.data}, ${values.user_id}, ${values.created_at} from lock
        returning sequence)
      ${plan.length ? queuedWith(plan, event, now) : sql`select sequence from ev`}`.execute(db);
    return;
  }
  const { sequence } = await db.insertInto('events').values(values).returning('sequence').executeTakeFirstOrThrow();
  await queueDeliveries(db, plan, { ...event, sequence: Number(sequence) }, now);
  if (plan.length) announceEvents();
}
