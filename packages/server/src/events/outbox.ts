import { PostgresAdapter, sql } from 'kysely';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import { prepared } from '../storage/prepared.js';
import { planDeliveries, queueDeliveries, queuedWith } from '../webhooks/fanout.js';
import { originOf } from './origin.js';
import { announceEvents } from './signal.js';

import type { EventType } from './types.js';

export { EVENT_TYPES, type EventType } from './types.js';

// Names "one user's events" among PostgreSQL's two-key advisory locks (the key is a hash of the user id).
const USER_EVENTS_LOCK_CLASS = 7241;

/**
 * Writes an event in the caller's transaction: no change without its event, no
 * event without its change (a rollback takes both).
 *
 * The event's webhook messages are queued in the same transaction, and the
 * delivery workers are told (on PostgreSQL by NOTIFY, delivered at commit).
 *
 * PostgreSQL: writers are not serialised, so sequences may commit out of order;
 * the feed settles that on the reading side (feed.ts). Two things make that
 * sound: the transaction holds an id before it draws its sequence, and the
 * events of one user commit in sequence order, because each writer takes a
 * per-user transaction lock first (user.* writers hold the user's row lock
 * already; session writers may not). The lock, the event, its messages and the
 * NOTIFY are one statement.
 */
const insertEvent = prepared((db: Db, id: string, type: string, data: string, userId: string | null, createdAt: number, httpRequest: string | null) =>
  db.insertInto('events').values({ id, type, data, user_id: userId, created_at: createdAt, http_request: httpRequest }).returning('sequence'));

export async function recordEvent(db: Db, now: number, type: EventType, data: object, userId: string | null): Promise<void> {
  const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
  const id = newId('evt', now);
  const plan = await planDeliveries(db, type, userId ?? id, postgres);
  const event = { sequence: 0, id, type, userId };
  const origin = originOf(db);
  const values = {
    id, type, data: JSON.stringify(data), user_id: userId, created_at: now,
    http_request: origin ? JSON.stringify({ client_ip: origin.clientIp, user_agent: origin.userAgent }) : null,
  };
  if (postgres) {
    const lock = userId === null ? sql`select 1` : sql`select pg_advisory_xact_lock(${USER_EVENTS_LOCK_CLASS}, hashtext(${userId}))`;
    await sql`with xid as (select pg_current_xact_id()), lock as (${lock}),
      ev as (
        insert into events (id, type, data, user_id, created_at, http_request)
        select ${values.id}, ${values.type}, ${values.data}, ${values.user_id}, ${values.created_at}, ${values.http_request}
        from xid, lock
        returning sequence)
      ${plan.length ? queuedWith(plan, event, now) : sql`select sequence from ev`}`.execute(db);
    return;
  }
  const { rows } = await db.executeQuery<{ sequence: number }>(insertEvent(db, values.id, values.type, values.data, values.user_id, values.created_at, values.http_request));
  const sequence = rows[0]!.sequence;
  await queueDeliveries(db, plan, { ...event, sequence: Number(sequence) }, now);
  if (plan.length) announceEvents();
}
