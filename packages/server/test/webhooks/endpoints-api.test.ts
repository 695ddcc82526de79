import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor as until } from '../support/wait.js';

/**
 * The operator's webhook API, end to end: a real server delivers to a loopback
 * receiver whose answers each test steers, and the test looks at what arrived
 * and at what the API says about it (endpoints, messages, attempts, audit log).
 * Every test uses its own receiver path and deletes its endpoints at the end,
 * so deliveries of one test never reach another's.
 */

interface Delivery {
  path: string;
  headers: IncomingHttpHeaders;
  body: WebhookBody;
}
interface WebhookBody {
  object: 'event';
  id: string;
  sequence: number;
  type: string;
  data: { id: string; first_name?: string | null } & Record<string, unknown>;
  timestamp: number;
  instance_id: string;
}
interface Answer {
  status: number;
  body?: string;
}
interface Endpoint {
  object: 'webhook_endpoint';
  id: string;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: number | null;
  rate_limit: number | null;
  failing_since: number | null;
  previous_secret_expires_at: number | null;
  created_at: number;
  updated_at: number;
  secret?: string;
}
interface Message {
  object: 'webhook_message';
  id: string;
  endpoint_id: string;
  event_sequence: number;
  event_type: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  last_status_code: number | null;
}
interface Attempt {
  object: 'webhook_attempt';
  attempted_at: number;
  status: 'succeeded' | 'failed';
  status_code: number | null;
  duration_ms: number;
  response: string;
  error: string | null;
}
interface MessageDetail extends Message {
  event: { id: string; type: string; sequence: number } | null;
  attempt_list: Attempt[];
}
interface MessagePage {
  object: 'list';
  data: Message[];
  has_more: boolean;
  next_before: number | null;
}
interface AuditEntry {
  type: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  data: Record<string, unknown>;
}

/**
 * A loopback HTTP server that records every delivery and answers as the test
 * says: `answer(path, fn)` decides the reply for requests to that path
 * (200 with an empty body unless told otherwise).
 */
class Receiver {
  readonly deliveries: Delivery[] = [];
  private readonly answers = new Map<string, (d: Delivery) => Answer>();
  private server!: Server;
  private port = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const path = req.url ?? '/';
        const d: Delivery = { path, headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookBody };
        this.deliveries.push(d);
        const a = this.answers.get(path)?.(d) ?? { status: 200 };
        res.writeHead(a.status, { 'content-type': 'text/plain' }).end(a.body ?? '');
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  answer(path: string, fn: (d: Delivery) => Answer): void {
    this.answers.set(path, fn);
  }

  at(path: string): Delivery[] {
    return this.deliveries.filter((d) => d.path === path);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const SECRET_FORMAT = /^whsec_[A-Za-z0-9+/]{32}$/;
/** Each test waits on real deliveries; the machine may be busy. Waits have their own deadlines. */
const TEST_TIMEOUT_MS = 90_000;

describe.each(dialects())('webhook endpoints API (%s)', (dialect) => {
  let server: TestServer;
  const receiver = new Receiver();
  let userCount = 0;

  beforeAll(async () => {
    await receiver.start();
    server = await startServer(dialect);
  });
  afterAll(async () => {
    await server?.close();
    await receiver.close();
  });

  async function call<T>(method: string, path: string, json?: unknown, status = 200): Promise<T> {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    const body = (await res.json()) as T;
    expect(res.status, `${method} ${path} → ${JSON.stringify(body).slice(0, 300)}`).toBe(status);
    return body;
  }
  const createEndpoint = (body: Record<string, unknown>) => call<Endpoint>('POST', '/v1/webhook_endpoints', body);
  const deleteEndpoint = (id: string) => call('DELETE', `/v1/webhook_endpoints/${id}`);
  const patchEndpoint = (id: string, body: Record<string, unknown>) => call<Endpoint>('PATCH', `/v1/webhook_endpoints/${id}`, body);
  const messages = (id: string, query = '') => call<MessagePage>('GET', `/v1/webhook_endpoints/${id}/messages${query}`);
  const detail = (messageId: string) => call<MessageDetail>('GET', `/v1/webhook_messages/${messageId}`);
  /** One user.created event (first_name lets a receiver tell users apart before the test knows their ids). */
  const createUser = (firstName = 'Plain') =>
    call<{ id: string }>('POST', '/v1/users', { email_address: [`wh${++userCount}-${dialect}@example.com`], first_name: firstName });
  const audit = (query: string) => call<{ data: AuditEntry[] }>('GET', `/v1/audit_logs?limit=500&${query}`).then((r) => r.data);
  /** Waits until the endpoint has `count` messages, each attempted at least once (or as `done` says). */
  const allAttempted = (id: string, count: number, done = (m: Message) => m.attempts >= 1) => until(`${count} attempted messages`, async () => {
    const page = await messages(id, '?limit=500');
    return page.data.length === count && page.data.every(done) ? page.data : undefined;
  });
  /**
   * A failed first attempt is retried at once (schedule.ts: delay 0), the next one only 5 s later:
   * a message that failed twice stays as it is for a while.
   */
  const settledForNow = (m: Message) => m.status !== 'pending' || m.attempts >= 2;

  it('creates, reads, lists, updates, rotates and deletes an endpoint, auditing each change', async () => {
    const created = await createEndpoint({
      url: receiver.url('/crud'), description: 'orders service', events: ['user.created', 'user.created', 'session.created'], rate_limit: 50,
    });
    expect(created).toMatchObject({
      object: 'webhook_endpoint', url: receiver.url('/crud'), description: 'orders service',
      events: ['user.created', 'session.created'], // duplicates dropped
      enabled: true, disabled_reason: null, disabled_at: null, rate_limit: 50, failing_since: null, previous_secret_expires_at: null,
    });
    expect(created.id).toMatch(/^ep_/);
    // Svix's format: whsec_ and the base64 of 24 random bytes.
    expect(created.secret).toMatch(SECRET_FORMAT);
    expect(Buffer.from(created.secret!.slice('whsec_'.length), 'base64')).toHaveLength(24);
    const { secret, ...withoutSecret } = created;

    // Reads never show the secret; only GET …/secret does.
    const got = await call<Endpoint>('GET', `/v1/webhook_endpoints/${created.id}`);
    expect(got).toEqual(withoutSecret);
    expect(got).not.toHaveProperty('secret');
    const list = await call<{ object: string; data: Endpoint[]; total_count: number }>('GET', '/v1/webhook_endpoints');
    expect(list.object).toBe('list');
    expect(list.total_count).toBe(list.data.length);
    expect(list.data.find((e) => e.id === created.id)).toEqual(withoutSecret);
    expect(list.data.every((e) => !('secret' in e))).toBe(true);
    expect(await call('GET', `/v1/webhook_endpoints/${created.id}/secret`))
      .toEqual({ object: 'webhook_endpoint_secret', endpoint_id: created.id, secret });

    // PATCH changes exactly what it names.
    const patched = await patchEndpoint(created.id, {
      url: receiver.url('/crud2'), description: 'billing', events: ['user.deleted'], rate_limit: null,
    });
    expect(patched).toMatchObject({ url: receiver.url('/crud2'), description: 'billing', events: ['user.deleted'], rate_limit: null, enabled: true });
    expect(patched.updated_at).toBeGreaterThan(created.updated_at);
    expect(patched.created_at).toBe(created.created_at);
    expect((await patchEndpoint(created.id, { rate_limit: 7 })).description).toBe('billing');
    const disabled = await patchEndpoint(created.id, { enabled: false });
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: 'operator', rate_limit: 7 });
    expect(disabled.disabled_at).toEqual(expect.any(Number));
    expect(await patchEndpoint(created.id, { enabled: true })).toMatchObject({ enabled: true, disabled_reason: null, disabled_at: null });
    expect(await call('GET', `/v1/webhook_endpoints/${created.id}`)).toMatchObject({ url: receiver.url('/crud2'), events: ['user.deleted'], rate_limit: 7 });

    // Rotation: a new secret at once, the old one still signing for a while.
    const rotated = await call<Endpoint>('POST', `/v1/webhook_endpoints/${created.id}/rotate_secret`);
    expect(rotated.secret).toMatch(SECRET_FORMAT);
    expect(rotated.secret).not.toBe(secret);
    expect(rotated.previous_secret_expires_at).toBeGreaterThan(Date.now());
    expect((await call<{ secret: string }>('GET', `/v1/webhook_endpoints/${created.id}/secret`)).secret).toBe(rotated.secret);

    // Deletion takes the endpoint's messages along.
    await patchEndpoint(created.id, { events: ['user.created'] });
    const user = await createUser();
    const [message] = (await messages(created.id)).data;
    expect(message).toMatchObject({ event_type: 'user.created' });
    await until('the delivery before deletion', () => receiver.at('/crud2').find((d) => d.body.data.id === user.id));
    expect(await deleteEndpoint(created.id)).toEqual({ object: 'webhook_endpoint', id: created.id, deleted: true });
    for (const path of ['', '/secret', '/messages']) {
      expect((await server.api(`/v1/webhook_endpoints/${created.id}${path}`)).status, path).toBe(404);
    }
    expect((await server.api(`/v1/webhook_messages/${message!.id}`)).status).toBe(404);
    expect((await server.api(`/v1/webhook_endpoints/${created.id}`, { method: 'DELETE' })).status).toBe(404);
    expect((await call<{ data: Endpoint[] }>('GET', '/v1/webhook_endpoints')).data.map((e) => e.id)).not.toContain(created.id);

    const entries = await audit(`target_id=${created.id}`);
    expect(entries.map((e) => e.type)).toEqual([
      'webhook_endpoint.created',
      'webhook_endpoint.secret_viewed', // GET …/secret is audited: who has seen a secret matters when one leaks
      ...Array<string>(4).fill('webhook_endpoint.updated'), // url etc., rate_limit, disable, enable
      'webhook_endpoint.secret_rotated',
      'webhook_endpoint.secret_viewed',
      'webhook_endpoint.updated',
      'webhook_endpoint.deleted',
    ]);
    for (const e of entries) {
      expect(e.actor.type, e.type).toBe('secret_key');
      expect(e.target, e.type).toEqual({ type: 'webhook_endpoint', id: created.id });
    }
    // The audit log never holds a secret.
    expect(JSON.stringify(entries)).not.toContain(secret!.slice('whsec_'.length));
    expect(JSON.stringify(entries)).not.toContain(rotated.secret!.slice('whsec_'.length));
  }, TEST_TIMEOUT_MS);

  it('sends an endpoint only the event types it asked for; an empty list means all', async () => {
    const some = await createEndpoint({ url: receiver.url('/filter-some'), events: ['user.created'] });
    const all = await createEndpoint({ url: receiver.url('/filter-all'), events: [] });
    const user = await createUser();
    await call('POST', '/v1/sessions', { user_id: user.id });
    await call('PATCH', `/v1/users/${user.id}/metadata`, { public_metadata: { plan: 'pro' } });

    const everything = await until('three deliveries to the catch-all endpoint', () => {
      const got = receiver.at('/filter-all');
      return got.length >= 3 ? got : undefined;
    });
    expect(everything.map((d) => d.body.type)).toEqual(['user.created', 'session.created', 'user.updated']);
    // Messages are written with the event, so the filtered endpoint's list is already complete.
    expect((await messages(some.id)).data.map((m) => m.event_type)).toEqual(['user.created']);
    const [only] = await until('the filtered delivery', () => {
      const got = receiver.at('/filter-some');
      return got.length >= 1 ? got : undefined;
    });
    expect(only!.body).toMatchObject({ type: 'user.created', data: { id: user.id } });
    expect(only!.body.id).toBe(everything[0]!.body.id);
    await Promise.all([deleteEndpoint(some.id), deleteEndpoint(all.id)]);
    expect(receiver.at('/filter-some')).toHaveLength(1);
    expect(receiver.at('/filter-all')).toHaveLength(3);
  }, TEST_TIMEOUT_MS);

  it('a disabled endpoint misses events; recover queues exactly the missing ones, once', async () => {
    const ep = await createEndpoint({ url: receiver.url('/recover'), events: ['user.created'] });
    const off = await patchEndpoint(ep.id, { enabled: false });
    const missed = [await createUser(), await createUser(), await createUser()];
    expect((await messages(ep.id)).data).toEqual([]);

    await patchEndpoint(ep.id, { enabled: true });
    const live = await createUser();
    await until('the delivery after re-enabling', () => receiver.at('/recover').find((d) => d.body.data.id === live.id));
    expect(receiver.at('/recover')).toHaveLength(1);

    const recovered = await call<{ object: string; endpoint_id: string; since: number; queued: number }>(
      'POST', `/v1/webhook_endpoints/${ep.id}/recover`, { since: off.disabled_at });
    expect(recovered).toEqual({ object: 'webhook_recovery', endpoint_id: ep.id, since: off.disabled_at, queued: 3 });
    const arrived = await until('the recovered deliveries', () => {
      const got = receiver.at('/recover');
      return got.length >= 4 ? got : undefined;
    });
    expect(new Set(arrived.slice(1).map((d) => d.body.data.id))).toEqual(new Set(missed.map((u) => u.id)));
    expect(new Set(arrived.map((d) => d.headers['svix-id'])).size).toBe(4);

    const again = await call<{ queued: number }>('POST', `/v1/webhook_endpoints/${ep.id}/recover`, { since: off.disabled_at });
    expect(again.queued).toBe(0);
    const all = await allAttempted(ep.id, 4);
    expect(all.every((m) => m.status === 'succeeded')).toBe(true);
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('lists messages by status and page, and shows attempts with a cut-off response', async () => {
    // 2000 bytes, so the kept 1024 are a strict prefix; ASCII, so bytes are characters.
    const longAnswer = Array.from({ length: 200 }, (_, i) => String(i % 10).repeat(10)).join('');
    expect(longAnswer).toHaveLength(2000);
    receiver.answer('/view', (d) => (d.body.data.first_name === 'Failing' ? { status: 500, body: 'try later' } : { status: 200, body: longAnswer }));
    const ep = await createEndpoint({ url: receiver.url('/view'), events: ['user.created'] });
    for (const name of ['Fine', 'Failing', 'Fine', 'Failing', 'Fine']) await createUser(name);
    const all = await allAttempted(ep.id, 5, settledForNow);

    // Newest first; failures stay pending (their next retry is seconds away).
    const sequences = all.map((m) => m.event_sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => b - a));
    const succeeded = await messages(ep.id, '?status=succeeded');
    expect(succeeded.data.map((m) => m.event_sequence)).toEqual([sequences[0], sequences[2], sequences[4]]);
    expect(succeeded.data.every((m) => m.status === 'succeeded' && m.last_status_code === 200 && m.next_attempt_at === null)).toBe(true);
    const pending = await messages(ep.id, '?status=pending');
    expect(pending.data.map((m) => m.event_sequence)).toEqual([sequences[1], sequences[3]]);
    expect(pending.data.every((m) => m.attempts === 2 && m.last_status_code === 500 && m.next_attempt_at! - m.last_attempt_at! >= 5_000)).toBe(true);
    expect((await messages(ep.id, '?status=failed')).data).toEqual([]);

    // `before` pages backwards through event sequences.
    const pages: MessagePage[] = [];
    let query = '?limit=2';
    for (;;) {
      const page = await messages(ep.id, query);
      pages.push(page);
      if (!page.has_more) break;
      expect(page.next_before).toBe(page.data.at(-1)!.event_sequence);
      query = `?limit=2&before=${page.next_before}`;
    }
    expect(pages.map((p) => p.data.length)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.has_more)).toEqual([true, true, false]);
    expect(pages.at(-1)!.next_before).toBeNull();
    expect(pages.flatMap((p) => p.data.map((m) => m.id))).toEqual(all.map((m) => m.id));
    expect((await messages(ep.id, `?status=succeeded&before=${sequences[0]}&limit=1`)).data.map((m) => m.event_sequence)).toEqual([sequences[2]]);

    const ok = await detail(succeeded.data[0]!.id);
    expect(ok).toMatchObject({ id: succeeded.data[0]!.id, endpoint_id: ep.id, status: 'succeeded', attempts: 1 });
    expect(ok.event).toMatchObject({ type: 'user.created', sequence: sequences[0] });
    const delivered = receiver.at('/view').find((d) => d.headers['svix-id'] === ok.id)!;
    expect(ok.event!.id).toBe(delivered.body.id);
    expect(ok.attempt_list).toHaveLength(1);
    const [attempt] = ok.attempt_list;
    expect(attempt).toMatchObject({ object: 'webhook_attempt', status: 'succeeded', status_code: 200, error: null });
    expect(Number.isInteger(attempt!.duration_ms) && attempt!.duration_ms >= 0).toBe(true);
    expect(attempt!.response).toBe(longAnswer.slice(0, 1024));
    const bad = await detail(pending.data[0]!.id);
    expect(bad.attempt_list).toHaveLength(2);
    for (const a of bad.attempt_list) expect(a).toMatchObject({ status: 'failed', status_code: 500, response: 'try later', error: null });
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('records a refused connection as an attempt with an error and no status', async () => {
    const closedPort = await freePort();
    const ep = await createEndpoint({ url: `http://127.0.0.1:${closedPort}/nobody`, events: ['user.created'] });
    await createUser();
    const [m] = await allAttempted(ep.id, 1, settledForNow);
    expect(m).toMatchObject({ status: 'pending', attempts: 2, last_status_code: null });
    const d = await detail(m!.id);
    expect(d.attempt_list).toHaveLength(2);
    for (const a of d.attempt_list) {
      expect(a).toMatchObject({ status: 'failed', status_code: null, response: '', error: 'connection refused' });
      expect(Number.isInteger(a.duration_ms) && a.duration_ms >= 0).toBe(true);
    }
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('replays a message with the same svix-id', async () => {
    const ep = await createEndpoint({ url: receiver.url('/replay'), events: ['user.created'] });
    const user = await createUser();
    const [first] = await until('the first delivery', () => {
      const got = receiver.at('/replay');
      return got.length >= 1 ? got : undefined;
    });
    const [m] = await allAttempted(ep.id, 1);
    expect(first!.headers['svix-id']).toBe(m!.id);
    expect(first!.headers['webhook-id']).toBe(m!.id);

    const replayed = await call<Message>('POST', `/v1/webhook_messages/${m!.id}/replay`);
    expect(replayed).toMatchObject({ id: m!.id, status: 'pending', attempts: 0 });
    const [, second] = await until('the replayed delivery', () => {
      const got = receiver.at('/replay');
      return got.length >= 2 ? got : undefined;
    });
    expect(second!.headers['svix-id']).toBe(m!.id);
    expect(second!.body).toEqual(first!.body);
    expect(second!.body.data.id).toBe(user.id);
    const after = await until('two attempts', async () => {
      const d = await detail(m!.id);
      return d.status === 'succeeded' && d.attempt_list.length === 2 ? d : undefined;
    });
    expect(after.attempt_list.map((a) => a.status_code)).toEqual([200, 200]);
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('410 Gone disables the endpoint at once, audited as the system; replay_failed puts its failed messages back', async () => {
    let gone = true;
    receiver.answer('/gone', () => (gone ? { status: 410, body: 'gone' } : { status: 204 }));
    const ep = await createEndpoint({ url: receiver.url('/gone'), events: ['user.created'] });
    const since = ep.created_at;
    await createUser();
    const [m] = await allAttempted(ep.id, 1);
    // One 410 is final: no retries, however many remain in the schedule.
    expect(m).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 410, next_attempt_at: null });
    const disabled = await until('the endpoint to be disabled', async () => {
      const e = await call<Endpoint>('GET', `/v1/webhook_endpoints/${ep.id}`);
      return e.enabled ? undefined : e;
    });
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    const [entry, ...more] = await audit(`target_id=${ep.id}&types=webhook_endpoint.disabled`);
    expect(more).toEqual([]);
    expect(entry).toMatchObject({ type: 'webhook_endpoint.disabled', actor: { type: 'system', id: null },
      target: { type: 'webhook_endpoint', id: ep.id }, data: { reason: 'gone' } });

    // The receiver is back: re-enable, then put the failed message back on the queue.
    gone = false;
    await patchEndpoint(ep.id, { enabled: true });
    const replay = await call<{ object: string; endpoint_id: string; since: number; replayed: number }>(
      'POST', `/v1/webhook_endpoints/${ep.id}/replay_failed`, { since });
    expect(replay).toEqual({ object: 'webhook_replay', endpoint_id: ep.id, since, replayed: 1 });
    const done = await until('the replayed failure to succeed', async () => {
      const d = await detail(m!.id);
      return d.status === 'succeeded' ? d : undefined;
    });
    expect(done.attempt_list.map((a) => a.status_code)).toEqual([410, 204]);
    const arrived = receiver.at('/gone');
    expect(arrived).toHaveLength(2);
    expect(arrived.map((d) => d.headers['svix-id'])).toEqual([m!.id, m!.id]);
    expect((await call<{ replayed: number }>('POST', `/v1/webhook_endpoints/${ep.id}/replay_failed`, { since })).replayed).toBe(0);
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('rate_limit spreads deliveries out and still delivers every one', async () => {
    const RATE = 5;
    const COUNT = 20;
    // Created disabled, then filled by recover: all 20 messages are due at once, so only the limit can spread them.
    const ep = await createEndpoint({ url: receiver.url('/rate'), events: ['user.created'], rate_limit: RATE, enabled: false });
    const users: { id: string }[] = [];
    for (let i = 0; i < COUNT; i++) users.push(await createUser());
    await patchEndpoint(ep.id, { enabled: true });
    const recoverSentAt = Date.now();
    expect((await call<{ queued: number }>('POST', `/v1/webhook_endpoints/${ep.id}/recover`, { since: ep.created_at })).queued).toBe(COUNT);

    const arrived = await until('every rate-limited delivery', () => {
      const got = receiver.at('/rate');
      return got.length >= COUNT ? got : undefined;
    }, 60_000);
    expect(new Set(arrived.map((d) => d.body.data.id))).toEqual(new Set(users.map((u) => u.id)));
    const all = await allAttempted(ep.id, COUNT);
    expect(all.every((m) => m.status === 'succeeded' && m.attempts === 1)).toBe(true);
    const times = (await Promise.all(all.map((m) => detail(m.id)))).map((d) => d.attempt_list[0]!.attempted_at).sort((a, b) => a - b);
    // A bucket of RATE tokens refilled at RATE per second: the last of COUNT needs (COUNT - RATE) / RATE s of refill.
    const refillMs = ((COUNT - RATE) / RATE) * 1000;
    expect(times.at(-1)! - recoverSentAt).toBeGreaterThanOrEqual(refillMs);
    // The spread between first and last attempt, allowing the few ms between the bucket's start and the first send.
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(refillMs * 0.9);
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);

  it('a refused change creates no event and no message', async () => {
    const ep = await createEndpoint({ url: receiver.url('/refused'), events: [] });
    const taken = `taken-${dialect}@example.com`;
    await call('POST', '/v1/users', { email_address: [taken] });
    const [m] = await allAttempted(ep.id, 1);
    const feed = () => call<{ data: { sequence: number }[] }>('GET', '/v1/events?after=0&limit=500').then((r) => r.data.map((e) => e.sequence));
    const eventsBefore = await feed();

    await call('POST', '/v1/users', { email_address: [taken.toUpperCase()] }, 422);
    await call('POST', '/v1/sessions', { user_id: 'user_missing' }, 404);

    expect(await feed()).toEqual(eventsBefore);
    expect((await messages(ep.id)).data.map((x) => x.id)).toEqual([m!.id]);
    expect(receiver.at('/refused')).toHaveLength(1);
    await deleteEndpoint(ep.id);
  }, TEST_TIMEOUT_MS);
});
