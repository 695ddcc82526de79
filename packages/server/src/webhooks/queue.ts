import { sql } from 'kysely';
import { recordAudit } from '../audit/audit-log.js';
import type { StoredEvent } from '../events/feed.js';
import { newId } from '../ids/ids.js';
import type { Db, Dialect } from '../storage/database.js';
import type { WebhookEndpointTable } from '../storage/schema.js';
import type { AttemptResult } from './delivery.js';

/** A message a worker holds the lease of. */
export interface ClaimedMessage {
  id: string;
  endpoint_id: string;
  event_sequence: number;
  attempts: number;
}

/**
 * Leases up to `limit` due messages to `owner` until `leaseUntil`. A message is
 * due when it is pending, its time has come, nobody holds a live lease on it,
 * its endpoint is enabled, and no earlier message of the same endpoint and
 * user is still pending: that last rule is what keeps one user's events in
 * order while other users' events flow. On PostgreSQL, FOR UPDATE SKIP LOCKED
 * lets instances claim side by side without waiting for or doubling each other.
 */
export async function claimDue(db: Db, dialect: Dialect, q: { owner: string; now: number; leaseUntil: number; limit: number }):
  Promise<ClaimedMessage[]> {
  const lock = dialect === 'postgres' ? sql`for update of m skip locked` : sql``;
  const { rows } = await sql<ClaimedMessage>`
    update webhook_messages set lease_owner = ${q.owner}, lease_until = ${q.leaseUntil}
    where id in (
      select m.id from webhook_messages m
      join webhook_endpoints e on e.id = m.endpoint_id and e.enabled = 1
      where m.status = 'pending' and m.next_attempt_at <= ${q.now} and m.lease_until <= ${q.now}
        and not exists (
          select 1 from webhook_messages p
          where p.status = 'pending' and p.endpoint_id = m.endpoint_id and p.order_key = m.order_key
            and p.event_sequence < m.event_sequence)
      order by m.next_attempt_at, m.event_sequence
      limit ${q.limit}
      ${lock})
    returning id, endpoint_id, event_sequence, attempts`.execute(db);
  return rows.map((r) => ({ ...r, event_sequence: Number(r.event_sequence) }));
}

export async function eventsBySequence(db: Db, sequences: number[]): Promise<Map<number, StoredEvent>> {
  const rows = await db.selectFrom('events').selectAll().where('sequence', 'in', sequences).execute();
  return new Map(rows.map((r) => [Number(r.sequence), { ...r, sequence: Number(r.sequence) }]));
}

export async function endpointsById(db: Db, ids: string[]): Promise<Map<string, WebhookEndpointTable>> {
  const rows = await db.selectFrom('webhook_endpoints').selectAll().where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [r.id, r]));
}

/** What became of one claimed message. */
export type Outcome =
  | { kind: 'delivered'; message: ClaimedMessage; attempt: AttemptRecord }
  | { kind: 'retry'; message: ClaimedMessage; attempt: AttemptRecord; nextAttemptAt: number }
  | { kind: 'failed'; message: ClaimedMessage; attempt: AttemptRecord }
  /** Put back untried (rate limit, shutdown, endpoint gone): not an attempt. */
  | { kind: 'released'; message: ClaimedMessage; nextAttemptAt: number };

export interface AttemptRecord extends AttemptResult {
  at: number;
}

/** Changes to endpoints that delivery results call for. */
export interface EndpointChange {
  failingSince?: number | null;
  disable?: { reason: 'gone' | 'failing'; detail: string };
}

const CHUNK = 100;
const chunks = <T>(xs: T[]) => Array.from({ length: Math.ceil(xs.length / CHUNK) }, (_, i) => xs.slice(i * CHUNK, (i + 1) * CHUNK));

/**
 * Writes a batch of outcomes in one transaction: the attempts, the messages'
 * new states and the endpoints' failure bookkeeping. A message whose lease this
 * worker has lost (another worker took it over) is left to that worker; its
 * attempt is still recorded.
 */
export async function settle(db: Db, owner: string, now: number, outcomes: Outcome[], endpoints: Map<string, EndpointChange>):
  Promise<void> {
  await db.transaction().execute(async (trx) => {
    const ids = outcomes.map((o) => o.message.id);
    // Messages deleted meanwhile (their endpoint was deleted) have nothing left to update.
    const live = new Set<string>();
    for (const part of chunks(ids)) {
      for (const r of await trx.selectFrom('webhook_messages').select('id').where('id', 'in', part).execute()) live.add(r.id);
    }
    const mine = outcomes.filter((o) => live.has(o.message.id));

    const attempts = mine.flatMap((o) => (o.kind === 'released' ? [] : [{
      id: newId('atmpt', o.attempt.at),
      message_id: o.message.id,
      endpoint_id: o.message.endpoint_id,
      attempted_at: o.attempt.at,
      status: o.kind === 'delivered' ? 'succeeded' as const : 'failed' as const,
      status_code: o.attempt.statusCode,
      duration_ms: o.attempt.durationMs,
      response: o.attempt.response,
      error: o.attempt.error,
      trigger: 'scheduled',
    }]));
    for (const part of chunks(attempts)) await trx.insertInto('webhook_attempts').values(part).execute();

    // Successes share one statement per status code (nearly always one or two).
    const delivered = new Map<number, string[]>();
    for (const o of mine) {
      if (o.kind !== 'delivered') continue;
      const code = o.attempt.statusCode ?? 200;
      delivered.set(code, [...(delivered.get(code) ?? []), o.message.id]);
    }
    for (const [code, group] of delivered) {
      for (const part of chunks(group)) {
        await trx.updateTable('webhook_messages')
          .set((eb) => ({
            status: 'succeeded', attempts: eb('attempts', '+', 1), last_attempt_at: now, last_status_code: code,
            lease_owner: null, lease_until: 0, updated_at: now,
          }))
          .where('id', 'in', part).where('lease_owner', '=', owner).execute();
      }
    }
    for (const o of mine) {
      if (o.kind === 'delivered') continue;
      const base = trx.updateTable('webhook_messages').where('id', '=', o.message.id).where('lease_owner', '=', owner);
      if (o.kind === 'released') {
        await base.set({ lease_owner: null, lease_until: 0, next_attempt_at: o.nextAttemptAt }).execute();
        continue;
      }
      await base.set({
        status: o.kind === 'failed' ? 'failed' : 'pending',
        attempts: o.message.attempts + 1,
        next_attempt_at: o.kind === 'retry' ? o.nextAttemptAt : o.attempt.at,
        last_attempt_at: o.attempt.at,
        last_status_code: o.attempt.statusCode,
        lease_owner: null,
        lease_until: 0,
        updated_at: now,
      }).execute();
    }
    for (const [id, change] of endpoints) await applyEndpointChange(trx, id, change, now);
  });
}

async function applyEndpointChange(trx: Db, id: string, change: EndpointChange, now: number): Promise<void> {
  if (change.disable) {
    const res = await trx.updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: change.disable.reason, disabled_at: now, updated_at: now })
      .where('id', '=', id).where('enabled', '=', 1).executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) {
      await recordAudit(trx, now, {
        type: 'webhook_endpoint.disabled', actor: { type: 'system' }, target: { type: 'webhook_endpoint', id },
        data: { reason: change.disable.reason, detail: change.disable.detail },
      });
    }
  } else if (change.failingSince === null) {
    await trx.updateTable('webhook_endpoints').set({ failing_since: null })
      .where('id', '=', id).where('failing_since', 'is not', null).execute();
  } else if (change.failingSince !== undefined) {
    await trx.updateTable('webhook_endpoints').set({ failing_since: change.failingSince })
      .where('id', '=', id).where('failing_since', 'is', null).execute();
  }
}
