import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { verifyToken as clerkVerifyToken } from '@clerk/backend';
import { runCli, serverEnv } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyToken as lkVerifyToken } from '../../../backend/src/index.js';
import { ManualClock } from '../../src/clock/clock.js';
import { rotateSigningKey } from '../../src/keys/keyring.js';
import { mintToken } from '../../src/tokens/mint.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * Latchkey session tokens verified by the real `verifyToken` of @clerk/backend
 * (networkless with CLERK_JWT_KEY, or with the JWKS from GET /v1/jwks) and by
 * @latchkey/backend. The server runs on a ManualClock: "expired" tokens are
 * minted an hour in the past and keys are retired by moving the clock, never by
 * waiting.
 */

/** Runs the built CLI against the test server's storage. */
const cliOn = (server: TestServer, args: string[], extra: Record<string, string> = {}) => runCli(args, serverEnv(server, extra));

/** `latchkey print-config`, parsed: every KEY=value line, CLERK_JWT_KEY unquoted (it spans lines). */
async function printConfig(server: TestServer): Promise<Record<string, string>> {
  const res = await cliOn(server, ['print-config']);
  expect(res.code, res.stderr).toBe(0);
  const out: Record<string, string> = {};
  const jwtKey = /^CLERK_JWT_KEY="([^"]*)"$/m.exec(res.stdout);
  if (!jwtKey) throw new Error(`print-config printed no CLERK_JWT_KEY:\n${res.stdout}`);
  out.CLERK_JWT_KEY = jwtKey[1]!;
  for (const line of res.stdout.replace(jwtKey[0], '').split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** The payload changed (another user), header and signature kept. */
function tamper(jwt: string, changes: Record<string, unknown>): string {
  const [h, p, s] = jwt.split('.');
  const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), ...changes };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

const pemOfJwk = (jwk: JsonWebKey) => createPublicKey({ key: jwk, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();

async function jwksOf(server: TestServer, path = '/v1/jwks'): Promise<{ keys: (JsonWebKey & { kid: string })[] }> {
  const res = await server.api(path);
  expect(res.status).toBe(200);
  return res.json() as Promise<{ keys: (JsonWebKey & { kid: string })[] }>;
}

/** A user and an active session on `server`; `mint` gets a session token at the clock's time. */
async function sessionOn(server: TestServer, clock: ManualClock, email: string) {
  const user = (await (await server.api('/v1/users', { method: 'POST', json: { email_address: [email] } })).json()) as { id: string };
  const session = (await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json()) as { id: string };
  expect(session.id).toMatch(/^sess_/);
  const mint = async (body: { expires_in_seconds?: number } = {}, template = ''): Promise<string> => {
    const res = await server.api(`/v1/sessions/${session.id}/tokens${template ? `/${template}` : ''}`, { method: 'POST', json: body });
    expect(res.status).toBe(200);
    const token = (await res.json()) as { object: string; jwt: string };
    expect(token.object).toBe('token');
    return token.jwt;
  };
  // The server's clock is frozen: bring it to the real time the SDKs check against.
  const mintNow = (body: { expires_in_seconds?: number } = {}, template = '') => {
    clock.set(Date.now());
    return mint(body, template);
  };
  const mintAnHourAgo = async () => {
    clock.set(Date.now() - 3_600_000);
    try {
      return await mint();
    } finally {
      clock.set(Date.now());
    }
  };
  return { userId: user.id, sessionId: session.id, mintNow, mintAnHourAgo };
}

describe.each(dialects())('@clerk/backend verifyToken accepts Latchkey session tokens (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  let s: Awaited<ReturnType<typeof sessionOn>>;
  let printed: Record<string, string>;

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    s = await sessionOn(server, clock, 'verify@example.com');
    printed = await printConfig(server);
  });
  afterAll(() => server?.close());

  it('print-config prints the app settings of this instance and CLERK_JWT_KEY as an SPKI PEM', () => {
    expect(printed.CLERK_API_URL).toBe(server.url);
    expect(printed.CLERK_SECRET_KEY).toBe(server.secretKey);
    expect(printed.CLERK_PUBLISHABLE_KEY).toBe(server.publishableKey);
    expect(printed.CLERK_JWT_KEY).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----$/);
    const key = createPublicKey(printed.CLERK_JWT_KEY!);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
  });

  it('accepts a token with jwtKey = the CLERK_JWT_KEY printed by `latchkey print-config`', async () => {
    const jwt = await s.mintNow();
    const payload = await clerkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY });
    expect(payload).toMatchObject({ sub: s.userId, sid: s.sessionId, iss: server.url, v: 2, sts: 'active' });
    // With the issuer check an app would ask for.
    const checked = await clerkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY, issuer: server.url });
    expect(checked.sub).toBe(s.userId);
    // The bare base64 body works too (how CLERK_JWT_KEY is often pasted).
    const body = printed.CLERK_JWT_KEY!.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    expect((await clerkVerifyToken(jwt, { jwtKey: body })).sub).toBe(s.userId);
    await expect(clerkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY, issuer: 'https://someone-else.example.com' }))
      .rejects.toMatchObject({ reason: 'token-invalid-issuer' });
  });

  it('accepts a token with jwtKey = the PEM derived from the served JWKS (the same key print-config prints)', async () => {
    const jwt = await s.mintNow();
    const jwks = await jwksOf(server, '/.well-known/jwks.json');
    expect(jwks.keys).toHaveLength(1);
    const jwk = jwks.keys[0]!;
    expect(jwk).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig', e: 'AQAB', kid: headerOf(jwt).kid });
    const pem = pemOfJwk(jwk);
    expect(pem.trim()).toBe(printed.CLERK_JWT_KEY);
    const payload = await clerkVerifyToken(jwt, { jwtKey: pem });
    expect(payload).toMatchObject({ sub: s.userId, sid: s.sessionId });
  });

  it('accepts a token through apiUrl + secretKey (JWKS fetched from GET /v1/jwks)', async () => {
    const jwt = await s.mintNow({ expires_in_seconds: 300 });
    const payload = await clerkVerifyToken(jwt, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true });
    expect(payload).toMatchObject({ sub: s.userId, sid: s.sessionId, iss: server.url });
    expect((payload.exp as number) - (payload.iat as number)).toBe(300);
    // Cached path (no skipJwksCache) and the issuer check.
    expect((await clerkVerifyToken(jwt, { apiUrl: server.url, secretKey: server.secretKey, issuer: server.url })).sid).toBe(s.sessionId);
  });

  it('rejects an expired token (minted with the server clock an hour back) on both key paths', async () => {
    const jwt = await s.mintAnHourAgo();
    expect(claimsOf(jwt).exp as number).toBeLessThan(Date.now() / 1000 - 3000);
    await expect(clerkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY })).rejects.toMatchObject({ reason: 'token-expired' });
    await expect(clerkVerifyToken(jwt, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true }))
      .rejects.toMatchObject({ reason: 'token-expired' });
  });

  it('rejects a tampered token (payload changed, signature kept) on both key paths', async () => {
    const jwt = await s.mintNow();
    expect((await clerkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY })).sub).toBe(s.userId);
    const forged = tamper(jwt, { sub: 'user_2someoneElseEntirely000000' });
    await expect(clerkVerifyToken(forged, { jwtKey: printed.CLERK_JWT_KEY })).rejects.toMatchObject({ reason: 'token-invalid-signature' });
    await expect(clerkVerifyToken(forged, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true }))
      .rejects.toMatchObject({ reason: 'token-invalid-signature' });
    const longer = tamper(jwt, { exp: (claimsOf(jwt).exp as number) + 86_400 });
    await expect(clerkVerifyToken(longer, { jwtKey: printed.CLERK_JWT_KEY })).rejects.toMatchObject({ reason: 'token-invalid-signature' });
  });
});

/**
 * Its own server: @clerk/backend keeps every kid it has fetched for 5 minutes per
 * (apiUrl, secret key), so this verifier must not have seen the old key before
 * it leaves the JWKS.
 */
describe.each(dialects())('@clerk/backend verifyToken across `latchkey keys rotate` (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
  });
  afterAll(() => server?.close());

  it('keeps accepting old tokens while the retired key is published, and refuses them once it has left the JWKS', async () => {
    const s = await sessionOn(server, clock, 'rotate@example.com');
    const before = await printConfig(server);
    const old = await s.mintNow({ expires_in_seconds: 600 });
    const oldKid = headerOf(old).kid as string;
    expect((await clerkVerifyToken(old, { jwtKey: before.CLERK_JWT_KEY })).sub).toBe(s.userId);

    const rotated = await cliOn(server, ['keys', 'rotate']);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = /^New signing key (\S+) is active/m.exec(rotated.stdout)?.[1];
    expect(newKid).toBeDefined();
    expect(newKid).not.toBe(oldKid);
    expect(rotated.stdout).toContain(`Retired ${oldKid}`);
    await server.lk.services.keyring.reload();

    // Right after rotation both keys are published, and new tokens carry the new kid.
    const afterRotation = await jwksOf(server);
    expect(afterRotation.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect((await jwksOf(server, '/.well-known/jwks.json')).keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    const fresh = await s.mintNow({ expires_in_seconds: 600 });
    expect(headerOf(fresh).kid).toBe(newKid);

    // The old token still verifies against the old key as served in the JWKS.
    const oldJwk = afterRotation.keys.find((k) => k.kid === oldKid)!;
    expect((await clerkVerifyToken(old, { jwtKey: pemOfJwk(oldJwk) })).sub).toBe(s.userId);
    // print-config now prints the new key, which does not verify old tokens.
    const after = await printConfig(server);
    expect(after.CLERK_JWT_KEY).not.toBe(before.CLERK_JWT_KEY);
    expect((await clerkVerifyToken(fresh, { jwtKey: after.CLERK_JWT_KEY })).sub).toBe(s.userId);
    await expect(clerkVerifyToken(old, { jwtKey: after.CLERK_JWT_KEY })).rejects.toMatchObject({ reason: 'token-invalid-signature' });

    // The retired key covers the old token's exp; move the server past that bound.
    const row = await server.db.selectFrom('signing_keys').selectAll().where('kid', '=', oldKid).executeTakeFirstOrThrow();
    expect(row.status).toBe('retired');
    expect(row.signed_until).toBeGreaterThanOrEqual((claimsOf(old).exp as number) * 1000);
    clock.set(row.signed_until + 1);
    await server.lk.services.keyring.reload();
    expect((await jwksOf(server)).keys.map((k) => k.kid)).toEqual([newKid]);

    // Real time is still well before the old token's exp: the kid alone makes it fail.
    expect(claimsOf(old).exp as number).toBeGreaterThan(Date.now() / 1000 + 60);
    await expect(clerkVerifyToken(old, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true }))
      .rejects.toMatchObject({ reason: 'jwk-kid-mismatch' });
    expect((await clerkVerifyToken(fresh, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true })).sub).toBe(s.userId);
  });
});

describe.each(dialects())('@latchkey/backend verifyToken against Latchkey (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  let s: Awaited<ReturnType<typeof sessionOn>>;

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    s = await sessionOn(server, clock, 'lk-verify@example.com');
  });
  afterAll(() => server?.close());

  it('accepts tokens with jwksUrl, jwtKey (print-config and JWKS-derived), keys and apiUrl + secretKey', async () => {
    const jwt = await s.mintNow();
    const expected = { sub: s.userId, sid: s.sessionId, iss: server.url, v: 2, sts: 'active', fva: [-1, -1] };
    expect(await lkVerifyToken(jwt, { jwksUrl: `${server.url}/.well-known/jwks.json` })).toMatchObject(expected);
    expect(await lkVerifyToken(jwt, { apiUrl: server.url, secretKey: server.secretKey })).toMatchObject(expected);
    const printed = await printConfig(server);
    expect(await lkVerifyToken(jwt, { jwtKey: printed.CLERK_JWT_KEY! })).toMatchObject(expected);
    const jwks = await jwksOf(server, '/.well-known/jwks.json');
    expect(await lkVerifyToken(jwt, { jwtKey: pemOfJwk(jwks.keys[0]!) })).toMatchObject(expected);
    expect(await lkVerifyToken(jwt, { keys: jwks as never })).toMatchObject(expected);
  });

  it('checks issuer byte for byte, audience and authorized parties when asked', async () => {
    const jwt = await s.mintNow();
    const jwksUrl = `${server.url}/.well-known/jwks.json`;
    expect((await lkVerifyToken(jwt, { jwksUrl, issuer: server.url })).sub).toBe(s.userId);
    expect((await lkVerifyToken(jwt, { jwksUrl, issuer: [server.url, 'https://other.example.com'] })).sub).toBe(s.userId);
    await expect(lkVerifyToken(jwt, { jwksUrl, issuer: `${server.url}/` })).rejects.toMatchObject({ reason: 'token-invalid-issuer' });
    await expect(lkVerifyToken(jwt, { jwksUrl, issuer: 'https://other.example.com' })).rejects.toMatchObject({ reason: 'token-invalid-issuer' });

    // Session tokens have no aud; the built-in convex template's aud is "convex".
    await expect(lkVerifyToken(jwt, { jwksUrl, audience: 'convex' })).rejects.toMatchObject({ reason: 'token-invalid-audience' });
    const convex = await s.mintNow({}, 'convex');
    expect(claimsOf(convex).aud).toBe('convex');
    expect((await lkVerifyToken(convex, { jwksUrl, audience: 'convex', issuer: server.url })).sub).toBe(s.userId);
    expect((await lkVerifyToken(convex, { jwksUrl, audience: ['other', 'convex'] })).sub).toBe(s.userId);
    await expect(lkVerifyToken(convex, { jwksUrl, audience: 'other' })).rejects.toMatchObject({ reason: 'token-invalid-audience' });

    // azp: minted in-process (the Backend API route sets none), as the Frontend API would.
    clock.set(Date.now());
    const withAzp = await mintToken(server.lk.services.mint, s.sessionId, { authorizedParty: 'https://app.example.com' });
    expect(claimsOf(withAzp).azp).toBe('https://app.example.com');
    expect((await lkVerifyToken(withAzp, { jwksUrl, authorizedParties: ['https://app.example.com'] })).azp).toBe('https://app.example.com');
    await expect(lkVerifyToken(withAzp, { jwksUrl, authorizedParties: ['https://evil.example.com'] }))
      .rejects.toMatchObject({ reason: 'token-invalid-authorized-party' });
    // @clerk/backend agrees on azp.
    const pem = pemOfJwk((await jwksOf(server)).keys[0]!);
    expect((await clerkVerifyToken(withAzp, { jwtKey: pem, authorizedParties: ['https://app.example.com'] })).azp).toBe('https://app.example.com');
    await expect(clerkVerifyToken(withAzp, { jwtKey: pem, authorizedParties: ['https://evil.example.com'] }))
      .rejects.toMatchObject({ reason: 'token-invalid-authorized-parties' });
    // @clerk/backend 3.x refuses a token without azp once authorizedParties is given
    // (Backend API tokens carry none), so apps passing authorizedParties need azp tokens.
    await expect(clerkVerifyToken(jwt, { jwtKey: pem, authorizedParties: ['https://app.example.com'] }))
      .rejects.toMatchObject({ reason: 'token-invalid-authorized-parties' });
  });

  it('rejects expired and tampered tokens', async () => {
    const jwksUrl = `${server.url}/.well-known/jwks.json`;
    const expired = await s.mintAnHourAgo();
    await expect(lkVerifyToken(expired, { jwksUrl })).rejects.toMatchObject({ reason: 'token-expired' });
    await expect(lkVerifyToken(expired, { apiUrl: server.url, secretKey: server.secretKey })).rejects.toMatchObject({ reason: 'token-expired' });
    // The verifier's own clock decides: at the time it was minted the token was fine.
    const exp = claimsOf(expired).exp as number;
    expect((await lkVerifyToken(expired, { jwksUrl, now: () => (exp - 30) * 1000 })).sub).toBe(s.userId);

    const jwt = await s.mintNow();
    await expect(lkVerifyToken(tamper(jwt, { sub: 'user_2someoneElseEntirely000000' }), { jwksUrl }))
      .rejects.toMatchObject({ reason: 'token-invalid-signature' });
    await expect(lkVerifyToken(tamper(jwt, { exp: (claimsOf(jwt).exp as number) + 86_400 }), { apiUrl: server.url, secretKey: server.secretKey }))
      .rejects.toMatchObject({ reason: 'token-invalid-signature' });
  });
});

/** Its own server: @latchkey/backend caches a JWKS URL's keys for 5 minutes. */
describe.each(dialects())('@latchkey/backend verifyToken across a rotation (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
  });
  afterAll(() => server?.close());

  it('refuses a token whose key has left the JWKS (unknown kid) and accepts the new key', async () => {
    const s = await sessionOn(server, clock, 'lk-rotate@example.com');
    const old = await s.mintNow({ expires_in_seconds: 600 });
    const oldKid = headerOf(old).kid;

    const { newKid, retiredKids } = await rotateSigningKey(server.db, clock, undefined);
    expect(retiredKids).toEqual([oldKid]);
    await server.lk.services.keyring.reload();
    const fresh = await s.mintNow({ expires_in_seconds: 600 });
    expect(headerOf(fresh).kid).toBe(newKid);

    const published = await jwksOf(server, '/.well-known/jwks.json');
    expect(published.keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());
    expect((await lkVerifyToken(old, { keys: published as never })).sub).toBe(s.userId);
    expect((await lkVerifyToken(fresh, { keys: published as never })).sub).toBe(s.userId);

    const { signed_until } = await server.db.selectFrom('signing_keys').select('signed_until').where('kid', '=', oldKid as string).executeTakeFirstOrThrow();
    expect(signed_until).toBeGreaterThanOrEqual((claimsOf(old).exp as number) * 1000);
    clock.set(signed_until + 1);
    await server.lk.services.keyring.reload();

    const current = await jwksOf(server, '/.well-known/jwks.json');
    expect(current.keys.map((k) => k.kid)).toEqual([newKid]);
    await expect(lkVerifyToken(old, { keys: current as never })).rejects.toMatchObject({ reason: 'jwk-kid-mismatch' });
    // Over HTTP (first fetch of this URL happens now, after the old key left).
    const jwksUrl = `${server.url}/.well-known/jwks.json`;
    expect((await lkVerifyToken(fresh, { jwksUrl })).sub).toBe(s.userId);
    await expect(lkVerifyToken(old, { jwksUrl })).rejects.toMatchObject({ reason: 'jwk-kid-mismatch' });
    await expect(lkVerifyToken(old, { apiUrl: server.url, secretKey: server.secretKey })).rejects.toMatchObject({ reason: 'jwk-kid-mismatch' });
  });
});
