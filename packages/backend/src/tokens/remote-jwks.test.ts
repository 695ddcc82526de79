import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { TokenVerificationError } from './errors.js';
import type { Jwk } from './key-sources.js';
import { RemoteJwks } from './remote-jwks.js';

function rsaJwk(kid: string): Jwk {
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...(publicKey.export({ format: 'jwk' }) as Jwk), kid, alg: 'RS256', use: 'sig' };
}

// RSA generation is slow: make the keys once.
const K1 = rsaJwk('k1');
const K2 = rsaJwk('k2');
const K3 = rsaJwk('k3');

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const jwksResponse = (keys: Jwk[]) =>
  new Response(JSON.stringify({ keys }), { status: 200, headers: { 'content-type': 'application/json' } });

/**
 * A scripted JWKS endpoint: each call takes the next behaviour from `plan`
 * (a key list, an Error to throw, a status code, or 'hang' for a response that
 * only comes when the test releases it). A manual clock drives the cache.
 */
function harness(opts: { ttlMs?: number; minRefetchIntervalMs?: number } = {}) {
  type Step = Jwk[] | Error | number | 'hang';
  const plan: Step[] = [];
  const hung: Deferred<Response>[] = [];
  const calls: { url: string; init: RequestInit | undefined; at: number }[] = [];
  let t = 1_000_000;
  const fetchImpl = (async (url: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(url), init, at: t });
    const step = plan.shift();
    if (step === undefined) throw new Error('unexpected fetch');
    if (step === 'hang') {
      const d = deferred<Response>();
      hung.push(d);
      return d.promise;
    }
    if (step instanceof Error) throw step;
    if (typeof step === 'number') return new Response('nope', { status: step });
    return jwksResponse(step);
  }) as typeof fetch;
  const jwks = new RemoteJwks({
    url: 'https://auth.example.com/.well-known/jwks.json',
    headers: { Authorization: 'Bearer sk_test_x' },
    fetch: fetchImpl,
    now: () => t,
    ttlMs: opts.ttlMs ?? 300_000,
    minRefetchIntervalMs: opts.minRefetchIntervalMs ?? 5_000,
  });
  return {
    jwks,
    plan,
    hung,
    calls,
    advance(ms: number) {
      t += ms;
    },
  };
}

/** Resolves a keyFor() result to a KeyObject, whichever form it came in. */
const resolveKey = async (k: KeyObject | Promise<KeyObject>) => (k instanceof Promise ? k : k);

async function reasonOf(p: KeyObject | Promise<KeyObject>): Promise<string> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(TokenVerificationError);
    return (err as TokenVerificationError).reason;
  }
  throw new Error('expected keyFor to fail');
}

const nEquals = (key: KeyObject, jwk: Jwk) => expect((key.export({ format: 'jwk' }) as Jwk).n).toBe(jwk.n);

/** Lets queued promise callbacks run. */
const flush = () => new Promise((r) => setImmediate(r));

describe('RemoteJwks', () => {
  it('fetches the JWKS on first use, with the configured URL and headers', async () => {
    const h = harness();
    h.plan.push([K1, K2]);
    const key = await resolveKey(h.jwks.keyFor('k2'));
    nEquals(key, K2);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.url).toBe('https://auth.example.com/.well-known/jwks.json');
    expect(h.calls[0]!.init?.headers).toEqual({ Authorization: 'Bearer sk_test_x' });
  });

  it('answers a cached kid synchronously, without fetching, while fresh', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(299_000);
    const again = h.jwks.keyFor('k1');
    expect(again).not.toBeInstanceOf(Promise);
    nEquals(again as KeyObject, K1);
    await flush();
    expect(h.calls).toHaveLength(1);
  });

  it('a cached key never waits on a fetch, even when stale and the refresh hangs', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(300_001); // past the TTL
    h.plan.push('hang');
    const stale = h.jwks.keyFor('k1');
    // Synchronous: a KeyObject, not a promise that could wait on the hung fetch.
    expect(stale).not.toBeInstanceOf(Promise);
    nEquals(stale as KeyObject, K1);
    await flush();
    expect(h.calls).toHaveLength(2); // the background refresh started
    expect(h.hung).toHaveLength(1);

    // Still hanging: further lookups stay synchronous and do not pile up fetches.
    for (let i = 0; i < 10; i++) expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(2);

    // When the refresh lands, its keys are used (k1 rotated out, k2 in).
    h.hung[0]!.resolve(jwksResponse([K2]));
    await flush();
    nEquals((await resolveKey(h.jwks.keyFor('k2'))), K2);
    expect(h.calls).toHaveLength(2);
  });

  it('keeps serving cached keys when a background refresh fails', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(400_000);
    h.plan.push(new Error('connection refused'));
    expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(2);
    const after = h.jwks.keyFor('k1');
    expect(after).not.toBeInstanceOf(Promise);
    nEquals(after as KeyObject, K1);
  });

  it('while the endpoint is down, a stale cache retries at most once per 30 s back-off', async () => {
    const h = harness(); // minRefetchIntervalMs 5 s, so the back-off is 30 s
    h.plan.push([K1]);
    await h.jwks.keyFor('k1'); // fetch #1
    h.advance(400_000); // stale
    h.plan.push(new Error('connection refused'));

    // 100 verifications over 29.7 s: each gets the cached key at once, and only
    // the first starts a refresh, even though each failed fetch has ended.
    for (let i = 0; i < 100; i++) {
      const key = h.jwks.keyFor('k1');
      expect(key).not.toBeInstanceOf(Promise);
      nEquals(key as KeyObject, K1);
      await flush();
      if (i < 99) h.advance(300);
    }
    expect(h.calls).toHaveLength(2);

    // Just short of the back-off: still nothing; once it has passed: one more attempt.
    h.advance(299);
    expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(2);
    h.advance(1);
    h.plan.push(new Error('connection refused'));
    for (let i = 0; i < 10; i++) expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(3);
    expect(h.calls[2]!.at - h.calls[1]!.at).toBe(30_000);

    // The endpoint recovers (k2 rotated in): the next attempt picks the new keys up.
    h.advance(30_000);
    h.plan.push([K1, K2]);
    nEquals(h.jwks.keyFor('k1') as KeyObject, K1);
    await flush();
    expect(h.calls).toHaveLength(4);
    const k2 = h.jwks.keyFor('k2');
    expect(k2).not.toBeInstanceOf(Promise);
    nEquals(k2 as KeyObject, K2);
    // Fresh again: no more fetches.
    h.jwks.keyFor('k1');
    await flush();
    expect(h.calls).toHaveLength(4);
  });

  it('a failed unknown-kid refetch also starts the stale-refresh back-off', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(400_000); // stale
    h.plan.push(new Error('connection refused'));
    expect(await reasonOf(h.jwks.keyFor('k9'))).toBe('jwk-failed-to-load'); // fetch #2 fails
    expect(h.calls).toHaveLength(2);
    h.advance(10_000);
    expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(2);
  });

  it('an unknown kid refetches once and finds a rotated-in key', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(5_000);
    h.plan.push([K1, K2]);
    const key = await h.jwks.keyFor('k2');
    nEquals(key, K2);
    expect(h.calls).toHaveLength(2);
    // Now cached: no more fetches.
    expect(h.jwks.keyFor('k2')).not.toBeInstanceOf(Promise);
    await flush();
    expect(h.calls).toHaveLength(2);
  });

  it('an unknown kid that is still unknown after the refetch fails with jwk-kid-mismatch', async () => {
    const h = harness();
    h.plan.push([K1]);
    expect(await reasonOf(h.jwks.keyFor('forged'))).toBe('jwk-kid-mismatch');
    expect(h.calls).toHaveLength(1);
  });

  it('unknown kids within the minimum interval do not refetch again', async () => {
    const h = harness({ minRefetchIntervalMs: 5_000 });
    h.plan.push([K1]);
    await h.jwks.keyFor('k1'); // fetch #1 at t0
    h.advance(5_000);
    h.plan.push([K1]);
    expect(await reasonOf(h.jwks.keyFor('forged-1'))).toBe('jwk-kid-mismatch'); // fetch #2 at t0+5s
    expect(h.calls).toHaveLength(2);

    // A flood of forged kids inside the interval costs nothing more.
    for (let i = 0; i < 20; i++) {
      h.advance(200); // up to 4 s after fetch #2
      expect(await reasonOf(h.jwks.keyFor(`forged-${i + 2}`))).toBe('jwk-kid-mismatch');
    }
    expect(h.calls).toHaveLength(2);
    // A genuinely rotated-in key inside the interval is not found yet either…
    expect(await reasonOf(h.jwks.keyFor('k3'))).toBe('jwk-kid-mismatch');
    expect(h.calls).toHaveLength(2);

    // …but once the interval has passed, an unknown kid refetches (once).
    h.advance(1_000);
    h.plan.push([K1, K3]);
    nEquals(await h.jwks.keyFor('k3'), K3);
    expect(h.calls).toHaveLength(3);
    expect(h.calls[2]!.at - h.calls[1]!.at).toBeGreaterThanOrEqual(5_000);
  });

  it('concurrent unknown-kid lookups share one fetch', async () => {
    const h = harness();
    h.plan.push('hang');
    const lookups = [
      h.jwks.keyFor('k1'), h.jwks.keyFor('k2'), h.jwks.keyFor('k1'), h.jwks.keyFor('k3'), h.jwks.keyFor('k2'),
    ].map((k) => resolveKey(k));
    await flush();
    expect(h.calls).toHaveLength(1);
    h.hung[0]!.resolve(jwksResponse([K1, K2, K3]));
    const keys = await Promise.all(lookups);
    nEquals(keys[0]!, K1);
    nEquals(keys[1]!, K2);
    nEquals(keys[2]!, K1);
    nEquals(keys[3]!, K3);
    nEquals(keys[4]!, K2);
    expect(h.calls).toHaveLength(1);
  });

  it('concurrent lookups for a new kid after a rotation share one refetch', async () => {
    const h = harness();
    h.plan.push([K1]);
    await h.jwks.keyFor('k1');
    h.advance(10_000);
    h.plan.push('hang');
    const lookups = Array.from({ length: 8 }, () => resolveKey(h.jwks.keyFor('k2')));
    await flush();
    expect(h.calls).toHaveLength(2);
    // The old key is still served synchronously meanwhile.
    expect(h.jwks.keyFor('k1')).not.toBeInstanceOf(Promise);
    h.hung[0]!.resolve(jwksResponse([K1, K2]));
    for (const k of await Promise.all(lookups)) nEquals(k, K2);
    expect(h.calls).toHaveLength(2);
  });

  it('a failing fetch gives reason jwk-failed-to-load (network error or HTTP error)', async () => {
    const network = harness();
    network.plan.push(new TypeError('fetch failed'));
    expect(await reasonOf(network.jwks.keyFor('k1'))).toBe('jwk-failed-to-load');

    const http = harness();
    http.plan.push(503);
    expect(await reasonOf(http.jwks.keyFor('k1'))).toBe('jwk-failed-to-load');

    const badJson = harness();
    badJson.plan.push('hang');
    const p = badJson.jwks.keyFor('k1');
    await flush();
    badJson.hung[0]!.resolve(new Response('<html>', { status: 200 }));
    expect(await reasonOf(p)).toBe('jwk-failed-to-load');
  });

  it('an endpoint that accepts the connection and never answers fails the fetch after timeoutMs', async () => {
    // A real server on loopback that holds every request open: fetch's own limit would be minutes.
    const held: ServerResponse[] = [];
    const server = createServer((_req, res) => void held.push(res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const jwks = new RemoteJwks({ url: `http://127.0.0.1:${port}/jwks`, timeoutMs: 200 });
      const err = await Promise.resolve(jwks.keyFor('k1')).then(() => undefined, (e: unknown) => e as TokenVerificationError);
      expect(err?.reason).toBe('jwk-failed-to-load');
      expect(err?.message).toContain('no answer within 200 ms');
      expect(held).toHaveLength(1);
    } finally {
      for (const res of held) res.destroy();
      server.close();
    }
  });

  it('every lookup that waited on a failing fetch hears the same reason', async () => {
    const h = harness();
    h.plan.push('hang');
    const lookups = ['k1', 'k2', 'k3'].map((kid) => reasonOf(h.jwks.keyFor(kid)));
    await flush();
    h.hung[0]!.reject(new TypeError('fetch failed'));
    expect(await Promise.all(lookups)).toEqual(['jwk-failed-to-load', 'jwk-failed-to-load', 'jwk-failed-to-load']);
    expect(h.calls).toHaveLength(1);
  });

  it('recovers after a failed load once the minimum interval has passed', async () => {
    const h = harness();
    h.plan.push(new TypeError('fetch failed'));
    expect(await reasonOf(h.jwks.keyFor('k1'))).toBe('jwk-failed-to-load');
    h.advance(5_000);
    h.plan.push([K1]);
    nEquals(await h.jwks.keyFor('k1'), K1);
    expect(h.calls).toHaveLength(2);
  });

  it('a token without kid is invalid and costs no fetch', async () => {
    const h = harness();
    expect(await reasonOf(h.jwks.keyFor(undefined))).toBe('token-invalid');
    expect(h.calls).toHaveLength(0);
  });

  it('ignores keys that are not RSA signing keys with a kid', async () => {
    const h = harness();
    const noKid: Jwk = { ...K1 };
    delete noKid.kid;
    h.plan.push([noKid, { ...K2, use: 'enc' }, { kty: 'EC', kid: 'ec', crv: 'P-256', x: 'x', y: 'y' }, K3]);
    nEquals(await h.jwks.keyFor('k3'), K3);
    h.advance(5_000);
    h.plan.push([K3]);
    expect(await reasonOf(h.jwks.keyFor('k2'))).toBe('jwk-kid-mismatch');
  });
});
