import { verifyWebhook } from '@clerk/backend/webhooks';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { EVENT_TYPES } from '../../src/events/types.js';
import { dialects, startServer, type DialectName, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import { startReceiver, type Delivery, type Receiver } from '../support/webhook-receiver.js';

/**
 * "Must show": receivers written the way apps write them, on the real npm
 * packages (svix, standardwebhooks, Clerk's verifyWebhook), accept every
 * delivery Latchkey makes, and refuse tampered or stale ones.
 */

interface Envelope {
  object: string;
  id: string;
  sequence: number;
  type: string;
  data: { id: string; user_id?: string; object: string };
  timestamp: number;
  instance_id: string;
}

/** The three receivers. Each returns the event it accepted, or throws. */
const verifiers = {
  svix: async (d: Delivery, secret: string) => new SvixWebhook(secret).verify(d.body, d.headers),
  standardwebhooks: async (d: Delivery, secret: string) => new StandardWebhook(secret).verify(d.body, d.headers),
  clerk: async (d: Delivery, secret: string) =>
    verifyWebhook(new Request('http://127.0.0.1/api/webhooks', { method: 'POST', headers: d.headers, body: d.body }), { signingSecret: secret }),
};
type VerifierName = keyof typeof verifiers;
const VERIFIERS = Object.keys(verifiers) as VerifierName[];

/** What each library says when the timestamp is outside its ±5 minute tolerance. */
const STALE_MESSAGE: Record<VerifierName, RegExp> = {
  svix: /^Message timestamp too old$/,
  standardwebhooks: /^Message timestamp too old$/,
  clerk: /Unable to verify incoming webhook: Message timestamp too old/,
};
const TAMPERED_MESSAGE = /No matching signature found/;

async function rejection(name: VerifierName, d: Delivery, secret: string): Promise<string> {
  try {
    await verifiers[name](d, secret);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${name} accepted a delivery it should have refused`);
}

const envelope = (d: Delivery) => JSON.parse(d.body) as Envelope;

/** The user an event is about (deliveries for one user keep their order); none for email.created. */
const userOf = (e: Envelope) => (e.type.startsWith('user.') ? e.data.id : e.data.user_id);

/** One character changed inside a string value, so the body is still valid JSON: only the signature can object. */
function tampered(d: Delivery): Delivery {
  const i = d.body.indexOf('"instance_id":"ins_') + '"instance_id":"ins_'.length;
  const flipped = d.body[i] === 'a' ? 'b' : 'a';
  return { ...d, body: d.body.slice(0, i) + flipped + d.body.slice(i + 1) };
}

async function createEndpoint(server: TestServer, url: string): Promise<{ id: string; secret: string }> {
  const res = await server.api('/v1/webhook_endpoints', { method: 'POST', json: { url } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { id: string; secret: string };
  expect(body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
  return body;
}

/** Frontend API call as a native client (Bearer client token instead of a cookie). */
async function frontend(server: TestServer, path: string, json: unknown, token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'latchkey-native': '1' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(json) });
  expect(res.status, `${path} → ${res.status}`).toBe(200);
  return { body: (await res.json()) as { response: { id: string; created_session_id: string } }, token: res.headers.get('latchkey-client-token') ?? token };
}

const PASSWORD = 'a sturdy long password';

/** Makes Latchkey record every event type, through the Backend API and the Frontend API. */
async function produceEveryEventType(server: TestServer): Promise<void> {
  const post = (path: string, json: unknown = {}) => server.api(path, { method: 'POST', json });
  const user = (await (await post('/v1/users', { email_address: ['alice@example.com'], password: PASSWORD })).json()) as { id: string }; // user.created
  await server.api(`/v1/users/${user.id}`, { method: 'PATCH', json: { first_name: 'Alice' } }); // user.updated
  const s1 = (await (await post('/v1/sessions', { user_id: user.id })).json()) as { id: string }; // session.created
  await post(`/v1/sessions/${s1.id}/revoke`); // session.revoked

  // Signing out on the Frontend API ends the session: session.ended.
  const signIn = await frontend(server, '/v1/client/sign_ins', { identifier: 'alice@example.com', password: PASSWORD });
  await frontend(server, `/v1/client/sessions/${signIn.body.response.created_session_id}/end`, {}, signIn.token!);

  // Deleting a user with a live session: session.removed, then user.deleted.
  await post('/v1/sessions', { user_id: user.id });
  await server.api(`/v1/users/${user.id}`, { method: 'DELETE' });

  // A development instance emails the sign-up code to its outbox: email.created.
  await frontend(server, '/v1/client/sign_ups', { email_address: 'bob@example.com', password: PASSWORD });
}

/** Every event in GET /v1/events, in sequence order. */
async function feed(server: TestServer): Promise<Envelope[]> {
  const res = await server.api('/v1/events?after=0&limit=500');
  return ((await res.json()) as { data: Envelope[] }).data;
}

describe.each(dialects())('real webhook receivers accept Latchkey deliveries (%s)', (dialect: DialectName) => {
  let server: TestServer;
  let receiver: Receiver;
  let endpoint: { id: string; secret: string };
  /** The deliveries of the first batch: one per event, every type among them. */
  let batch: Delivery[];

  beforeAll(async () => {
    receiver = await startReceiver();
    server = await startServer(dialect, { webhookPollMs: 50 });
    endpoint = await createEndpoint(server, receiver.url);
    await produceEveryEventType(server);
    // Some emails are sent after the request returns: wait until every type is recorded, then delivered.
    const events = await waitFor('every event type to be recorded', async () => {
      const recorded = await feed(server);
      return EVENT_TYPES.every((t) => recorded.some((e) => e.type === t)) ? recorded : undefined;
    });
    batch = await waitFor('every event to be delivered', () => {
      const got = new Map(receiver.deliveries.map((d) => [envelope(d).id, d]));
      return events.every((e) => got.has(e.id)) ? events.map((e) => got.get(e.id)!) : undefined;
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('delivers every event type', () => {
    expect(new Set(batch.map((d) => envelope(d).type))).toEqual(new Set(EVENT_TYPES));
  });

  it('svix, standardwebhooks and Clerk verifyWebhook all accept every delivery and read the same event', async () => {
    for (const d of receiver.deliveries) {
      const sent = envelope(d);
      expect(await verifiers.svix(d, endpoint.secret)).toEqual(sent);
      expect(await verifiers.standardwebhooks(d, endpoint.secret)).toEqual(sent);
      // Clerk's verifyWebhook hands back the Clerk fields of the envelope only.
      const { object, type, data, timestamp, instance_id, event_attributes } = sent;
      expect(await verifiers.clerk(d, endpoint.secret)).toEqual({ object, type, data, timestamp, instance_id, event_attributes });
    }
  });

  it('carries the request each change came from, as Clerk\'s event_attributes.http_request', () => {
    // Every change here was made over HTTP from this test process, on loopback.
    for (const d of receiver.deliveries) {
      const { http_request } = (envelope(d) as unknown as { event_attributes: { http_request: { client_ip: string; user_agent: string } } })
        .event_attributes;
      expect(http_request.client_ip).toMatch(/^(::ffff:)?127\.0\.0\.1$|^::1$/);
      expect(http_request.user_agent).not.toBe('');
    }
  });

  it('sends compact JSON and both header sets, with the timestamp in seconds', () => {
    for (const d of receiver.deliveries) {
      expect(JSON.stringify(JSON.parse(d.body))).toBe(d.body);
      expect(d.headers['content-type']).toMatch(/^application\/json/);
      expect(d.headers['svix-id']).toMatch(/^msg_/);
      expect(d.headers['webhook-id']).toBe(d.headers['svix-id']);
      expect(d.headers['webhook-timestamp']).toBe(d.headers['svix-timestamp']);
      expect(d.headers['webhook-signature']).toBe(d.headers['svix-signature']);
      expect(d.headers['svix-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      // Seconds, not milliseconds: signed after the event happened and before it arrived.
      const ts = d.headers['svix-timestamp']!;
      expect(ts).toMatch(/^\d{10}$/);
      expect(Number(ts)).toBeGreaterThanOrEqual(Math.floor(envelope(d).timestamp / 1000));
      expect(Number(ts)).toBeLessThanOrEqual(Math.floor(d.receivedAt / 1000));
    }
  });

  it('wraps each event in the envelope; distinct events have strictly increasing sequences', async () => {
    const instanceId = (await (await server.api('/v1/instance')).json() as { id: string }).id;
    for (const d of batch) {
      expect(envelope(d)).toMatchObject({
        object: 'event', id: expect.stringMatching(/^evt_/), type: expect.any(String), sequence: expect.any(Number),
        instance_id: instanceId, timestamp: expect.any(Number), data: expect.any(Object),
      });
    }
    // `batch` is in feed order: the delivered sequences follow it, strictly increasing, one per event.
    const sequences = batch.map((d) => envelope(d).sequence);
    expect(sequences).toEqual((await feed(server)).map((e) => e.sequence));
    for (let i = 1; i < sequences.length; i++) expect(sequences[i]!).toBeGreaterThan(sequences[i - 1]!);
    // One user's events arrive in the order they happened.
    const byUser = new Map<string, number[]>();
    for (const d of receiver.deliveries) {
      const e = envelope(d);
      const user = userOf(e);
      if (user) byUser.set(user, [...(byUser.get(user) ?? []), e.sequence]);
    }
    for (const [user, seen] of byUser) expect(seen, user).toEqual([...seen].sort((a, b) => a - b));
  });

  it('each verifier refuses a body with one character changed', async () => {
    for (const d of batch) {
      for (const name of VERIFIERS) expect(await rejection(name, tampered(d), endpoint.secret), name).toMatch(TAMPERED_MESSAGE);
    }
  });

  it('rotating the secret: both secrets sign for 24 h, and each verifier accepts either', async () => {
    const before = Date.now();
    const res = await server.api(`/v1/webhook_endpoints/${endpoint.id}/rotate_secret`, { method: 'POST' });
    const after = Date.now();
    expect(res.status).toBe(200);
    const rotated = (await res.json()) as { secret: string; previous_secret_expires_at: number };
    const oldSecret = endpoint.secret;
    const newSecret = rotated.secret;
    expect(newSecret).toMatch(/^whsec_/);
    expect(newSecret).not.toBe(oldSecret);
    const DAY = 24 * 3_600_000;
    expect(rotated.previous_secret_expires_at).toBeGreaterThanOrEqual(before + DAY);
    expect(rotated.previous_secret_expires_at).toBeLessThanOrEqual(after + DAY);
    const shown = (await (await server.api(`/v1/webhook_endpoints/${endpoint.id}`)).json()) as { previous_secret_expires_at: number };
    expect(shown.previous_secret_expires_at).toBe(rotated.previous_secret_expires_at);
    const current = (await (await server.api(`/v1/webhook_endpoints/${endpoint.id}/secret`)).json()) as { secret: string };
    expect(current.secret).toBe(newSecret);

    const user = (await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['carol@example.com'] } })).json()) as { id: string };
    const d = await waitFor('the post-rotation delivery', () =>
      receiver.deliveries.find((x) => envelope(x).type === 'user.created' && envelope(x).data.id === user.id));
    const signatures = d.headers['svix-signature']!.split(' ');
    expect(signatures).toHaveLength(2);
    for (const s of signatures) expect(s).toMatch(/^v1,/);
    for (const name of VERIFIERS) {
      for (const secret of [oldSecret, newSecret]) expect(await verifiers[name](d, secret), name).toMatchObject({ type: 'user.created' });
    }
    // The new secret really is new: it did not sign what was sent before the rotation.
    for (const name of VERIFIERS) expect(await rejection(name, batch[0]!, newSecret), name).toMatch(TAMPERED_MESSAGE);
  });

  it('a replayed message comes again with the same svix-id and the same event, so receivers can drop duplicates', async () => {
    const original = batch[0]!;
    const id = original.headers['svix-id']!;
    // Replay a settled message (a pending one would only be hurried, not sent twice).
    await waitFor('the message to be settled', async () => {
      const m = (await (await server.api(`/v1/webhook_messages/${id}`)).json()) as { status: string };
      return m.status === 'succeeded' ? true : undefined;
    });
    expect((await server.api(`/v1/webhook_messages/${id}/replay`, { method: 'POST' })).status).toBe(200);
    const again = await waitFor('the replayed delivery', () =>
      receiver.deliveries.find((x) => x !== original && x.headers['svix-id'] === id));
    expect(envelope(again).id).toBe(envelope(original).id);
    expect(envelope(again).sequence).toBe(envelope(original).sequence);
    expect(again.body).toBe(original.body);
    expect(again.headers['webhook-id']).toBe(id);
  });

  describe('a delivery signed 10 minutes ago', () => {
    let staleServer: TestServer;
    let staleReceiver: Receiver;

    beforeAll(async () => {
      staleReceiver = await startReceiver();
      // Latchkey's own clock is behind, so it signs with a timestamp older than the verifiers' 5 minute tolerance.
      staleServer = await startServer(dialect, { clock: new ManualClock(Date.now() - 10 * 60_000), webhookPollMs: 50 });
    });
    afterAll(async () => {
      await staleServer?.close();
      await staleReceiver?.close();
    });

    it('is refused by each verifier because of its timestamp, though the signature is right', async () => {
      const { secret } = await createEndpoint(staleServer, staleReceiver.url);
      await staleServer.api('/v1/users', { method: 'POST', json: { email_address: ['stale@example.com'] } });
      const d = await waitFor('the stale delivery', () => staleReceiver.deliveries[0]);
      const ts = Number(d.headers['svix-timestamp']);
      expect(Date.now() / 1000 - ts).toBeGreaterThan(300);
      // The signature matches the old timestamp: the timestamp alone is what the verifiers object to.
      expect(new StandardWebhook(secret).sign(d.headers['svix-id']!, new Date(ts * 1000), d.body)).toBe(d.headers['svix-signature']);
      for (const name of VERIFIERS) expect(await rejection(name, d, secret), name).toMatch(STALE_MESSAGE[name]);
    });
  });
});
