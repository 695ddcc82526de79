import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyToken, type Jwk } from '../../../backend/src/index.js';
import { ManualClock } from '../../src/clock/clock.js';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { rotateSigningKey, sealStoredKeys } from '../../src/keys/keyring.js';
import { generateSigningKey } from '../../src/keys/signing-key.js';
import { createLatchkey, type Latchkey } from '../../src/latchkey.js';
import { openStorage } from '../../src/storage/database.js';
import { runCli, serverEnv } from '../support/cli.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';

/**
 * Signing-key rotation and encryption at rest, on every dialect. Time only moves
 * when the test moves the server's ManualClock.
 */

const ENCRYPTION_KEY = 'correct horse battery staple, 32+ chars long';
const WRONG_KEY = 'an entirely different key of 32+ characters';
/** A retired key should leave the JWKS soon after its last token expires, not hours later. */
const MAX_LINGER_MS = 10 * 60_000;

const headerOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string };
const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as { exp: number; sub: string };

const envFor = serverEnv;

/** Another Latchkey instance on the same storage (not listening; driven through `fetch`). */
function instanceOn(server: TestServer, clock: ManualClock, extra: Record<string, string> = {}, reloadIntervalMs = 3_600_000): Promise<Latchkey> {
  return createLatchkey(loadConfig(envFor(server, extra)), { clock, reloadIntervalMs });
}

const cliOn = (server: TestServer, args: string[], extra: Record<string, string> = {}) => runCli(args, serverEnv(server, extra), 20_000);

async function publishedJwks(server: TestServer, path = '/.well-known/jwks.json'): Promise<{ keys: Jwk[] }> {
  return (await fetch(`${server.url}${path}`)).json() as Promise<{ keys: Jwk[] }>;
}

async function kidsOf(server: TestServer): Promise<string[]> {
  const served: string[][] = [];
  for (const path of ['/.well-known/jwks.json', '/v1/jwks']) {
    const res = await fetch(`${server.url}${path}`);
    expect(res.status).toBe(200);
    served.push(((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid).sort());
  }
  expect(served[0]).toEqual(served[1]);
  return served[0]!;
}

async function signingKey(lkOrServer: { db: TestServer['db'] }, kid: string) {
  return lkOrServer.db.selectFrom('signing_keys').selectAll().where('kid', '=', kid).executeTakeFirstOrThrow();
}

async function newSession(server: TestServer, email: string): Promise<string> {
  const user = (await (await server.api('/v1/users', { method: 'POST', json: { email_address: [email] } })).json()) as { id: string };
  const session = (await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json()) as { id: string };
  return session.id;
}

/** Mints through `lk`'s HTTP handler (the running server's, or another instance's). */
async function mintVia(lk: Latchkey, server: TestServer, sid: string, body: { expires_in_seconds?: number } = {}, template = ''): Promise<string> {
  const res = await lk.fetch(new Request(`${server.url}/v1/sessions/${sid}/tokens${template ? `/${template}` : ''}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${server.secretKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }));
  expect(res.status).toBe(200);
  return ((await res.json()) as { jwt: string }).jwt;
}

describe.each(dialects())('signing-key rotation (%s)', (dialect) => {
  let server: TestServer;
  let clock: ManualClock;
  const keyring = () => server.lk.services.keyring;

  // A server per test: the tests move the clock, and published keys depend on it.
  beforeEach(async () => {
    clock = new ManualClock(Date.now());
    // Auto-reload effectively off: each test reloads when it means to.
    server = await startServer(dialect, { clock, reloadIntervalMs: 3_600_000 });
  });
  afterEach(() => server?.close());

  it('the new key signs at once; the old key stays published until signed_until passes, then leaves', async () => {
    const sid = await newSession(server, 'rot1@example.com');
    const oldKid = keyring().activeKey.kid;
    expect(await kidsOf(server)).toEqual([oldKid]);
    const old = await mintVia(server.lk, server, sid, { expires_in_seconds: 300 });
    expect(headerOf(old).kid).toBe(oldKid);

    const rotatedAt = clock.now();
    const { newKid, retiredKids } = await rotateSigningKey(server.db, clock, undefined);
    expect(retiredKids).toEqual([oldKid]);
    expect(newKid).not.toBe(oldKid);
    await keyring().reload();

    expect(keyring().activeKey.kid).toBe(newKid);
    const fresh = await mintVia(server.lk, server, sid);
    expect(headerOf(fresh).kid).toBe(newKid);
    expect(await kidsOf(server)).toEqual([oldKid, newKid].sort());

    const oldRow = await signingKey(server, oldKid);
    expect(oldRow).toMatchObject({ status: 'retired', retired_at: rotatedAt });
    expect(await signingKey(server, newKid)).toMatchObject({ status: 'active', retired_at: null });
    const expMs = claimsOf(old).exp * 1000;
    expect(oldRow.signed_until).toBeGreaterThanOrEqual(expMs);
    expect(oldRow.signed_until - expMs).toBeLessThanOrEqual(MAX_LINGER_MS);

    // Both tokens verify against the published set while the old one may be live.
    const published = await publishedJwks(server);
    expect((await verifyToken(old, { keys: published, now: () => clock.now() })).sub).toBe(claimsOf(old).sub);
    expect((await verifyToken(fresh, { keys: published, now: () => clock.now() })).sub).toBe(claimsOf(old).sub);

    clock.set(expMs);
    expect(await kidsOf(server)).toContain(oldKid);
    clock.set(oldRow.signed_until - 1);
    expect(await kidsOf(server)).toEqual([oldKid, newKid].sort());
    clock.set(oldRow.signed_until);
    expect(await kidsOf(server)).toEqual([newKid]);
    // A reload does not bring it back.
    await keyring().reload();
    expect(await kidsOf(server)).toEqual([newKid]);
    clock.advance(30 * 86_400_000);
    expect(await kidsOf(server)).toEqual([newKid]);
  });

  it('a retired key that signed nothing leaves the JWKS at once', async () => {
    const idleKid = (await rotateSigningKey(server.db, clock, undefined)).newKid;
    await keyring().reload();
    // Nothing was signed with idleKid: rotating again retires it with signed_until 0.
    const { newKid, retiredKids } = await rotateSigningKey(server.db, clock, undefined);
    expect(retiredKids).toEqual([idleKid]);
    await keyring().reload();
    expect(await kidsOf(server)).toEqual([newKid]);
  });

  it('signed_until covers the exp of every token the key signed', async () => {
    const sid = await newSession(server, 'rot2@example.com');
    const kid = keyring().activeKey.kid;
    let maxExpMs = 0;
    const check = async (jwt: string) => {
      expect(headerOf(jwt).kid).toBe(kid);
      maxExpMs = Math.max(maxExpMs, claimsOf(jwt).exp * 1000);
      // The bound is in storage before the token is handed out.
      expect((await signingKey(server, kid)).signed_until).toBeGreaterThanOrEqual(maxExpMs);
    };
    for (const expires_in_seconds of [30, 3600, 600, 86_400, 60, 604_800, 120]) {
      await check(await mintVia(server.lk, server, sid, { expires_in_seconds }));
    }
    await check(await mintVia(server.lk, server, sid)); // the instance's default lifetime
    await check(await mintVia(server.lk, server, sid, {}, 'convex')); // template tokens too
    // Later tokens push the bound further.
    clock.advance(6 * 86_400_000);
    await check(await mintVia(server.lk, server, sid, { expires_in_seconds: 2 * 86_400 }));

    await rotateSigningKey(server.db, clock, undefined);
    await keyring().reload();
    const { signed_until } = await signingKey(server, kid);
    expect(signed_until - maxExpMs).toBeLessThanOrEqual(MAX_LINGER_MS);
    clock.set(maxExpMs);
    expect(await kidsOf(server)).toContain(kid);
    clock.set(signed_until);
    expect(await kidsOf(server)).not.toContain(kid);
  });

  it('an instance that has not reloaded yet keeps its in-use key published (noteSigned)', async () => {
    const sid = await newSession(server, 'rot3@example.com');
    // A second server process on the same storage, which reloads its keys only when told.
    const other = await instanceOn(server, clock);
    try {
      const kid = keyring().activeKey.kid;
      expect(other.services.keyring.activeKey.kid).toBe(kid);

      const { newKid } = await rotateSigningKey(server.db, clock, undefined);
      await keyring().reload();
      expect(headerOf(await mintVia(server.lk, server, sid)).kid).toBe(newKid);

      // The other instance still signs with the retired key, for two hours.
      const late = await mintVia(other, server, sid, { expires_in_seconds: 7200 });
      expect(headerOf(late).kid).toBe(kid);
      const lateExpMs = claimsOf(late).exp * 1000;
      const row = await signingKey(server, kid);
      expect(row.status).toBe('retired');
      expect(row.signed_until).toBeGreaterThanOrEqual(lateExpMs);

      // noteSigned itself: raises the stored bound for a later exp, never lowers it.
      await other.services.keyring.noteSigned(kid, lateExpMs + 3_600_000);
      const raised = (await signingKey(server, kid)).signed_until;
      expect(raised).toBeGreaterThanOrEqual(lateExpMs + 3_600_000);
      await other.services.keyring.noteSigned(kid, lateExpMs);
      expect((await signingKey(server, kid)).signed_until).toBe(raised);

      // This instance publishes the retired key until the other one's tokens are dead.
      await keyring().reload();
      clock.set(lateExpMs);
      expect(await kidsOf(server)).toEqual([kid, newKid].sort());
      expect((await verifyToken(late, { keys: await publishedJwks(server, '/v1/jwks'), now: () => lateExpMs - 10_000 })).sub)
        .toBe(claimsOf(late).sub);
      clock.set(raised);
      expect(await kidsOf(server)).toEqual([newKid]);

      // Once the other instance reloads, it signs with the new key too.
      clock.set(Date.now());
      await other.services.keyring.reload();
      expect(headerOf(await mintVia(other, server, sid)).kid).toBe(newKid);
    } finally {
      await other.close();
    }
  });

  it('every instance publishes what storage holds, reloaded or not: a new key at once, a raised bound at once', async () => {
    const sid = await newSession(server, 'rot4@example.com');
    const other = await instanceOn(server, clock); // never reloads in this test
    try {
      const oldKid = keyring().activeKey.kid;
      await mintVia(other, server, sid, { expires_in_seconds: 60 });
      // Rotated by another process (the CLI): the instance that signs with the new key
      // may be a third one that reloaded already. Neither instance here has reloaded.
      const { newKid } = await rotateSigningKey(server.db, clock, undefined);
      expect(keyring().activeKey.kid).toBe(oldKid);
      expect(await kidsOf(server)).toEqual([oldKid, newKid].sort());
      expect((await other.services.keyring.jwks()).keys.map((k) => k.kid).sort()).toEqual([oldKid, newKid].sort());

      // The server reloads and sees the old key retired, with the bound of the 60 s token.
      await keyring().reload();
      const bound = (await signingKey(server, oldKid)).signed_until;
      // The other instance, not reloaded, still signs with the old key, now for two hours:
      // it raises the stored bound first, and the server publishes the key until then
      // without reloading again.
      const late = await mintVia(other, server, sid, { expires_in_seconds: 7200 });
      expect(headerOf(late).kid).toBe(oldKid);
      const raised = (await signingKey(server, oldKid)).signed_until;
      expect(raised).toBeGreaterThan(bound);
      clock.set(bound + 1);
      expect(await kidsOf(server)).toEqual([oldKid, newKid].sort());
      expect((await verifyToken(late, { keys: await publishedJwks(server), now: () => clock.now() })).sub).toBe(claimsOf(late).sub);
      clock.set(raised);
      expect(await kidsOf(server)).toEqual([newKid]);
    } finally {
      await other.close();
    }
  });
});

describe.each(dialects())('signing keys encrypted at rest (%s)', (dialect) => {
  const clock = new ManualClock(Date.now());
  let server: TestServer | undefined;
  const extra: Latchkey[] = [];

  afterEach(async () => {
    for (const lk of extra.splice(0)) await lk.close();
    if (server) {
      // Its Latchkey may already be closed (restarts): remove the data dir by hand.
      rmSync(server.dataDir, { recursive: true, force: true });
      server = undefined;
    }
  });

  async function privateKeys(db: TestServer['db']): Promise<string[]> {
    return (await db.selectFrom('signing_keys').select('private_key').execute()).map((r) => r.private_key);
  }

  it('stores private keys as enc:v1: with LATCHKEY_ENCRYPTION_KEY; a restart needs that key and says so clearly', async () => {
    server = await startServer(dialect, { clock, env: { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY } });
    const sid = await newSession(server, 'enc@example.com');
    const kid = server.lk.services.keyring.activeKey.kid;
    const before = await mintVia(server.lk, server, sid, { expires_in_seconds: 600 });
    expect(headerOf(before).kid).toBe(kid);
    const { newKid } = await rotateSigningKey(server.db, clock, ENCRYPTION_KEY);
    const stored = await privateKeys(server.db);
    expect(stored).toHaveLength(2);
    for (const value of stored) {
      expect(value.startsWith('enc:v1:')).toBe(true);
      expect(value).not.toContain('PRIVATE KEY');
    }
    await server.lk.services.keyring.reload();
    const jwt = await mintVia(server.lk, server, sid);
    expect(headerOf(jwt).kid).toBe(newKid);
    await server.lk.close();

    await expect(instanceOn(server, clock, { LATCHKEY_ENCRYPTION_KEY: WRONG_KEY }))
      .rejects.toThrow('LATCHKEY_ENCRYPTION_KEY does not decrypt the stored signing keys (wrong key?).');
    await expect(instanceOn(server, clock, {}))
      .rejects.toThrow('The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY to the key used when they were created.');

    // The CLI reports the same, with exit code 1.
    for (const [args, env, message] of [
      [['migrate'], { LATCHKEY_ENCRYPTION_KEY: WRONG_KEY }, 'does not decrypt the stored signing keys'],
      [['start'], { LATCHKEY_ENCRYPTION_KEY: WRONG_KEY, PORT: '0' }, 'does not decrypt the stored signing keys'],
      [['start'], { PORT: '0' }, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
      [['print-config'], {}, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
      [['print-config'], { NODE_ENV: 'production' }, 'LATCHKEY_ENCRYPTION_KEY: is required when NODE_ENV=production'],
    ] as const) {
      const res = await cliOn(server, [...args], env);
      expect.soft(res.code, `${args.join(' ')}: ${res.stdout}${res.stderr}`).toBe(1);
      expect.soft(res.stderr, args.join(' ')).toContain(message);
      expect.soft(res.stdout, args.join(' ')).not.toContain('Latchkey is running');
    }

    // With the right key it starts, keeps its keys, and signs with the active one.
    const again = await instanceOn(server, clock, { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
    extra.push(again);
    expect(again.services.keyring.activeKey.kid).toBe(newKid);
    const after = await mintVia(again, server, sid);
    expect(headerOf(after).kid).toBe(newKid);
    // The retired key is still published for the token it signed before the restart.
    const jwks = await again.services.keyring.jwks() as { keys: Jwk[] };
    expect(jwks.keys.map((k) => k.kid).sort()).toEqual([kid, newKid].sort());
    expect((await verifyToken(before, { keys: jwks, now: () => clock.now() })).sub).toBe(claimsOf(after).sub);
    expect(await privateKeys(again.services.db)).toEqual(stored);
  });

  it('without LATCHKEY_ENCRYPTION_KEY (or with a wrong one) no command runs on sealed keys, and none writes anything', async () => {
    server = await startServer(dialect, { clock, env: { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY } });
    const kid = server.lk.services.keyring.activeKey.kid;
    await server.lk.close();
    const storage = openStorage({ databaseUrl: server.databaseUrl, sqlitePath: join(server.dataDir, 'latchkey.db') });
    try {
      const before = await snapshot(storage.db);
      for (const [args, env, message] of [
        [['keys', 'rotate'], {}, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
        [['keys', 'rotate'], { LATCHKEY_ENCRYPTION_KEY: WRONG_KEY }, 'does not decrypt the stored signing keys'],
        [['migrate'], {}, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
        [['users', 'create', '--email', 'sealed@example.com'], {}, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
        [['webhooks', 'create', '--url', 'https://example.com/hooks'], {}, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
        [['start'], { PORT: '0' }, 'The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY'],
      ] as const) {
        const res = await cliOn(server, [...args], env);
        expect.soft(res.code, `${args.join(' ')}: ${res.stdout}${res.stderr}`).toBe(1);
        expect.soft(res.stderr, args.join(' ')).toContain(message);
        expect.soft(res.stdout, args.join(' ')).not.toMatch(/New signing key|Created|Latchkey is running/);
      }
      // The functions themselves refuse too, whoever calls them.
      await expect(rotateSigningKey(storage.db, clock, undefined)).rejects.toThrow('The signing keys are encrypted');
      await expect(rotateSigningKey(storage.db, clock, WRONG_KEY)).rejects.toThrow('does not decrypt the stored signing keys');
      await expect(sealStoredKeys(storage.db, undefined)).rejects.toThrow('The signing keys are encrypted');
      expect(await snapshot(storage.db)).toBe(before);

      // With the key, the rotation happens and the new key is sealed as well.
      const rotated = await cliOn(server, ['keys', 'rotate'], { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
      expect(rotated.stderr).toBe('');
      expect(rotated.code).toBe(0);
      expect(rotated.stdout).toContain(`Retired ${kid}`);
      const stored = await privateKeys(storage.db);
      expect(stored).toHaveLength(2);
      for (const value of stored) expect(value.startsWith('enc:v1:')).toBe(true);
    } finally {
      await storage.close();
    }
  });

  it('an instance left with a plaintext key beside sealed ones (a rotation made without the key) needs the key, and gets sealed by it', async () => {
    server = await startServer(dialect, { clock, env: { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY } });
    const sealedKid = server.lk.services.keyring.activeKey.kid;
    await server.lk.close();
    const storage = openStorage({ databaseUrl: server.databaseUrl, sqlitePath: join(server.dataDir, 'latchkey.db') });
    try {
      // What an unpatched `keys rotate` without the key left behind: the new active key in plaintext.
      const fresh = await generateSigningKey();
      await storage.db.updateTable('signing_keys').set({ status: 'retired', retired_at: clock.now() }).where('kid', '=', sealedKid).execute();
      await storage.db.insertInto('signing_keys').values({
        kid: fresh.kid, alg: 'RS256', private_key: fresh.pem, public_jwk: JSON.stringify(fresh.jwk), status: 'active',
        created_at: clock.now() + 1, retired_at: null, signed_until: 0,
      }).execute();
      const before = await snapshot(storage.db);
      for (const args of [['start'], ['migrate'], ['keys', 'rotate']]) {
        const res = await cliOn(server, args, { PORT: '0' });
        expect.soft(res.code, `${args.join(' ')}: ${res.stdout}${res.stderr}`).toBe(1);
        expect.soft(res.stderr, args.join(' ')).toContain('The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY');
      }
      expect(await snapshot(storage.db)).toBe(before);
      // With the key: the plaintext key is sealed, and it is still the one that signs.
      const migrated = await cliOn(server, ['migrate'], { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
      expect(migrated.code, migrated.stderr).toBe(0);
      for (const value of await privateKeys(storage.db)) expect(value.startsWith('enc:v1:')).toBe(true);
      const again = await instanceOn(server, clock, { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
      extra.push(again);
      expect(again.services.keyring.activeKey.kid).toBe(fresh.kid);
    } finally {
      await storage.close();
    }
  });

  it('seals keys stored in plaintext once a key is configured', async () => {
    server = await startServer(dialect, { clock });
    const kid = server.lk.services.keyring.activeKey.kid;
    const [plain] = await privateKeys(server.db);
    expect(plain).toContain('-----BEGIN PRIVATE KEY-----');
    await server.lk.close();

    const sealed = await instanceOn(server, clock, { LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
    extra.push(sealed);
    expect(sealed.services.keyring.activeKey.kid).toBe(kid);
    const [value] = await privateKeys(sealed.services.db);
    expect(value!.startsWith('enc:v1:')).toBe(true);
    await sealed.close();
    extra.pop();
    await expect(instanceOn(server, clock, {})).rejects.toThrow('The signing keys are encrypted');
  });
});

describe('LATCHKEY_ENCRYPTION_KEY in configuration', () => {
  it('is required when NODE_ENV=production', () => {
    const base = { LATCHKEY_DATA_DIR: '/tmp/latchkey-config-test', NODE_ENV: 'production' };
    let error: unknown;
    try {
      loadConfig(base);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([expect.stringMatching(/^LATCHKEY_ENCRYPTION_KEY: is required when NODE_ENV=production/)]);
    expect((error as Error).message).toContain('LATCHKEY_ENCRYPTION_KEY');
    // An empty value counts as unset.
    expect(() => loadConfig({ ...base, LATCHKEY_ENCRYPTION_KEY: '' })).toThrow(ConfigError);
    // Too short a key is refused in any environment.
    expect(() => loadConfig({ ...base, LATCHKEY_ENCRYPTION_KEY: 'short' })).toThrow(/LATCHKEY_ENCRYPTION_KEY: must be at least 32 characters/);
    expect(() => loadConfig({ LATCHKEY_ENCRYPTION_KEY: 'x'.repeat(31) })).toThrow(ConfigError);

    const config = loadConfig({ ...base, LATCHKEY_ENCRYPTION_KEY: ENCRYPTION_KEY });
    expect(config).toMatchObject({ production: true, encryptionKey: ENCRYPTION_KEY });
    // Development does not require one.
    expect(loadConfig({ LATCHKEY_DATA_DIR: '/tmp/latchkey-config-test' })).toMatchObject({ production: false, encryptionKey: undefined });
  });
});
