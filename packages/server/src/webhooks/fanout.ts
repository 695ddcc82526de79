import { PostgresAdapter } from 'kysely';
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

/**
 * One message per enabled endpoint that wants the event, written in the event's
 * own transaction: an event committed is an event queued for every endpoint.
 * A disabled endpoint gets none; `recover` fills the gap once it is back.
 * Returns how many messages were queued.
 */
export async function enqueueDeliveries(trx: Db, e: RecordedEvent, now: number): Promise<number> {
  const postgres = trx.getExecutor().adapter instanceof PostgresAdapter;
  let query = trx.selectFrom('webhook_endpoints').select(['id', 'event_types']).where('enabled', '=', 1);
  // On PostgreSQL an endpoint being deleted meanwhile is skipped (or its delete waits
  // for this commit) instead of failing this transaction on the foreign key.
  if (postgres) query = query.forKeyShare();
  const endpoints = (await query.execute()).filter((ep) => wantsEvent(ep.event_types, e.type));
  const orderKey = e.userId ?? e.id;
  const rows: WebhookMessageTable[] = [];
  for (const ep of endpoints) rows.push(newMessage(ep.id, e, now, !(await chainWaiting(trx, ep.id, orderKey, postgres))));
  if (rows.length) await trx.insertInto('webhook_messages').values(rows).execute();
  return rows.length;
}

/**
 * Whether the chain (endpoint, user) has a message still to send; if so the new
 * one queues behind it, otherwise it heads the chain. On PostgreSQL the waiting
 * message is share-locked: a worker finishing it at this moment either commits
 * first (we then see it done) or waits for this commit (and then sees the new
 * message when it picks the chain's next head). Either way no chain is left
 * without a head.
 */
async function chainWaiting(trx: Db, endpointId: string, orderKey: string, postgres: boolean): Promise<boolean> {
  let q = trx.selectFrom('webhook_messages').select('id')
    .where('endpoint_id', '=', endpointId).where('order_key', '=', orderKey).where('status', '=', 'pending').limit(1);
  if (postgres) q = q.forShare();
  return (await q.executeTakeFirst()) !== undefined;
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
