import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import { eventBody } from '../events/feed.js';
import type { Db, Dialect } from '../storage/database.js';
import type { WebhookEndpointTable } from '../storage/schema.js';
import type { Deliverer, AttemptResult } from './delivery.js';
import { signingSecrets } from './endpoints.js';
import {
  claimDue, endpointsById, eventsBySequence, settle, type ClaimedMessage, type EndpointChange, type Outcome,
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
  private outcomes: Outcome[] = [];
  private endpointChanges = new Map<string, EndpointChange>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly pollMs: number;
  /** Queue steps failed in a row (the database is away): polls back off and the log is not flooded. */
  private failures = 0;

  constructor(private readonly o: WorkerOptions) {
    this.pollMs = o.pollMs ?? 250;
  }

  start(): void {
    this.running = true;
    this.poke();
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
      if (this.again && this.failures === 0) {
        this.again = false;
        setImmediate(() => this.poke());
      } else {
        this.again = false;
        this.timer = setTimeout(() => this.poke(), Math.min(this.pollMs * 2 ** this.failures, 5_000));
      }
    });
  }

  /** Stops claiming, stops attempts in flight (their messages go back untried) and writes what is pending. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    await this.busy;
    for (const c of this.inflight.values()) c.abort();
    while (this.inflight.size) await new Promise((r) => setTimeout(r, 5));
    await this.flush().catch((err) => this.o.logger.warn({ err }, 'webhook outcomes not saved at shutdown; leases will lapse'));
  }

  private async tick(): Promise<void> {
    try {
      await this.flush();
      const free = this.o.concurrency - this.inflight.size;
      if (free <= 0 || !this.running) return;
      const now = this.o.clock.now();
      const claimed = await claimDue(this.o.db, this.o.dialect, {
        owner: this.owner, now, leaseUntil: now + this.o.timeoutMs + DeliveryWorker.LEASE_MARGIN_MS, limit: free,
      });
      this.failures = 0;
      if (claimed.length === 0) return;
      if (claimed.length === free) this.again = true;
      await this.dispatch(claimed, now);
    } catch (err) {
      this.failures = Math.min(this.failures + 1, 10);
      if (this.failures === 1) this.o.logger.warn({ err }, 'webhook delivery: queue step failed; retrying with back-off');
    }
  }

  private async flush(): Promise<void> {
    if (this.outcomes.length === 0 && this.endpointChanges.size === 0) return;
    const outcomes = this.outcomes;
    const changes = this.endpointChanges;
    this.outcomes = [];
    this.endpointChanges = new Map();
    try {
      await settle(this.o.db, this.owner, this.o.clock.now(), outcomes, changes);
    } catch (err) {
      // Keep them for the next step; the leases outlast a few retries.
      this.outcomes = [...outcomes, ...this.outcomes];
      for (const [id, c] of changes) if (!this.endpointChanges.has(id)) this.endpointChanges.set(id, c);
      throw err;
    }
  }

  private async dispatch(claimed: ClaimedMessage[], now: number): Promise<void> {
    const [events, endpoints] = await Promise.all([
      eventsBySequence(this.o.db, [...new Set(claimed.map((m) => m.event_sequence))]),
      endpointsById(this.o.db, [...new Set(claimed.map((m) => m.endpoint_id))]),
    ]);
    for (const m of claimed) {
      const event = events.get(m.event_sequence);
      const endpoint = endpoints.get(m.endpoint_id);
      if (!event || !endpoint) {
        // The event aged out of retention before it could be sent: nothing left to send.
        this.outcomes.push({ kind: 'failed', message: m, attempt: {
          at: now, statusCode: null, durationMs: 0, response: '', error: 'the event is no longer retained' } });
        continue;
      }
      const wait = this.rateLimitWait(endpoint, now);
      if (wait > 0) {
        this.outcomes.push({ kind: 'released', message: m, nextAttemptAt: now + wait });
        continue;
      }
      this.send(m, endpoint, eventBody(event, this.o.instanceId), now);
    }
  }

  private send(m: ClaimedMessage, endpoint: WebhookEndpointTable, body: string, now: number): void {
    const controller = new AbortController();
    this.inflight.set(m.id, controller);
    let headers: Record<string, string>;
    try {
      headers = signedHeaders(m.id, now, body, signingSecrets(endpoint, now, this.o.encryptionKey));
    } catch (err) {
      // A secret that cannot be unsealed (wrong LATCHKEY_ENCRYPTION_KEY): retry later, loudly.
      this.o.logger.error({ err, endpoint_id: endpoint.id }, 'webhook delivery: cannot read the endpoint secret');
      this.inflight.delete(m.id);
      this.outcomes.push({ kind: 'released', message: m, nextAttemptAt: now + 60_000 });
      return;
    }
    const started = this.o.clock.now();
    void this.o.deliverer.post(endpoint.url, headers, body, controller.signal).then((result) => {
      this.inflight.delete(m.id);
      this.outcomes.push(controller.signal.aborted
        ? { kind: 'released', message: m, nextAttemptAt: this.o.clock.now() }
        : this.judge(m, endpoint, result, started));
      this.poke();
    });
  }

  /** What an answer means for the message and its endpoint. */
  private judge(m: ClaimedMessage, endpoint: WebhookEndpointTable, result: AttemptResult, at: number): Outcome {
    const attempt = { ...result, at };
    const now = this.o.clock.now();
    const code = result.statusCode;
    if (code !== null && code >= 200 && code < 300) {
      if (endpoint.failing_since !== null) this.changeEndpoint(endpoint, { failingSince: null });
      return { kind: 'delivered', message: m, attempt };
    }
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

  /** Per-endpoint token bucket (per instance): ms to wait before the next send, 0 to send now. */
  private rateLimitWait(endpoint: WebhookEndpointTable, now: number): number {
    const rate = endpoint.rate_limit;
    if (!rate) return 0;
    const b = this.buckets.get(endpoint.id) ?? { tokens: rate, at: now };
    b.tokens = Math.min(rate, b.tokens + ((now - b.at) * rate) / 1000);
    b.at = now;
    this.buckets.set(endpoint.id, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) * 1000) / rate);
  }
}
