import { sql } from 'kysely';
import { recordAudit } from '../audit/audit-log.js';
import { newId } from '../ids/ids.js';
import type { Db, Dialect } from '../storage/database.js';
import type { WebhookEndpointTable } from '../storage/schema.js';
import type { AttemptResult } from './delivery.js';

/** A message a worker holds the lease of. */
export interface ClaimedMessage {
  id: string;
  endpoint_id: string;
  event_sequence: number;
  order_key: string;
  attempts: number;
}

/** A claimed message with its event (null fields: the event is no longer retained). */
export interface ClaimedDelivery extends ClaimedMessage {
  event_id: string | null;
  event_type: string | null;
  event_data: string | null;
  event_created_at: number | null;
  event_http_request: string | null;
  /** Lets the worker tell whether its copy of the endpoint row is current. */
  endpoint_updated_at: number | null;
}

/**
 * Leases up to `limit` due messages to `owner` until `leaseUntil`. Only the head
 * of a chain (one endpoint's messages about one user) can be due, which is what
 * keeps one user's events in order while other users' events flow. The head is
 * also checked to be its chain's earliest pending message (one index probe per
 * candidate), so a stray second head (after a replay) cannot overtake.
 * On PostgreSQL, FOR UPDATE SKIP LOCKED lets instances claim side by side without
 * waiting for or doubling each other. `skipEndpoints` are left alone this time
 * (their share of slots is taken, or their rate limit is spent).
 */
export async function claimDue(db: Db, dialect: Dialect,
  q: { owner: string; now: number; leaseUntil: number; limit: number; skipEndpoints: string[] }): Promise<ClaimedDelivery[]> {
  const postgres = dialect === 'postgres';
  // The plan must not depend on statistics: name the queue index on SQLite.
  const from = postgres ? sql`webhook_messages m` : sql`webhook_messages m indexed by webhook_messages_due`;
  const lock = postgres ? sql`for update of m skip locked` : sql``;
  const skip = q.skipEndpoints.length ? sql`and m.endpoint_id not in (${sql.join(q.skipEndpoints)})` : sql``;
  const eventField = (column: string) =>
    sql`(select ev.${sql.raw(column)} from events ev where ev.sequence = webhook_messages.event_sequence)`;
  // The due heads are taken in index order first (and, on PostgreSQL, locked
  // there); only those few are then checked, so the cost does not grow with the
  // backlog whatever plan statistics would suggest.
  const { rows } = await sql<ClaimedDelivery>`
    update webhook_messages set lease_owner = ${q.owner}, lease_until = ${q.leaseUntil}
    where id in (
      select c.id from (
        select m.id, m.endpoint_id, m.order_key, m.event_sequence from ${from}
        where m.status = 'pending' and m.is_head = 1 and m.next_attempt_at <= ${q.now} and m.lease_until <= ${q.now} ${skip}
        order by m.next_attempt_at, m.event_sequence
        limit ${q.limit}
        ${lock}) c
      where exists (select 1 from webhook_endpoints e where e.id = c.endpoint_id and e.enabled = 1)
        and c.event_sequence = (
          select min(p.event_sequence) from webhook_messages p
          where p.status = 'pending' and p.endpoint_id = c.endpoint_id and p.order_key = c.order_key))
    returning id, endpoint_id, event_sequence, order_key, attempts,
      ${eventField('id')} as event_id, ${eventField('type')} as event_type,
      ${eventField('data')} as event_data, ${eventField('created_at')} as event_created_at,
      ${eventField('http_request')} as event_http_request,
      (select we.updated_at from webhook_endpoints we where we.id = webhook_messages.endpoint_id) as endpoint_updated_at`.execute(db);
  return rows.map((r) => ({
    ...r, event_sequence: Number(r.event_sequence), event_created_at: r.event_created_at === null ? null : Number(r.event_created_at),
    endpoint_updated_at: r.endpoint_updated_at === null ? null : Number(r.endpoint_updated_at),
  }));
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
    // (A message deleted meanwhile, with its endpoint, fails the attempts insert on its
    // foreign key; the worker then settles the batch one outcome at a time.)
    const attempts = outcomes.flatMap((o) => (o.kind === 'released' ? [] : [{
      id: newId('atmpt', o.attempt.at),
      message_id: o.message.id,
      endpoint_id: o.message.endpoint_id,
      attempted_at: o.attempt.at,
      status: o.kind === 'delivered' ? 'succeeded' as const : 'failed' as const,
      status_code: o.attempt.statusCode,
      duration_ms: o.attempt.durationMs,
      response: o.attempt.response,
      error: o.attempt.error,
    }]));
    for (const part of chunks(attempts)) await trx.insertInto('webhook_attempts').values(part).execute();

    // Successes share one statement per status code (nearly always one or two).
    const delivered = new Map<number, string[]>();
    for (const o of outcomes) {
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
    for (const o of outcomes) {
      if (o.kind === 'delivered') continue;
      // (A message failed meanwhile, by its endpoint being disabled, stays failed.)
      const base = trx.updateTable('webhook_messages').where('id', '=', o.message.id).where('lease_owner', '=', owner)
        .where('status', '=', 'pending');
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
    await promoteNext(trx, outcomes.filter((o) => o.kind === 'delivered' || o.kind === 'failed').map((o) => o.message));
    for (const [id, change] of endpoints) await applyEndpointChange(trx, id, change, now);
  });
}

/** Once a chain's head is done (delivered or finally failed), its earliest pending message heads it. */
async function promoteNext(trx: Db, done: ClaimedMessage[]): Promise<void> {
  const chains = [...new Map(done.map((m) => [`${m.endpoint_id}\n${m.order_key}`, m])).values()];
  for (const part of chunks(chains)) {
    const pairs = sql.join(part.map((m) => sql`(cast(${m.endpoint_id} as text), cast(${m.order_key} as text))`));
    await sql`update webhook_messages set is_head = 1 where is_head = 0 and id in (
      select (select p.id from webhook_messages p
              where p.status = 'pending' and p.endpoint_id = v.column1 and p.order_key = v.column2
              order by p.event_sequence limit 1)
      from (values ${pairs}) as v)`.execute(trx);
  }
}

/**
 * Makes each chain's earliest pending message its head. Used after replays and
 * recoveries (which make old messages pending again, perhaps behind a head that
 * now cannot be claimed, since claiming needs the chain's earliest), and now
 * and then by the worker as a safety net. A head already claimed (leased) keeps
 * its place: it is on its way.
 */
export async function repairHeads(db: Db, now: number, endpointId?: string): Promise<number> {
  const only = endpointId === undefined ? sql`` : sql`and m.endpoint_id = ${endpointId}`;
  await sql`update webhook_messages set is_head = 0 where id in (
    select m.id from webhook_messages m
    where m.status = 'pending' and m.is_head = 1 and m.lease_until <= ${now} ${only}
      and exists (
        select 1 from webhook_messages p
        where p.status = 'pending' and p.endpoint_id = m.endpoint_id and p.order_key = m.order_key
          and p.event_sequence < m.event_sequence))`.execute(db);
  const { numAffectedRows } = await sql`update webhook_messages set is_head = 1 where id in (
    select m.id from webhook_messages m
    where m.status = 'pending' and m.is_head = 0 ${only}
      and not exists (
        select 1 from webhook_messages p
        where p.status = 'pending' and p.endpoint_id = m.endpoint_id and p.order_key = m.order_key
          and (p.is_head = 1 or p.event_sequence < m.event_sequence)))`.execute(db);
  return Number(numAffectedRows ?? 0);
}

/**
 * A disabled endpoint's waiting messages fail (replay_failed or recover bring them
 * back once it is enabled again). One in flight is recorded as delivered if its
 * answer says so, and stays failed otherwise.
 */
export async function failWaitingMessages(trx: Db, endpointId: string, now: number): Promise<void> {
  await trx.updateTable('webhook_messages').set({ status: 'failed', updated_at: now })
    .where('endpoint_id', '=', endpointId).where('status', '=', 'pending').execute();
}

async function applyEndpointChange(trx: Db, id: string, change: EndpointChange, now: number): Promise<void> {
  if (change.disable) {
    const res = await trx.updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: change.disable.reason, disabled_at: now, updated_at: now })
      .where('id', '=', id).where('enabled', '=', 1).executeTakeFirst();
    if (Number(res.numUpdatedRows) > 0) {
      await failWaitingMessages(trx, id, now);
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
