import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import { eventBody } from '../events/feed.js';
import type { Db, Dialect } from '../storage/database.js';
import type { WebhookEndpointTable } from '../storage/schema.js';
import type { AttemptResult, Deliverer } from './delivery.js';
import { signingSecrets } from './endpoints.js';
import {
  claimDue, endpointsById, repairHeads, settle, type ClaimedDelivery, type ClaimedMessage, type EndpointChange, type Outcome,
} from './queue.js';
import { DISABLE_AFTER_FAILING_MS, retryDelay } from './schedule.js';
import { signedHeaders } from './signing.js';

export interface WorkerOptions {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  logger: Logger;
  deliverer: Deliverer;
  instanceId: string;
  encryptionKey: string | undefined;
  timeoutMs: number;
  /** Attempts in flight at once. */
  concurrency: number;
  /** How often the queue is looked at when nothing announced new events (ms). */
  pollMs?: number;
  random?: () => number;
}

/** A failing endpoint gets this many attempts in flight, so a dead receiver cannot hold every slot. */
const FAILING_ENDPOINT_SLOTS = 2;
/** On stop, attempts in flight get this long to finish before they are cut off (and sent again later). */
const STOP_GRACE_MS = 2_000;
/** How long a worker uses an endpoint row before reading it again (ms). */
const ENDPOINT_CACHE_MS = 1_000;
/** How many steps an outcome that cannot be written is kept before it is dropped. */
const SETTLE_TRIES = 3;
/** How long finished attempts are gathered before they are settled together (ms). */
const SETTLE_GATHER_MS = 2;
/** How often a worker checks that every chain with pending messages has a head (a safety net; see queue.ts). */
const REPAIR_EVERY_MS = 60_000;

/**
 * Delivers webhook messages: claims due messages under a lease, POSTs them
 * signed, and settles the outcomes in batches. Several workers (one per
 * instance) share one queue; a worker that dies loses its leases after
 * `timeout + LEASE_MARGIN_MS`, and whoever claims next sends again with the
 * same svix-id: delivery is at least once.
 */
export class DeliveryWorker {
  static readonly LEASE_MARGIN_MS = 5_000;
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly inflight = new Map<string, AbortController>();
  private readonly inflightPerEndpoint = new Map<string, number>();
  /** Endpoints whose last answer was a failure: they get FAILING_ENDPOINT_SLOTS. */
  private readonly failing = new Set<string>();
  private outcomes: Outcome[] = [];
  private endpointChanges = new Map<string, EndpointChange>();
  private readonly buckets = new Map<string, { tokens: number; at: number; rate: number }>();
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  /** Queue steps failed in a row (the database is away): polls back off and the log is not flooded. */
  private failures = 0;
  private failuresInARow = 0;
  private readonly settleTries = new WeakMap<Outcome, number>();
  private lastRepair = Date.now();
  private soon: NodeJS.Timeout | undefined;
  private readonly endpointCache = new Map<string, { row: WebhookEndpointTable; at: number }>();

  constructor(private readonly o: WorkerOptions) {
    this.pollMs = o.pollMs ?? 250;
  }

  start(): void {
    this.running = true;
    this.poke();
  }

  /**
   * An attempt finished: look at the queue shortly, so that answers arriving
   * together are settled in one transaction (and their slots refilled in one claim).
   */
  private pokeSoon(): void {
    if (this.soon || !this.running) return;
    this.soon = setTimeout(() => {
      this.soon = undefined;
      this.poke();
    }, SETTLE_GATHER_MS);
  }

  /** Look at the queue now (new events, or an attempt finished). */
  poke(): void {
    if (!this.running) return;
    if (this.busy) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.busy = this.tick().finally(() => {
      this.busy = undefined;
      if (!this.running) return;
      const now = this.again && this.failures === 0;
      this.again = false;
      if (now) setImmediate(() => this.poke());
      else this.timer = setTimeout(() => this.poke(), Math.min(this.pollMs * 2 ** this.failures, 5_000));
    });
  }

  /**
   * Stops claiming, gives attempts in flight a short grace, cuts off the rest
   * (their messages go back untried, to be sent again) and writes what is pending.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.soon);
    await this.busy;
    const deadline = Date.now() + STOP_GRACE_MS;
    while (this.inflight.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.inflight.values()) c.abort();
    while (this.inflight.size) await new Promise((r) => setTimeout(r, 5));
    await this.flush().catch((err) => this.o.logger.warn({ err }, 'webhook outcomes not saved at shutdown; leases will lapse'));
  }

  private async tick(): Promise<void> {
    try {
      await this.flush();
      this.failures = 0;
      this.failuresInARow = 0;
      if (Date.now() - this.lastRepair >= REPAIR_EVERY_MS) {
        this.lastRepair = Date.now();
        const repaired = await repairHeads(this.o.db, this.o.clock.now());
        if (repaired > 0) this.o.logger.warn({ repaired }, 'webhook delivery: gave headless chains their next message');
      }
      const free = this.o.concurrency - this.inflight.size;
      if (free <= 0 || !this.running) return;
      const now = this.o.clock.now();
      const leaseUntil = now + this.o.timeoutMs + DeliveryWorker.LEASE_MARGIN_MS;
      const claimed = await claimDue(this.o.db, this.o.dialect, {
        owner: this.owner, now, leaseUntil, limit: free, skipEndpoints: this.endpointsToSkip(now),
      });
      if (claimed.length === 0) return;
      if (claimed.length === free) this.again = true;
      await this.dispatch(claimed, now, leaseUntil);
    } catch (err) {
      this.failures = Math.min(this.failures + 1, 10);
      this.failuresInARow += 1;
      // The first failure of a run, then about once a minute while it lasts (polls are 5 s apart by then).
      if (this.failuresInARow % 12 === 1) {
        this.o.logger.warn({ err, failures_in_a_row: this.failuresInARow }, 'webhook delivery: queue step failed; retrying with back-off');
      }
    }
  }

  /** Writes the outcomes gathered so far. A batch that fails is tried one outcome at a time, so one bad row cannot stop the queue. */
  private async flush(): Promise<void> {
    if (this.outcomes.length === 0 && this.endpointChanges.size === 0) return;
    const outcomes = this.outcomes;
    const changes = this.endpointChanges;
    this.outcomes = [];
    this.endpointChanges = new Map();
    const now = this.o.clock.now();
    try {
      await settle(this.o.db, this.owner, now, outcomes, changes);
    } catch (batchErr) {
      const unsaved: { outcome: Outcome; err: unknown }[] = [];
      for (const outcome of outcomes) {
        try {
          await settle(this.o.db, this.owner, now, [outcome], new Map());
        } catch (err) {
          unsaved.push({ outcome, err });
        }
      }
      try {
        await settle(this.o.db, this.owner, now, [], changes);
      } catch {
        for (const [id, c] of changes) if (!this.endpointChanges.has(id)) this.endpointChanges.set(id, c);
      }
      // An outcome that could not be written is kept for a few more steps (the database
      // may be away for a moment), then dropped: its lease lapses and the message is
      // sent again. One row that can never be written must not stop the queue.
      const kept: Outcome[] = [];
      for (const { outcome, err } of unsaved) {
        const tries = (this.settleTries.get(outcome) ?? 0) + 1;
        this.settleTries.set(outcome, tries);
        if (tries < SETTLE_TRIES) kept.push(outcome);
        else this.o.logger.error({ err, message_id: outcome.message.id }, 'webhook delivery: could not record an outcome');
      }
      this.outcomes = [...kept, ...this.outcomes];
      if (unsaved.length === outcomes.length && outcomes.length > 0) throw batchErr;
    }
  }

  /** Endpoints not to claim for now: their share of slots is in use, or their rate limit is spent. */
  private endpointsToSkip(now: number): string[] {
    const skip: string[] = [];
    const share = Math.max(1, Math.floor(this.o.concurrency / 2));
    for (const [id, n] of this.inflightPerEndpoint) {
      if (n >= (this.failing.has(id) ? FAILING_ENDPOINT_SLOTS : share)) skip.push(id);
    }
    for (const [id, b] of this.buckets) {
      if (this.refill(b, now) < 1) skip.push(id);
      else if (b.tokens >= b.rate && now - b.at > 60_000) this.buckets.delete(id); // idle: forget it
    }
    return skip;
  }

  /**
   * The claimed messages' endpoint rows. A cached row serves while the claim says
   * the endpoint has not changed since (every change moves its updated_at) and it
   * is less than a second old (other instances' failure bookkeeping).
   */
  private async endpoints(claimed: ClaimedDelivery[]): Promise<Map<string, WebhookEndpointTable>> {
    const fresh = Date.now() - ENDPOINT_CACHE_MS;
    const current = new Map(claimed.map((m) => [m.endpoint_id, m.endpoint_updated_at]));
    const ids = [...current.keys()];
    const missing = ids.filter((id) => {
      const hit = this.endpointCache.get(id);
      return !hit || hit.at < fresh || hit.row.updated_at !== current.get(id);
    });
    if (missing.length) {
      const rows = await endpointsById(this.o.db, missing);
      for (const id of missing) {
        const row = rows.get(id);
        if (row) this.endpointCache.set(id, { row, at: Date.now() });
        else this.endpointCache.delete(id);
      }
    }
    return new Map(ids.flatMap((id) => {
      const hit = this.endpointCache.get(id);
      return hit ? [[id, hit.row] as const] : [];
    }));
  }

  private async dispatch(claimed: ClaimedDelivery[], now: number, leaseUntil: number): Promise<void> {
    const endpoints = await this.endpoints(claimed);
    for (const m of claimed) {
      const endpoint = endpoints.get(m.endpoint_id);
      const event = m.event_data === null ? undefined : {
        sequence: m.event_sequence, id: m.event_id!, type: m.event_type!, data: m.event_data, user_id: null,
        created_at: m.event_created_at!, http_request: m.event_http_request,
      };
      if (!event || !endpoint) {
        // The event aged out of retention before it could be sent: nothing left to send.
        this.outcomes.push({ kind: 'failed', message: m, attempt: {
          at: now, statusCode: null, durationMs: 0, response: '', error: 'the event is no longer retained' } });
        continue;
      }
      if (endpoint.failing_since === null) this.failing.delete(endpoint.id);
      else this.failing.add(endpoint.id);
      const wait = this.rateLimitWait(endpoint, now);
      if (wait > 0) {
        this.outcomes.push({ kind: 'released', message: m, nextAttemptAt: now + wait });
        continue;
      }
      this.send(m, endpoint, eventBody(event, this.o.instanceId), now, leaseUntil);
    }
  }

  private send(m: ClaimedMessage, endpoint: WebhookEndpointTable, body: string, now: number, leaseUntil: number): void {
    let headers: Record<string, string>;
    try {
      headers = signedHeaders(m.id, now, body, signingSecrets(endpoint, now, this.o.encryptionKey));
    } catch (err) {
      // A secret that cannot be unsealed (wrong LATCHKEY_ENCRYPTION_KEY): retry later, loudly.
      this.o.logger.error({ err, endpoint_id: endpoint.id }, 'webhook delivery: cannot read the endpoint secret');
      this.outcomes.push({ kind: 'released', message: m, nextAttemptAt: now + 60_000 });
      return;
    }
    const started = this.o.clock.now();
    // The attempt ends a second before the lease does, so no other worker sends the
    // message while this one still might. (Only a very slow database leaves less.)
    const timeoutMs = leaseUntil - 1_000 - started;
    if (timeoutMs < 1_000) {
      this.outcomes.push({ kind: 'released', message: m, nextAttemptAt: started });
      return;
    }
    const controller = new AbortController();
    this.inflight.set(m.id, controller);
    this.inflightPerEndpoint.set(endpoint.id, (this.inflightPerEndpoint.get(endpoint.id) ?? 0) + 1);
    void this.o.deliverer.post(endpoint.url, headers, body, { signal: controller.signal, timeoutMs })
      .catch((err: unknown): AttemptResult => ({ statusCode: null, durationMs: 0, response: '', error: String(err) }))
      .then((result) => {
        this.inflight.delete(m.id);
        const left = (this.inflightPerEndpoint.get(endpoint.id) ?? 1) - 1;
        if (left > 0) this.inflightPerEndpoint.set(endpoint.id, left);
        else this.inflightPerEndpoint.delete(endpoint.id);
        this.outcomes.push(controller.signal.aborted
          ? { kind: 'released', message: m, nextAttemptAt: this.o.clock.now() }
          : this.judge(m, endpoint, result, started));
        this.pokeSoon();
      });
  }

  /** What an answer means for the message and its endpoint. */
  private judge(m: ClaimedMessage, endpoint: WebhookEndpointTable, result: AttemptResult, at: number): Outcome {
    const attempt = { ...result, at };
    const now = this.o.clock.now();
    const code = result.statusCode;
    if (code !== null && code >= 200 && code < 300) {
      this.failing.delete(endpoint.id);
      if (endpoint.failing_since !== null) this.changeEndpoint(endpoint, { failingSince: null });
      return { kind: 'delivered', message: m, attempt };
    }
    this.failing.add(endpoint.id);
    if (code === 410) {
      this.changeEndpoint(endpoint, { disable: { reason: 'gone', detail: 'the endpoint answered 410 Gone' } });
      return { kind: 'failed', message: m, attempt };
    }
    if (endpoint.failing_since === null) this.changeEndpoint(endpoint, { failingSince: now });
    else if (now - endpoint.failing_since >= DISABLE_AFTER_FAILING_MS) {
      this.changeEndpoint(endpoint, { disable: { reason: 'failing', detail: 'every attempt failed for 5 days' } });
    }
    const delay = retryDelay(m.attempts + 1, this.o.random);
    if (delay === null) return { kind: 'failed', message: m, attempt };
    return { kind: 'retry', message: m, attempt, nextAttemptAt: now + delay };
  }

  private changeEndpoint(endpoint: WebhookEndpointTable, change: EndpointChange): void {
    const prev = this.endpointChanges.get(endpoint.id);
    if (prev?.disable) return;
    this.endpointChanges.set(endpoint.id, change);
    // Later answers in this batch see the new state and do not repeat the write.
    if (change.failingSince !== undefined) endpoint.failing_since = change.failingSince;
  }

  private refill(b: { tokens: number; at: number; rate: number }, now: number): number {
    b.tokens = Math.min(b.rate, b.tokens + ((now - b.at) * b.rate) / 1000);
    b.at = now;
    return b.tokens;
  }

  /** Per-endpoint token bucket (per instance): ms to wait before the next send, 0 to send now. */
  private rateLimitWait(endpoint: WebhookEndpointTable, now: number): number {
    const rate = endpoint.rate_limit;
    if (!rate) {
      this.buckets.delete(endpoint.id);
      return 0;
    }
    let b = this.buckets.get(endpoint.id);
    if (!b || b.rate !== rate) {
      b = { tokens: rate, at: now, rate };
      this.buckets.set(endpoint.id, b);
    }
    if (this.refill(b, now) >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / rate);
  }
}
