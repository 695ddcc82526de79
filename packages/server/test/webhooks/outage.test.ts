import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { freePort } from '../support/postgres.js';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import type { Attempt, FeedEvent, Message, MessageDetail } from '../support/webhook-api.js';

/**
 * "Outage test": a receiver that refuses connections, then answers 500, for a
 * simulated 3 hours, then recovers. Time is a ManualClock the test moves: after
 * every attempt has been recorded, the clock jumps to the next attempt's due
 * time (read from the API), so each attempt happens exactly when the schedule
 * says and the test can check the schedule to the millisecond.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The documented retry schedule: the wait after the nth failed attempt (Svix's, plus an immediate retry). */
const DOCUMENTED_DELAYS = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];
const MAX_ATTEMPTS = DOCUMENTED_DELAYS.length + 1;
/** Jitter only ever adds, and at most this much. */
const JITTER = 0.1;

interface Endpoint {
  id: string;
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: number | null;
  failing_since: number | null;
}

/** One request the receiver answered. */
interface Receipt {
  msgId: string;
  event: FeedEvent;
  status: number;
  /** Simulated time of arrival. */
  at: number;
}

/**
 * The app's webhook route, on a port reserved in advance so it can be "down"
 * (nothing listening: connection refused) and come up later on the same URL.
 */
class Receiver {
  readonly log: Receipt[] = [];
  private server: Server | undefined;

  private constructor(readonly port: number, private readonly clock: ManualClock, private readonly answer: (e: FeedEvent) => number) {}

  static async reserve(clock: ManualClock, answer: (e: FeedEvent) => number): Promise<Receiver> {
    return new Receiver(await freePort(), clock, answer);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/webhooks`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  async listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FeedEvent;
        const status = this.answer(event);
        this.log.push({ msgId: String(req.headers['webhook-id']), event, status, at: this.clock.now() });
        res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'down for maintenance');
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.server = server;
  }

  /** Arrivals (2xx answers) of an event. */
  arrivals(eventId: string): Receipt[] {
    return this.log.filter((r) => r.event.id === eventId && r.status === 200);
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** A jitter source that cycles through fixed draws, extremes included, and counts them. */
function recordedRandom(): { random: () => number; draws: number[] } {
  const cycle = [0, 0.999, 0.5, 0.25, 0.75];
  const draws: number[] = [];
  return { draws, random: () => {
    const r = cycle[draws.length % cycle.length]!;
    draws.push(r);
    return r;
  } };
}

/** Checks that consecutive attempts are spaced by the documented delays, plus at most 10% jitter. */
function expectOnSchedule(attempts: Attempt[], label: string): void {
  for (let i = 1; i < attempts.length; i++) {
    const gap = attempts[i]!.attempted_at - attempts[i - 1]!.attempted_at;
    const delay = DOCUMENTED_DELAYS[i - 1]!;
    expect(gap, `${label}: gap before attempt ${i + 1}`).toBeGreaterThanOrEqual(delay);
    expect(gap, `${label}: gap before attempt ${i + 1}`).toBeLessThanOrEqual(Math.round(delay * (1 + JITTER)));
  }
}

/** The Backend API calls these tests make. */
function client(server: TestServer) {
  const get = async <T>(path: string): Promise<T> => {
    const res = await server.api(path);
    expect(res.status, path).toBe(200);
    return res.json() as Promise<T>;
  };
  const post = async <T>(path: string, json: unknown = {}): Promise<T> => {
    const res = await server.api(path, { method: 'POST', json });
    expect(res.status, path).toBe(200);
    return res.json() as Promise<T>;
  };
  return {
    get,
    post,
    createUser: (n: string) => post<{ id: string }>('/v1/users', { email_address: [`${n}@example.com`], external_id: n }),
    updateUser: async (id: string, n: number) => {
      const res = await server.api(`/v1/users/${id}/metadata`, { method: 'PATCH', json: { public_metadata: { n } } });
      expect(res.status).toBe(200);
    },
    events: async () => (await get<{ data: FeedEvent[] }>('/v1/events?limit=500')).data,
    endpoint: (id: string) => get<Endpoint>(`/v1/webhook_endpoints/${id}`),
    messages: async (endpointId: string) =>
      (await get<{ data: Message[] }>(`/v1/webhook_endpoints/${endpointId}/messages?limit=500`)).data
        .sort((a, b) => a.event_sequence - b.event_sequence),
    message: (id: string) => get<MessageDetail>(`/v1/webhook_messages/${id}`),
  };
}
type Client = ReturnType<typeof client>;

/**
 * Moves simulated time the way the worker experiences it. `settle` waits until
 * every message the worker may send now has been attempted; `run` then jumps
 * the clock to the earliest next due time, over and over, until nothing is left
 * pending (or the endpoint is disabled).
 */
function simulation(api: Client, clock: ManualClock, endpointId: string) {
  // Message order key: the user an event is about (every event in these tests is a user.* event).
  const owners = new Map<number, string>();
  const ownerOf = async (sequence: number): Promise<string> => {
    if (!owners.has(sequence)) for (const e of await api.events()) owners.set(e.sequence, e.data.id);
    return owners.get(sequence)!;
  };

  /** Pending messages the worker may claim: no earlier message of the same user is pending. */
  const ready = async (): Promise<Message[]> => {
    if (!(await api.endpoint(endpointId)).enabled) return [];
    const pending = (await api.messages(endpointId)).filter((m) => m.status === 'pending');
    const seen = new Set<string>();
    const out: Message[] = [];
    for (const m of pending) {
      const owner = await ownerOf(m.event_sequence);
      if (!seen.has(owner)) out.push(m);
      seen.add(owner);
    }
    return out;
  };

  const settle = () => waitFor(`the attempts due at +${clock.now()}`, async () => {
    const due = (await ready()).filter((m) => m.next_attempt_at! <= clock.now());
    return due.length === 0 ? true : undefined;
  });

  return {
    settle,
    async run(opts: { beforeJump?: (to: number) => Promise<void> } = {}): Promise<void> {
      for (;;) {
        await settle();
        const next = Math.min(...(await ready()).map((m) => m.next_attempt_at!));
        if (!Number.isFinite(next)) return;
        expect(next).toBeGreaterThan(clock.now());
        await opts.beforeJump?.(next);
        clock.set(next);
      }
    },
  };
}

describe.each(dialects())('webhook delivery through an outage (%s)', (dialect) => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  async function setup(answer: (e: FeedEvent, clock: ManualClock) => number) {
    const clock = new ManualClock(Date.now());
    const t0 = clock.now();
    const receiver = await Receiver.reserve(clock, (e) => answer(e, clock));
    cleanup.push(() => receiver.close());
    const jitter = recordedRandom();
    const server = await startServer(dialect, { clock, webhookPollMs: 10, random: jitter.random });
    cleanup.push(() => server.close());
    const api = client(server);
    const endpoint = await api.post<Endpoint>('/v1/webhook_endpoints', { url: receiver.url });
    return { clock, t0, receiver, jitter, api, endpoint, sim: simulation(api, clock, endpoint.id) };
  }

  it('refused, then 500, for 3 hours: everything arrives on the documented schedule, one user in order', async () => {
    const RECOVERED_AT = 3 * HOUR;
    const { t0, receiver, jitter, api, endpoint, sim } = await setup((_e, c) => (c.now() - t0 >= RECOVERED_AT ? 200 : 500));

    // Five events before the outage is noticed: three users, the first updated twice (a chain of three).
    const [u1, u2, u3] = [await api.createUser('ann'), await api.createUser('bob'), await api.createUser('cy')];
    await api.updateUser(u1.id, 1);
    await api.updateUser(u1.id, 2);

    // Nothing listens for the first simulated hour; from then on a server answers (500 until 3 h, then 200).
    // It comes up before the clock first jumps past 1 h, so no attempt can tell it came up later.
    const UP_AT = HOUR;
    await sim.run({ beforeJump: async (to) => {
      if (to - t0 >= UP_AT && !receiver.listening) await receiver.listen();
    } });
    expect(receiver.listening).toBe(true);

    const events = await api.events();
    expect(events.map((e) => e.type)).toEqual(['user.created', 'user.created', 'user.created', 'user.updated', 'user.updated']);
    const messages = await api.messages(endpoint.id);
    expect(messages.map((m) => m.event_sequence)).toEqual(events.map((e) => e.sequence));
    const details = await Promise.all(messages.map((m) => api.message(m.id)));
    const byEvent = new Map(details.map((d) => [d.event!.id, d]));

    // Every event arrived, exactly as the feed has it, under its message's id.
    for (const e of events) {
      const d = byEvent.get(e.id)!;
      expect(d.status).toBe('succeeded');
      const arrived = receiver.arrivals(e.id);
      expect(arrived, e.type).toHaveLength(1);
      expect(arrived[0]!.msgId).toBe(d.id);
      expect(arrived[0]!.event).toEqual(e);
    }

    // The three heads of their users' queues went through the whole outage.
    const heads = events.slice(0, 3);
    // Attempts due before 3 h: 0, +0, +5 s, +5 min, +30 min, +2 h (≤ 2 h 50 min even with full jitter);
    // the seventh (≥ 7 h 35 min) is the first due after recovery.
    const expectedAttempts = 7;
    for (const e of heads) {
      const attempts = byEvent.get(e.id)!.attempt_list;
      expect(attempts, e.id).toHaveLength(expectedAttempts);
      expect(attempts[0]!.attempted_at).toBe(t0);
      expectOnSchedule(attempts, e.id);
      for (const [i, a] of attempts.entries()) {
        const at = a.attempted_at - t0;
        if (at < UP_AT) expect(a, `attempt ${i + 1}`).toMatchObject({ status: 'failed', status_code: null, error: 'connection refused' });
        else if (at < RECOVERED_AT) expect(a, `attempt ${i + 1}`).toMatchObject({ status: 'failed', status_code: 500, error: null });
        else expect(a, `attempt ${i + 1}`).toMatchObject({ status: 'succeeded', status_code: 200, error: null });
      }
      expect(attempts.filter((a) => a.error === 'connection refused').length).toBeGreaterThan(0);
      expect(attempts.filter((a) => a.status_code === 500).length).toBeGreaterThan(0);
      // The success is the first attempt due after recovery.
      expect(attempts.at(-2)!.attempted_at - t0).toBeLessThan(RECOVERED_AT);
      expect(attempts.at(-1)!.attempted_at - t0).toBeGreaterThanOrEqual(RECOVERED_AT);
      // The receiver saw the same: a 500 for each attempt after it came up, then the 200.
      expect(receiver.log.filter((r) => r.event.id === e.id).map((r) => r.status))
        .toEqual(attempts.filter((a) => a.status_code !== null).map((a) => a.status_code));
    }
    // One jitter draw per retry scheduled: six per head.
    expect(jitter.draws).toHaveLength(heads.length * (expectedAttempts - 1));

    // Ann's chain: her updates waited (never attempted) until her user.created succeeded, then went in order.
    const chain = events.filter((e) => e.data.id === u1.id).map((e) => byEvent.get(e.id)!);
    expect(chain).toHaveLength(3);
    const headSuccess = chain[0]!.attempt_list.at(-1)!.attempted_at;
    for (const later of chain.slice(1)) {
      expect(later.attempt_list).toHaveLength(1);
      expect(later.attempt_list[0]).toMatchObject({ status: 'succeeded', status_code: 200 });
      expect(later.attempt_list[0]!.attempted_at).toBeGreaterThanOrEqual(headSuccess);
    }
    const annArrivals = receiver.log.filter((r) => r.event.data.id === u1.id && r.status === 200).map((r) => r.event.sequence);
    expect(annArrivals).toEqual(chain.map((d) => d.event_sequence));
    // Nothing of Ann's after the first reached the receiver before that first succeeded.
    const firstSuccessIndex = receiver.log.findIndex((r) => r.event.id === chain[0]!.event!.id && r.status === 200);
    const firstLaterIndex = receiver.log.findIndex((r) => r.event.data.id === u1.id && r.event.sequence > chain[0]!.event_sequence);
    expect(firstLaterIndex).toBeGreaterThan(firstSuccessIndex);
    expect([u2.id, u3.id].every((id) => receiver.log.some((r) => r.event.data.id === id))).toBe(true);

    // The endpoint came through it enabled, no longer failing.
    expect(await api.endpoint(endpoint.id)).toMatchObject({ enabled: true, disabled_reason: null, failing_since: null });
  }, 120_000);

  it('a message that always fails ends `failed` after the full schedule, and frees its user\'s next message', async () => {
    // The receiver rejects one event for good (its user.created) and takes everything else.
    const { t0, receiver, api, endpoint, sim } = await setup((e) => (e.type === 'user.created' ? 500 : 200));
    await receiver.listen();
    const user = await api.createUser('dana');
    await api.updateUser(user.id, 1);

    await sim.run();

    const [created, updated] = await Promise.all((await api.messages(endpoint.id)).map((m) => api.message(m.id)));
    expect(created!.event!.type).toBe('user.created');
    expect(created).toMatchObject({ status: 'failed', attempts: MAX_ATTEMPTS, next_attempt_at: null, last_status_code: 500 });
    expect(created!.attempt_list).toHaveLength(MAX_ATTEMPTS);
    expect(created!.attempt_list[0]!.attempted_at).toBe(t0);
    expectOnSchedule(created!.attempt_list, 'user.created');
    for (const a of created!.attempt_list) expect(a).toMatchObject({ status: 'failed', status_code: 500 });
    // The whole schedule spans at least the sum of the documented delays.
    const span = created!.attempt_list.at(-1)!.attempted_at - t0;
    expect(span).toBeGreaterThanOrEqual(DOCUMENTED_DELAYS.reduce((a, b) => a + b));

    // The update waited for the failure, then went (it is not blocked forever).
    expect(updated!.event!.type).toBe('user.updated');
    expect(updated).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 });
    expect(updated!.attempt_list[0]!.attempted_at).toBeGreaterThanOrEqual(created!.attempt_list.at(-1)!.attempted_at);
    expect(receiver.log.map((r) => [r.event.type, r.status])).toEqual([
      ...Array.from({ length: MAX_ATTEMPTS }, () => ['user.created', 500]),
      ['user.updated', 200],
    ]);

    // Well short of five days, and a success since: the endpoint stays on and is no longer failing.
    expect(await api.endpoint(endpoint.id)).toMatchObject({ enabled: true, failing_since: null });
  }, 120_000);

  it('an endpoint whose every attempt failed for 5 days is disabled, with an audit entry', async () => {
    const { clock, t0, receiver, api, endpoint, sim } = await setup(() => 500);
    await receiver.listen();

    // Day 0: a message fails through its whole schedule (about 28 hours).
    await api.createUser('eve');
    await sim.run();
    expect(await api.endpoint(endpoint.id)).toMatchObject({ enabled: true, failing_since: t0 });

    // Day 3: another one, failing until about day 4.2. Still short of five days.
    clock.set(t0 + 3 * DAY);
    await api.createUser('fay');
    await sim.run();
    expect(await api.endpoint(endpoint.id)).toMatchObject({ enabled: true, failing_since: t0 });

    // A minute before day 5: the first attempts still fail without consequence; the first after day 5 disables.
    clock.set(t0 + 5 * DAY - MINUTE);
    await api.createUser('gus');
    await sim.run();

    const after = await api.endpoint(endpoint.id);
    expect(after).toMatchObject({ enabled: false, disabled_reason: 'failing', failing_since: t0 });
    const messages = await Promise.all((await api.messages(endpoint.id)).map((m) => api.message(m.id)));
    // Disabling fails what the endpoint still owed, the message whose attempt disabled it included.
    expect(messages.map((m) => m.status)).toEqual(['failed', 'failed', 'failed']);
    const attempts = messages.flatMap((m) => m.attempt_list).sort((a, b) => a.attempted_at - b.attempted_at);
    expect(attempts.every((a) => a.status === 'failed' && a.status_code === 500)).toBe(true);
    expect(receiver.log.every((r) => r.status === 500)).toBe(true);
    // Every attempt but the last came before day 5; the last, the first after it, disabled the endpoint.
    expect(attempts.at(-2)!.attempted_at - t0).toBeLessThan(5 * DAY);
    expect(attempts.at(-1)!.attempted_at - t0).toBeGreaterThanOrEqual(5 * DAY);
    expect(after.disabled_at).toBe(attempts.at(-1)!.attempted_at);
    expect(messages[2]!.attempt_list).toHaveLength(4); // +0, +5 s, then +5 min crosses day 5

    const audit = await api.get<{ data: { type: string; actor: { type: string }; target: { id: string }; data: { reason: string } }[] }>(
      `/v1/audit_logs?target_id=${endpoint.id}&types=webhook_endpoint.disabled`);
    expect(audit.data).toHaveLength(1);
    expect(audit.data[0]).toMatchObject({ type: 'webhook_endpoint.disabled', actor: { type: 'system' },
      target: { id: endpoint.id }, data: { reason: 'failing' } });

    // A disabled endpoint is sent nothing new: later events queue no message for it.
    await api.createUser('hal');
    expect(await api.messages(endpoint.id)).toHaveLength(3);
  }, 120_000);
});
