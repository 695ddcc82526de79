import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { startApp, type App } from '../support/fixture-app.js';

/**
 * Role-gated Express 5 app on the real @clerk/express against Latchkey: the
 * marketplace role preset puts role, dbId and permissions in the session claims;
 * the app reads them from req.auth() / getAuth(req).sessionClaims as apps
 * written for Clerk do, and a role change shows in the next token.
 * See test/fixtures/clerk-express-roles-app.mjs.
 */

const FIXTURE = fileURLToPath(new URL('../fixtures/clerk-express-roles-app.mjs', import.meta.url));

const STORE_OWNER_PERMISSIONS = ['store:manage', 'product:manage', 'order:manage', 'profile:manage'];
const ADMIN_PERMISSIONS = ['platform:manage', 'store:approve', 'analytics:read', 'store:manage', 'product:manage', 'order:manage',
  'user:manage', 'profile:manage'];
const CUSTOMER_PERMISSIONS = ['order:create', 'cart:manage', 'profile:manage'];

interface WhoAmI {
  userId?: string;
  role?: unknown;
  dbId?: unknown;
  permissions?: unknown;
  error?: string;
}

async function get(app: App, path: string, token?: string): Promise<{ status: number; body: WhoAmI & Record<string, unknown> }> {
  const res = await fetch(`${app.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.headers.get('content-type'), app.output()).toMatch(/^application\/json/);
  return { status: res.status, body: (await res.json()) as WhoAmI & Record<string, unknown> };
}

describe.each(dialects())('@clerk/express app gating on roles from the marketplace preset (%s)', (dialect) => {
  let server: TestServer;
  let app: App;
  const apps: App[] = [];
  let userId: string;
  let sessionId: string;

  const clerkEnv = () => ({
    CLERK_SECRET_KEY: server.secretKey,
    CLERK_PUBLISHABLE_KEY: server.publishableKey,
    CLERK_API_URL: server.url,
  });
  const mint = async (sid = sessionId): Promise<string> => {
    const res = await server.api(`/v1/sessions/${sid}/tokens`, { method: 'POST', json: {} });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body.jwt as string;
  };
  const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

  beforeAll(async () => {
    server = await startServer(dialect);
    const preset = await server.api('/v1/roles/presets', { method: 'POST', json: { preset: 'marketplace' } });
    const roles = await preset.json();
    expect(preset.status, JSON.stringify(roles)).toBe(200);
    expect(roles.data.map((r: { key: string }) => r.key).sort()).toEqual(['admin', 'customer', 'store_owner']);
    const instance = await (await server.api('/v1/instance')).json();
    expect(instance).toMatchObject({
      default_role: 'customer',
      sign_up_roles: ['customer', 'store_owner'],
      session_claims: { role: '{{user.public_metadata.role}}', dbId: '{{user.public_metadata.dbId}}', permissions: '{{user.permissions}}' },
    });

    const created = await server.api('/v1/users', { method: 'POST', json: { email_address: ['owner@example.com'] } });
    const user = await created.json();
    expect(created.status, JSON.stringify(user)).toBe(200);
    userId = user.id;
    // The new user got the default role; a metadata merge makes them a store owner with a database id.
    expect(user.public_metadata).toEqual({ role: 'customer' });
    const merged = await server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { role: 'store_owner', dbId: 42 } } });
    const mergedBody = await merged.json();
    expect(merged.status, JSON.stringify(mergedBody)).toBe(200);
    expect(mergedBody.public_metadata).toEqual({ role: 'store_owner', dbId: 42 });

    const session = await server.api('/v1/sessions', { method: 'POST', json: { user_id: userId } });
    expect(session.status).toBe(200);
    sessionId = (await session.json()).id;
    app = await startApp(FIXTURE, clerkEnv());
    apps.push(app);
  });
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.stop()));
    await server?.close();
  });

  it('without a token the app answers 401', async () => {
    expect(await get(app, '/whoami')).toEqual({ status: 401, body: { error: 'unauthenticated' } });
    expect((await get(app, '/admin')).status).toBe(401);
  });

  it('reads role store_owner, dbId 42 and the role\'s permissions from req.auth() and getAuth(req)', async () => {
    const jwt = await mint();
    expect(claimsOf(jwt)).toMatchObject({ role: 'store_owner', dbId: 42, permissions: STORE_OWNER_PERMISSIONS });
    for (const path of ['/whoami', '/whoami/getauth']) {
      const res = await get(app, path, jwt);
      expect(res.status, `${path}: ${app.output()}`).toBe(200);
      expect(res.body, path).toEqual({ userId, role: 'store_owner', dbId: 42, permissions: STORE_OWNER_PERMISSIONS });
    }
    expect(await get(app, '/admin', jwt)).toEqual({ status: 403, body: { error: 'forbidden', role: 'store_owner' } });
  });

  it('POST /v1/users/{id}/role admin: the next token says admin; the earlier one keeps store_owner', async () => {
    const before = await mint();
    const assigned = await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: 'admin' } });
    const user = await assigned.json();
    expect(assigned.status, JSON.stringify(user)).toBe(200);
    expect(user).toMatchObject({ object: 'user', id: userId, public_metadata: { role: 'admin', dbId: 42 } });

    const after = await mint();
    const res = await get(app, '/whoami', after);
    expect(res.status, app.output()).toBe(200);
    expect(res.body).toEqual({ userId, role: 'admin', dbId: 42, permissions: ADMIN_PERMISSIONS });
    expect(await get(app, '/admin', after)).toEqual({ status: 200, body: { ok: true, dbId: 42 } });

    // A token is a snapshot: the one minted before the change still carries store_owner.
    expect((await get(app, '/whoami/getauth', before)).body).toMatchObject({ role: 'store_owner', dbId: 42 });
    expect((await get(app, '/admin', before)).status).toBe(403);
  });

  it('an unknown role is refused and the app keeps seeing the current one', async () => {
    const refused = await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: 'superuser' } });
    expect(refused.status).toBe(422);
    expect((await refused.json()).errors[0]).toMatchObject({ code: 'role_unknown', meta: { param_name: 'role' } });
    expect((await get(app, '/whoami', await mint())).body).toMatchObject({ role: 'admin', dbId: 42 });
  });

  it('role null removes the claim; the app sees no role and no permissions', async () => {
    const cleared = await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: null } });
    expect(cleared.status).toBe(200);
    expect((await cleared.json()).public_metadata).toEqual({ dbId: 42 });
    const jwt = await mint();
    expect(claimsOf(jwt)).not.toHaveProperty('role');
    expect((await get(app, '/whoami', jwt)).body).toEqual({ userId, role: null, dbId: 42, permissions: [] });
    expect((await get(app, '/admin', jwt)).status).toBe(403);
    expect((await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: 'admin' } })).status).toBe(200);
  });

  it('a new user without a role gets the default customer role in their tokens', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['shopper@example.com'] } })).json();
    const session = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    const res = await get(app, '/whoami', await mint(session.id));
    expect(res.body).toEqual({ userId: user.id, role: 'customer', dbId: null, permissions: CUSTOMER_PERMISSIONS });
  });

  it('with CLERK_JWT_KEY (networkless verification) the app reads the same role claims', async () => {
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: JsonWebKey[] };
    const pem = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
    const networkless = await startApp(FIXTURE, { ...clerkEnv(), CLERK_JWT_KEY: pem });
    apps.push(networkless);
    const res = await get(networkless, '/whoami', await mint());
    expect(res.status, networkless.output()).toBe(200);
    expect(res.body).toEqual({ userId, role: 'admin', dbId: 42, permissions: ADMIN_PERMISSIONS });
  });

  it('revoke_sessions with a role change: the session can no longer get a token', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['demoted@example.com'], public_metadata: { role: 'store_owner' } } })).json();
    const session = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    expect((await get(app, '/whoami', await mint(session.id))).body).toMatchObject({ role: 'store_owner' });
    const changed = await server.api(`/v1/users/${user.id}/role`, { method: 'POST', json: { role: 'customer', revoke_sessions: true } });
    expect(changed.status).toBe(200);
    const refused = await server.api(`/v1/sessions/${session.id}/tokens`, { method: 'POST', json: {} });
    expect(refused.status).toBe(422);
    expect((await refused.json()).errors[0]).toMatchObject({ code: 'session_not_active', meta: { status: 'revoked' } });
    const fresh = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    expect((await get(app, '/whoami', await mint(fresh.id))).body).toMatchObject({ role: 'customer', permissions: CUSTOMER_PERMISSIONS });
  });
});
