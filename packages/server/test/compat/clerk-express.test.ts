import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi, type MockInstance } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { startApp, type App } from '../support/fixture-app.js';

/**
 * A real Express 5 app using @clerk/express (clerkMiddleware + getAuth), run as a
 * child process configured only by CLERK_* environment variables and pointed at
 * Latchkey. See test/fixtures/clerk-express-app.mjs.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/clerk-express-app.mjs', import.meta.url));

interface Me {
  userId: string;
  sessionId: string;
  claims: Record<string, unknown>;
}

async function me(app: App, token?: string): Promise<{ status: number; body: Me & { error?: string } }> {
  const res = await fetch(`${app.url}/me`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as Me & { error?: string } };
}

function tamper(jwt: string, changes: Record<string, unknown>): string {
  const [h, p, s] = jwt.split('.');
  const payload = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), ...changes };
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
}

describe.each(dialects())('@clerk/express app against Latchkey (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  let jwksSpy: MockInstance;
  let app: App;
  let userId: string;
  let sessionId: string;
  const apps: App[] = [];

  const mint = async (): Promise<string> => {
    clock.set(Date.now());
    const res = await server.api(`/v1/sessions/${sessionId}/tokens`, { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    return ((await res.json()) as { jwt: string }).jwt;
  };
  const clerkEnv = () => ({
    CLERK_SECRET_KEY: server.secretKey,
    CLERK_PUBLISHABLE_KEY: server.publishableKey,
    CLERK_API_URL: server.url,
  });

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    jwksSpy = vi.spyOn(server.lk.services.keyring, 'jwks');
    // public_metadata.role must name a role in the catalog: the roles these tests give the user (plain fetch, secret key).
    for (const [key, name] of [['admin', 'Admin'], ['editor', 'Editor']]) {
      const role = await server.api('/v1/roles', { method: 'POST', json: { key, name } });
      expect(role.status).toBe(200);
    }
    const settings = await server.api('/v1/instance', {
      method: 'PATCH',
      json: { session_claims: { role: '{{user.public_metadata.role}}', dbId: '{{user.public_metadata.dbId}}' } },
    });
    expect(settings.status).toBe(200);
    const user = await server.api('/v1/users', {
      method: 'POST',
      json: { email_address: ['express@example.com'], public_metadata: { role: 'admin', dbId: 42 } },
    });
    expect(user.status).toBe(200);
    userId = ((await user.json()) as { id: string }).id;
    sessionId = ((await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: userId } })).json()) as { id: string }).id;
    app = await startApp(FIXTURE, clerkEnv());
    apps.push(app);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    jwksSpy?.mockRestore();
    await server?.close();
  });

  it('answers 401 without a token or with a bad one', async () => {
    expect(await me(app)).toEqual({ status: 401, body: { error: 'unauthenticated' } });
    expect((await me(app, 'not-a-jwt')).status).toBe(401);
    const forged = tamper(await mint(), { sub: 'user_2someoneElseEntirely000000' });
    expect((await me(app, forged)).status).toBe(401);
  });

  it('sees userId, sessionId and the custom claims role/dbId from a Bearer token (JWKS from GET /v1/jwks)', async () => {
    const jwt = await mint();
    const res = await me(app, jwt);
    expect(res.status, app.output()).toBe(200);
    expect(res.body.userId).toBe(userId);
    expect(res.body.sessionId).toBe(sessionId);
    expect(res.body.claims).toMatchObject({ sub: userId, sid: sessionId, iss: server.url, role: 'admin', dbId: 42, v: 2, sts: 'active' });
    // Without CLERK_JWT_KEY the SDK had to fetch the keys from Latchkey.
    expect(jwksSpy).toHaveBeenCalled();
  });

  it('shows a metadata change in the next token; earlier tokens keep what they were issued with', async () => {
    const before = await mint();
    const patched = await server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { role: 'editor' } } });
    expect(patched.status).toBe(200);
    const after = await mint();
    expect((await me(app, after)).body.claims).toMatchObject({ role: 'editor', dbId: 42 });
    expect((await me(app, before)).body.claims).toMatchObject({ role: 'admin', dbId: 42 });
    // A claim whose metadata key is removed is left out of the next token.
    expect((await server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { dbId: null } } })).status).toBe(200);
    const claims = (await me(app, await mint())).body.claims;
    expect(claims.role).toBe('editor');
    expect(claims).not.toHaveProperty('dbId');
    expect((await server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { role: 'admin', dbId: 42 } } })).status).toBe(200);
  });

  it('treats an expired token as signed out (401)', async () => {
    clock.set(Date.now() - 3_600_000);
    const res = await server.api(`/v1/sessions/${sessionId}/tokens`, { method: 'POST', json: {} });
    clock.set(Date.now());
    const expired = ((await res.json()) as { jwt: string }).jwt;
    expect((await me(app, expired)).status).toBe(401);
  });

  it('with CLERK_JWT_KEY verifies networklessly: same answers, no JWKS request to Latchkey', async () => {
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: JsonWebKey[] };
    const pem = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    const networkless = await startApp(FIXTURE, { ...clerkEnv(), CLERK_JWT_KEY: pem });
    apps.push(networkless);
    jwksSpy.mockClear();

    const res = await me(networkless, await mint());
    expect(res.status, networkless.output()).toBe(200);
    expect(res.body).toMatchObject({ userId, sessionId, claims: { sub: userId, sid: sessionId, role: 'admin', dbId: 42 } });
    expect((await me(networkless)).status).toBe(401);
    expect((await me(networkless, tamper(await mint(), { role: 'owner' }))).status).toBe(401);
    expect(jwksSpy).not.toHaveBeenCalled();
  });
});
