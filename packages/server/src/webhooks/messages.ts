import { recordAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import type { StoredEvent } from '../events/feed.js';
import type { Db } from '../storage/database.js';
import type { WebhookAttemptTable, WebhookMessageStatus, WebhookMessageTable } from '../storage/schema.js';
import { getEndpoint, endpointEventTypes } from './endpoints.js';
import { newMessage } from './fanout.js';
import { repairHeads } from './queue.js';

/** The operator's views of delivery: messages, attempts, replay and recovery. */

export async function listMessages(db: Db, endpointId: string, q: { status?: WebhookMessageStatus | undefined; before?: number | undefined; limit: number }):
  Promise<{ data: WebhookMessageTable[]; hasMore: boolean }> {
  await getEndpoint(db, endpointId);
  let query = db.selectFrom('webhook_messages').selectAll().where('endpoint_id', '=', endpointId);
  if (q.status) query = query.where('status', '=', q.status);
  if (q.before !== undefined) query = query.where('event_sequence', '<', q.before);
  const rows = await query.orderBy('event_sequence', 'desc').limit(q.limit + 1).execute();
  return { data: rows.slice(0, q.limit), hasMore: rows.length > q.limit };
}

export async function getMessage(db: Db, id: string): Promise<WebhookMessageTable> {
  const row = await db.selectFrom('webhook_messages').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('Webhook message');
  return row;
}

export async function messageDetail(db: Db, id: string):
  Promise<{ message: WebhookMessageTable; attempts: WebhookAttemptTable[]; event: StoredEvent | undefined }> {
  const message = await getMessage(db, id);
  const [attempts, event] = await Promise.all([
    db.selectFrom('webhook_attempts').selectAll().where('message_id', '=', id).orderBy('attempted_at').orderBy('id').execute(),
    db.selectFrom('events').selectAll().where('sequence', '=', message.event_sequence).executeTakeFirst(),
  ]);
  return { message, attempts, event: event && { ...event, sequence: Number(event.sequence) } };
}

/**
 * Sends a message again with the same id (svix-id), on a fresh retry schedule.
 * A message still pending is already on its way: it is only hurried.
 */
export async function replayMessage(db: Db, clock: Clock, id: string, actor: Actor): Promise<WebhookMessageTable> {
  return db.transaction().execute(async (trx) => {
    const m = await getMessage(trx, id);
    const now = clock.now();
    await recordAudit(trx, now, { type: 'webhook_message.replayed', actor, target: { type: 'webhook_message', id },
      data: { endpoint_id: m.endpoint_id, status_before: m.status } });
    const exists = await trx.selectFrom('events').select('sequence').where('sequence', '=', m.event_sequence).executeTakeFirst();
    if (!exists) {
      throw new LatchkeyError('unprocessable', 'event_expired', 'event no longer retained',
        'The event of this message is older than the event retention period and can no longer be sent.');
    }
    if (m.status === 'pending') {
      await trx.updateTable('webhook_messages').set({ next_attempt_at: now }).where('id', '=', id)
        .where('status', '=', 'pending').execute();
    } else {
      await trx.updateTable('webhook_messages')
        .set({ status: 'pending', is_head: 0, attempts: 0, next_attempt_at: now, lease_owner: null, lease_until: 0, updated_at: now })
        .where('id', '=', id).execute();
      await repairHeads(trx, now, m.endpoint_id);
    }
    return getMessage(trx, id);
  });
}

/** Puts every failed message of the endpoint created since `since` back on a fresh schedule. */
export async function replayFailed(db: Db, clock: Clock, endpointId: string, since: number, actor: Actor): Promise<number> {
  await getEndpoint(db, endpointId);
  return db.transaction().execute(async (trx) => {
    const now = clock.now();
    const res = await trx.updateTable('webhook_messages')
      .set({ status: 'pending', is_head: 0, attempts: 0, next_attempt_at: now, lease_owner: null, lease_until: 0, updated_at: now })
      .where('endpoint_id', '=', endpointId).where('status', '=', 'failed').where('created_at', '>=', since)
      .where((eb) => eb.exists(eb.selectFrom('events').select('sequence').whereRef('events.sequence', '=', 'webhook_messages.event_sequence')))
      .executeTakeFirst();
    const replayed = Number(res.numUpdatedRows);
    await repairHeads(trx, now, endpointId);
    await recordAudit(trx, now, { type: 'webhook_endpoint.failed_replayed', actor, target: { type: 'webhook_endpoint', id: endpointId },
      data: { since, replayed } });
    return replayed;
  });
}

const RECOVER_BATCH = 1000;

/**
 * Queues, for one endpoint, every retained event since `since` that it wants
 * but never got a message for (it was disabled, filtered differently, or
 * created later). Messages it already has are left alone: see replayFailed.
 */
export async function recoverMissing(db: Db, clock: Clock, endpointId: string, since: number, actor: Actor): Promise<number> {
  const endpoint = await getEndpoint(db, endpointId);
  const types = endpointEventTypes(endpoint.event_types);
  let after = 0;
  let queued = 0;
  for (;;) {
    const batch = await db.transaction().execute(async (trx) => {
      let q = trx.selectFrom('events').select(['sequence', 'id', 'type', 'user_id'])
        .where('created_at', '>=', since).where('sequence', '>', after)
        .where((eb) => eb.not(eb.exists(eb.selectFrom('webhook_messages').select('id')
          .where('endpoint_id', '=', endpointId).whereRef('webhook_messages.event_sequence', '=', 'events.sequence'))));
      if (types.length) q = q.where('type', 'in', types as string[]);
      const rows = await q.orderBy('sequence').limit(RECOVER_BATCH).execute();
      const now = clock.now();
      const messages = rows.map((e) => newMessage(endpointId, { sequence: Number(e.sequence), id: e.id, type: e.type, userId: e.user_id }, now, false));
      let inserted = 0;
      for (let i = 0; i < messages.length; i += 100) {
        const res = await trx.insertInto('webhook_messages').values(messages.slice(i, i + 100))
          .onConflict((oc) => oc.columns(['endpoint_id', 'event_sequence']).doNothing()).executeTakeFirst();
        inserted += Number(res.numInsertedOrUpdatedRows ?? 0);
      }
      await repairHeads(trx, now, endpointId);
      return { rows, inserted };
    });
    queued += batch.inserted;
    if (batch.rows.length < RECOVER_BATCH) break;
    after = Number(batch.rows.at(-1)!.sequence);
  }
  await recordAudit(db, clock.now(), { type: 'webhook_endpoint.recovered', actor, target: { type: 'webhook_endpoint', id: endpointId },
    data: { since, queued } });
  return queued;
}

export function messageJson(m: WebhookMessageTable) {
  return {
    object: 'webhook_message' as const,
    id: m.id,
    endpoint_id: m.endpoint_id,
    event_sequence: Number(m.event_sequence),
    event_type: m.event_type,
    status: m.status,
    attempts: m.attempts,
    next_attempt_at: m.status === 'pending' ? m.next_attempt_at : null,
    last_attempt_at: m.last_attempt_at,
    last_status_code: m.last_status_code,
    created_at: m.created_at,
    updated_at: m.updated_at,
  };
}

export function attemptJson(a: WebhookAttemptTable) {
  return {
    object: 'webhook_attempt' as const,
    id: a.id,
    message_id: a.message_id,
    endpoint_id: a.endpoint_id,
    attempted_at: a.attempted_at,
    status: a.status,
    status_code: a.status_code,
    duration_ms: a.duration_ms,
    response: a.response,
    error: a.error,
  };
}
