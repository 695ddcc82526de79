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
 */
export async function enqueueDeliveries(trx: Db, e: RecordedEvent, now: number): Promise<void> {
  const endpoints = await trx.selectFrom('webhook_endpoints').select(['id', 'event_types'])
    .where('enabled', '=', 1).execute();
  const rows = endpoints.filter((ep) => wantsEvent(ep.event_types, e.type)).map((ep) => newMessage(ep.id, e, now));
  if (rows.length) await trx.insertInto('webhook_messages').values(rows).execute();
}

export function newMessage(endpointId: string, e: RecordedEvent, now: number): WebhookMessageTable {
  return {
    id: newId('msg', now),
    endpoint_id: endpointId,
    event_sequence: e.sequence,
    event_type: e.type,
    // One user's events go out in order; events about no user have no order to keep.
    order_key: e.userId ?? e.id,
    status: 'pending',
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
