import { sql } from 'kysely';
import { EVENTS_CHANNEL } from '../events/signal.js';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import type { WebhookMessageTable } from '../storage/schema.js';
import { wantsEvent } from './endpoints.js';

export interface RecordedEvent {
  sequence: number;
  id: string;
  type: string;
  userId: string | null;
}

/** Where an event will go: each endpoint that wants it, and whether its message heads its chain there. */
export type DeliveryPlan = { endpointId: string; isHead: boolean }[];

/**
 * Plans one message per enabled endpoint that wants the event; queueDeliveries
 * writes them in the event's own transaction, so an event committed is an event
 * queued for every endpoint. A disabled endpoint gets none; `recover` fills the
 * gap once it is back.
 */
export async function planDeliveries(trx: Db, type: string, orderKey: string, postgres: boolean): Promise<DeliveryPlan> {
  // One statement: the enabled endpoints, and whether the event's chain at each
  // already has a message waiting (then the new one queues behind it; otherwise
  // it heads the chain). On PostgreSQL the endpoints are key-share locked (one being
  // deleted meanwhile is skipped, or its delete waits for this commit, instead of
  // failing this transaction on the foreign key) and the waiting message is share
  // locked: a worker finishing it at this moment either commits first (it is then
  // seen done) or waits for this commit (and then sees the new message when it
  // picks the chain's next head). Either way no chain is left without a head.
  // (Two event writers for one chain may both find it empty and both head it; the
  // claim still sends the earlier first, see queue.ts.)
  const { rows } = postgres
    ? await sql<{ id: string; event_types: string; waiting: string | null }>`
        select e.id, e.event_types, w.id as waiting from webhook_endpoints e
        left join lateral (
          select m.id from webhook_messages m
          where m.endpoint_id = e.id and m.order_key = ${orderKey} and m.status = 'pending'
          limit 1 for share of m) w on true
        where e.enabled = 1
        for key share of e`.execute(trx)
    : await sql<{ id: string; event_types: string; waiting: number }>`
        select e.id, e.event_types, exists (
          select 1 from webhook_messages m
          where m.endpoint_id = e.id and m.order_key = ${orderKey} and m.status = 'pending') as waiting
        from webhook_endpoints e where e.enabled = 1`.execute(trx);
  return rows.filter((ep) => wantsEvent(ep.event_types, type))
    .map((ep) => ({ endpointId: ep.id, isHead: !ep.waiting }));
}

/** Writes the planned messages (SQLite; PostgreSQL folds them into the event's statement, see queuedWith). */
export async function queueDeliveries(trx: Db, plan: DeliveryPlan, e: RecordedEvent, now: number): Promise<void> {
  if (plan.length) await trx.insertInto('webhook_messages').values(plan.map((p) => newMessage(p.endpointId, e, now, p.isHead))).execute();
}

/**
 * PostgreSQL: the tail of recordEvent's statement after its `ev` (the inserted
 * event) CTE: the planned messages with the event's sequence, and the NOTIFY every
 * instance hears once this commits.
 */
export function queuedWith(plan: DeliveryPlan, e: Omit<RecordedEvent, 'sequence'>, now: number) {
  const rows = plan.map((p) => sql`(cast(${newId('msg', now)} as text), cast(${p.endpointId} as text), cast(${p.isHead ? 1 : 0} as integer))`);
  return sql`, queued as (
      insert into webhook_messages (id, endpoint_id, event_sequence, event_type, order_key, status, is_head, attempts,
        next_attempt_at, lease_owner, lease_until, last_attempt_at, last_status_code, created_at, updated_at)
      select v.column1, v.column2, ev.sequence, ${e.type}, ${e.userId ?? e.id}, 'pending', v.column3, 0,
        ${now}, null, 0, null, null, ${now}, ${now}
      from ev, (values ${sql.join(rows)}) as v
      returning 1)
    select pg_notify(${EVENTS_CHANNEL}, '') from queued limit 1`;
}

export function newMessage(endpointId: string, e: RecordedEvent, now: number, isHead: boolean): WebhookMessageTable {
  return {
    id: newId('msg', now),
    endpoint_id: endpointId,
    event_sequence: e.sequence,
    event_type: e.type,
    // One user's events go out in order; events about no user have no order to keep.
    order_key: e.userId ?? e.id,
    status: 'pending',
    is_head: isHead ? 1 : 0,
    attempts: 0,
    next_attempt_at: now,
    lease_owner: null,
    lease_until: 0,
    last_attempt_at: null,
    last_status_code: null,
    created_at: now,
    updated_at: now,
  };
}
