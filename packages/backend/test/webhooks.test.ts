import { randomBytes } from 'node:crypto';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { Webhook as SvixWebhook } from 'svix';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type DialectName, type TestServer } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { startReceiver, type Delivery } from '../../server/test/support/webhook-receiver.js';
import {
  createLatchkeyClient, verifyWebhook, verifyWebhookRequest, WebhookVerificationError, type LatchkeyClient, type LatchkeyEvent,
  type WebhookVerificationErrorReason,
} from '../src/index.js';

/**
 * verifyWebhook on real deliveries from Latchkey, and on payloads signed by
 * the real svix and standardwebhooks packages: all three agree on what is
 * genuine, and every refusal names its reason.
 */

/** The reason verifyWebhook refuses with; fails the test if it accepts. */
function reason(fn: () => unknown): WebhookVerificationErrorReason {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).reason;
  }
  throw new Error('verifyWebhook accepted a delivery it should have refused');
}

async function reasonAsync(p: Promise<unknown>): Promise<WebhookVerificationErrorReason> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).reason;
  }
  throw new Error('verifyWebhookRequest accepted a delivery it should have refused');
}

/** One character of a string value changed: still valid JSON, so only the signature can object. */
function tamper(body: Buffer): Buffer {
  const text = body.toString('utf8');
  const i = text.indexOf('"instance_id":"ins_') + '"instance_id":"ins_'.length;
  return Buffer.from(text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1), 'utf8');
}

const without = (headers: Record<string, string>, ...names: string[]) =>
  Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k)));

const envelope = (d: Delivery) => JSON.parse(d.body) as LatchkeyEvent;

describe.each(dialects())('verifyWebhook on real Latchkey deliveries (%s)', (dialect: DialectName) => {
  let server: TestServer;
  let client: LatchkeyClient;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let secret: string;
  let endpointId: string;
  let batch: Delivery[];

  beforeAll(async () => {
    receiver = await startReceiver(undefined, '/webhooks');
    server = await startServer(dialect, { webhookPollMs: 50 });
    client = createLatchkeyClient({ secretKey: server.secretKey, apiUrl: server.url });
    const ep = await client.webhookEndpoints.create({ url: receiver.url });
    secret = ep.secret;
    endpointId = ep.id;
    const u = await client.users.create({ email_address: ['hook@example.com'], first_name: 'Zoë', last_name: '"Quoted" \\ name' });
    await client.users.update(u.id, { first_name: 'Zoé 🎉' });
    const s = await client.sessions.create({ user_id: u.id });
    await client.sessions.revoke(s.id);
    await client.users.delete(u.id);
    const feed = (await client.events.list()).data;
    batch = await waitFor('every event to be delivered', () => {
      const got = new Map(receiver.deliveries.map((d) => [envelope(d).id, d]));
      return feed.every((e) => got.has(e.id)) ? feed.map((e) => got.get(e.id)!) : undefined;
    });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it('accepts every delivery, as a Buffer, a Uint8Array, a string or a parsed body, and returns the event', () => {
    const types = batch.map((d) => envelope(d).type);
    for (const t of ['user.created', 'user.updated', 'session.created', 'session.revoked', 'user.deleted']) expect(types).toContain(t);
    for (const d of batch) {
      const sent = envelope(d);
      expect(verifyWebhook({ secret, payload: d.raw, headers: d.headers })).toEqual(sent);
      expect(verifyWebhook({ secret, payload: new Uint8Array(d.raw), headers: d.headers })).toEqual(sent);
      expect(verifyWebhook({ secret, payload: d.body, headers: d.headers })).toEqual(sent);
      // express.json() ran first: Latchkey's compact JSON survives re-serialising.
      expect(verifyWebhook({ secret, payload: JSON.parse(d.body) as object, headers: d.headers })).toEqual(sent);
      // Headers in any case, or a fetch Headers.
      const upper = Object.fromEntries(Object.entries(d.headers).map(([k, v]) => [k.toUpperCase(), v]));
      expect(verifyWebhook({ secret, payload: d.raw, headers: upper })).toEqual(sent);
      expect(verifyWebhook({ secret, payload: d.raw, headers: new Headers(d.headers) })).toEqual(sent);
    }
    const updated = batch.map(envelope).find((e) => e.type === 'user.updated')!;
    expect(updated.type === 'user.updated' && updated.data.first_name).toBe('Zoé 🎉');
  });

  it('reads either header set: svix-* alone or webhook-* alone', () => {
    for (const d of batch) {
      const svixOnly = without(d.headers, 'webhook-id', 'webhook-timestamp', 'webhook-signature');
      const standardOnly = without(d.headers, 'svix-id', 'svix-timestamp', 'svix-signature');
      expect(verifyWebhook({ secret, payload: d.raw, headers: svixOnly })).toEqual(envelope(d));
      expect(verifyWebhook({ secret, payload: d.raw, headers: standardOnly })).toEqual(envelope(d));
    }
  });

  it('verifyWebhookRequest reads a fetch Request', async () => {
    for (const d of batch) {
      const req = new Request('http://127.0.0.1/api/webhooks', { method: 'POST', headers: d.headers, body: d.raw });
      expect(await verifyWebhookRequest(req, secret)).toEqual(envelope(d));
    }
    const d = batch[0]!;
    const req = () => new Request('http://127.0.0.1/api/webhooks', { method: 'POST', headers: d.headers, body: tamper(d.raw) });
    expect(await reasonAsync(verifyWebhookRequest(req(), secret))).toBe('invalid_signature');
    expect(await reasonAsync(verifyWebhookRequest(req(), undefined))).toBe('missing_secret');
  });

  it('refuses a tampered body, another secret, missing headers, an old or future timestamp, and no secret', () => {
    const otherSecret = `whsec_${randomBytes(24).toString('base64')}`;
    for (const d of batch) {
      const ts = Number(d.headers['svix-timestamp']) * 1000;
      expect(reason(() => verifyWebhook({ secret, payload: tamper(d.raw), headers: d.headers }))).toBe('invalid_signature');
      expect(reason(() => verifyWebhook({ secret: otherSecret, payload: d.raw, headers: d.headers }))).toBe('invalid_signature');
      // The body of one delivery under another's headers.
      const other = batch.find((x) => x !== d)!;
      expect(reason(() => verifyWebhook({ secret, payload: other.raw, headers: d.headers }))).toBe('invalid_signature');
      for (const name of ['id', 'timestamp', 'signature']) {
        const headers = without(d.headers, `svix-${name}`, `webhook-${name}`);
        expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers })), name).toBe('missing_headers');
      }
      expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers: {} }))).toBe('missing_headers');
      // Ten minutes on (or back), the same genuine delivery is refused for its timestamp alone.
      expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers: d.headers, now: () => ts + 10 * 60_000 }))).toBe('timestamp');
      expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers: d.headers, now: () => ts - 10 * 60_000 }))).toBe('timestamp');
      // Within the 5 minutes it passes; a tolerance of its own narrows it.
      expect(verifyWebhook({ secret, payload: d.raw, headers: d.headers, now: () => ts + 4 * 60_000 })).toEqual(envelope(d));
      expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers: d.headers, now: () => ts + 60_000, toleranceInSeconds: 30 })))
        .toBe('timestamp');
      expect(reason(() => verifyWebhook({ secret: undefined, payload: d.raw, headers: d.headers }))).toBe('missing_secret');
      expect(reason(() => verifyWebhook({ secret: '', payload: d.raw, headers: d.headers }))).toBe('missing_secret');
      expect(reason(() => verifyWebhook({ secret: 'whsec_', payload: d.raw, headers: d.headers }))).toBe('missing_secret');
    }
    const d = batch[0]!;
    // A timestamp that is not a number of seconds.
    expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers: { ...d.headers, 'svix-timestamp': 'soon', 'webhook-timestamp': 'soon' } })))
      .toBe('timestamp');
    // A signature header without a v1 entry, or with a v1 entry of the wrong length.
    const sig = d.headers['svix-signature']!;
    for (const bad of ['v2,' + sig.slice(3), 'v1,' + sig.slice(3, 20), 'garbage', ' ']) {
      const headers = { ...d.headers, 'svix-signature': bad, 'webhook-signature': bad };
      expect(reason(() => verifyWebhook({ secret, payload: d.raw, headers })), bad).toBe('invalid_signature');
    }
  });

  it('after a secret rotation a delivery carries two signatures and verifies with either secret', async () => {
    const rotated = await client.webhookEndpoints.rotateSecret(endpointId);
    const u = await client.users.create({ email_address: ['rotated@example.com'] });
    const d = await waitFor('the post-rotation delivery', () =>
      receiver.deliveries.find((x) => { const e = envelope(x); return e.type === 'user.created' && e.data.id === u.id; }));
    expect(d.headers['svix-signature']!.split(' ')).toHaveLength(2);
    expect(verifyWebhook({ secret, payload: d.raw, headers: d.headers })).toEqual(envelope(d));
    expect(verifyWebhook({ secret: rotated.secret, payload: d.raw, headers: d.headers })).toEqual(envelope(d));
    expect(reason(() => verifyWebhook({ secret: rotated.secret, payload: tamper(d.raw), headers: d.headers }))).toBe('invalid_signature');
    // The new secret did not sign what went out before the rotation.
    expect(reason(() => verifyWebhook({ secret: rotated.secret, payload: batch[0]!.raw, headers: batch[0]!.headers }))).toBe('invalid_signature');
    // Each library agrees.
    for (const s of [secret, rotated.secret]) {
      expect(new SvixWebhook(s).verify(d.body, d.headers)).toEqual(envelope(d));
      expect(new StandardWebhook(s).verify(d.body, d.headers)).toEqual(envelope(d));
    }
  });
});

describe('verifyWebhook agrees with the svix and standardwebhooks packages', () => {
  const secret = `whsec_${randomBytes(24).toString('base64')}`;
  const payload = JSON.stringify({ object: 'event', type: 'user.created', data: { id: 'user_1', name: 'Ünïcødé ✓' }, sequence: 7 });
  const msgId = 'msg_2kXr4fJxZ0';

  const signers = {
    svix: (at: Date, body: string, s = secret) => new SvixWebhook(s).sign(msgId, at, body),
    standardwebhooks: (at: Date, body: string, s = secret) => new StandardWebhook(s).sign(msgId, at, body),
  };
  const headersFor = (at: Date, signature: string, prefix: 'svix' | 'webhook') => ({
    [`${prefix}-id`]: msgId, [`${prefix}-timestamp`]: String(Math.floor(at.getTime() / 1000)), [`${prefix}-signature`]: signature,
  });
  const accepts = (verify: () => unknown) => { try { verify(); return true; } catch { return false; } };
  /** Whether each library accepts (standardwebhooks reads only webhook-* headers; svix either set). */
  const theirs = (body: string, headers: Record<string, string>) => ({
    svix: accepts(() => new SvixWebhook(secret).verify(body, headers)),
    ...('webhook-id' in headers ? { standardwebhooks: accepts(() => new StandardWebhook(secret).verify(body, headers)) } : {}),
  });
  /** What theirs() must answer when every library that reads these headers says `ok`. */
  const all = (headers: Record<string, string>, ok: boolean) => ({ svix: ok, ...('webhook-id' in headers ? { standardwebhooks: ok } : {}) });

  for (const [name, sign] of Object.entries(signers)) {
    it(`accepts what ${name} signs, under either header set, and refuses what they refuse`, () => {
      const now = new Date();
      const sig = sign(now, payload);
      expect(sig).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
      for (const prefix of ['svix', 'webhook'] as const) {
        const headers = headersFor(now, sig, prefix);
        expect(theirs(payload, headers)).toEqual(all(headers, true));
        expect(verifyWebhook({ secret, payload, headers })).toEqual(JSON.parse(payload));

        const tampered = payload.replace('user_1', 'user_2');
        expect(theirs(tampered, headers)).toEqual(all(headers, false));
        expect(reason(() => verifyWebhook({ secret, payload: tampered, headers }))).toBe('invalid_signature');

        const other = `whsec_${randomBytes(24).toString('base64')}`;
        const foreign = headersFor(now, sign(now, payload, other), prefix);
        expect(theirs(payload, foreign)).toEqual(all(foreign, false));
        expect(reason(() => verifyWebhook({ secret, payload, headers: foreign }))).toBe('invalid_signature');

        const old = new Date(now.getTime() - 6 * 60_000);
        const stale = headersFor(old, sign(old, payload), prefix);
        expect(theirs(payload, stale)).toEqual(all(stale, false));
        expect(reason(() => verifyWebhook({ secret, payload, headers: stale }))).toBe('timestamp');
      }
      // Two signatures, one of them ours (a rotation): all accept.
      const both = `${sign(now, payload, `whsec_${randomBytes(24).toString('base64')}`)} ${sig}`;
      const headers = headersFor(now, both, 'svix');
      expect(theirs(payload, headers)).toEqual(all(headers, true));
      expect(verifyWebhook({ secret, payload, headers })).toEqual(JSON.parse(payload));
    });
  }

  it('a secret without the whsec_ prefix is the same key', () => {
    const now = new Date();
    const headers = headersFor(now, signers.svix(now, payload), 'svix');
    expect(verifyWebhook({ secret: secret.slice('whsec_'.length), payload, headers })).toEqual(JSON.parse(payload));
  });

  it('no body at all (Express without a body parser) is a TypeError naming express.raw', () => {
    const now = new Date();
    const headers = headersFor(now, signers.svix(now, payload), 'svix');
    expect(() => verifyWebhook({ secret, payload: undefined as unknown as string, headers })).toThrow(TypeError);
    expect(() => verifyWebhook({ secret, payload: undefined as unknown as string, headers })).toThrow(/express\.raw/);
  });

  it('a correctly signed body that is not JSON is invalid_payload', () => {
    const now = new Date();
    const body = 'not json';
    const headers = headersFor(now, signers.standardwebhooks(now, body), 'webhook');
    expect(reason(() => verifyWebhook({ secret, payload: body, headers }))).toBe('invalid_payload');
  });
});
