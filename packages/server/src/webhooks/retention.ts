import { DELETE_BATCH, deleteInBatches } from '../storage/batched-delete.js';
import type { Db } from '../storage/database.js';

const DAY_MS = 24 * 3_600_000;

export interface RetentionPolicy {
  /** Events (the feed, and the payloads of messages). */
  eventDays: number;
  /** Delivered messages and every attempt. */
  webhookDays: number;
}

/**
 * Deletes what has aged out, a batch at a time so no statement holds locks for
 * long: attempts and delivered messages after `webhookDays`; events, and failed
 * messages (which could only be replayed while their event exists), after
 * `eventDays`. An event a message is still waiting to send is kept.
 */
export async function applyRetention(db: Db, now: number, p: RetentionPolicy): Promise<{ events: number; messages: number; attempts: number }> {
  const webhookCutoff = now - p.webhookDays * DAY_MS;
  const eventCutoff = now - p.eventDays * DAY_MS;
  const attempts = await deleteInBatches(() => db.deleteFrom('webhook_attempts').where('id', 'in', (eb) =>
    eb.selectFrom('webhook_attempts').select('id').where('attempted_at', '<', webhookCutoff).limit(DELETE_BATCH)).executeTakeFirst());
  const delivered = await deleteInBatches(() => db.deleteFrom('webhook_messages').where('id', 'in', (eb) =>
    eb.selectFrom('webhook_messages').select('id').where('status', '=', 'succeeded').where('updated_at', '<', webhookCutoff)
      .limit(DELETE_BATCH)).executeTakeFirst());
  const failed = await deleteInBatches(() => db.deleteFrom('webhook_messages').where('id', 'in', (eb) =>
    eb.selectFrom('webhook_messages').select('id').where('status', '=', 'failed').where('updated_at', '<', eventCutoff)
      .limit(DELETE_BATCH)).executeTakeFirst());
  const events = await deleteInBatches(() => db.deleteFrom('events').where('sequence', 'in', (eb) =>
    eb.selectFrom('events').select('sequence').where('created_at', '<', eventCutoff)
      .where((w) => w.not(w.exists(w.selectFrom('webhook_messages').select('id')
        .where('status', '=', 'pending').whereRef('webhook_messages.event_sequence', '=', 'events.sequence'))))
      .limit(DELETE_BATCH)).executeTakeFirst());
  return { events, messages: delivered + failed, attempts };
}
