import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { RevocationList, type Auth, type SignedInAuth } from '@latchkey/backend';
import { Hono, type Context } from 'hono';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { get, listening, type Answer } from '../../express/test/support/http.js';
import { BODIES, claimsOf, MODERATOR_PERMISSIONS, startLatchkey, type LatchkeyFixture } from '../../express/test/support/latchkey.js';
import { adminOnly, latchkeyMiddleware, protectRoute, requireAuth, requirePermission, requireRole } from '../src/index.js';

/**
 * @latchkey/hono against a real Latchkey, over real HTTP (@hono/node-server on
 * port 0): the same decisions and bytes as @latchkey/express, read from
 * c.get('auth'). The Latchkey fixture and HTTP helpers are the Express suite's.
 */

const DAY = 86_400_000;

interface Row {
  id: number;
  userId: string;
  email: string;
  source: 'seed' | 'ensureUser';
}

function summary(auth: Auth) {
  return {
    isAuthenticated: auth.isAuthenticated, userId: auth.userId, sessionId: auth.sessionId, role: auth.role,
    permissions: auth.permissions, reason: auth.isAuthenticated ? null : auth.reason,
  };
}
const ok = (c: Context) => c.json({ ok: true, userId: c.get('auth').userId });

describe.each(dialects())('@latchkey/hono guards against a running Latchkey (%s)', (dialect) => {
  let lk: LatchkeyFixture;
  const closers: (() => Promise<void>)[] = [];
  let offsetMs = 0;
  const rows = new Map<string, Row>();
  let loadCalls: string[] = [];
  let ensureCalls: string[] = [];
  let mainUrl: string;
  let checkedUrl: string;
  let checked: ReturnType<typeof latchkeyMiddleware>;
  const u: Record<'plain' | 'mod' | 'admin' | 'boss' | 'roleless', { id: string; email: string; jwt: string; sessionId: string }> = {} as never;

  async function serveApp(app: Hono): Promise<string> {
    app.onError((err, c) => c.json({ error: 'app error', detail: err.message }, 500));
    const server = await listening(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server);
    closers.push(server.close);
    return server.url;
  }
  async function ensureUser(userId: string): Promise<'created' | 'present' | 'not_found'> {
    ensureCalls.push(userId);
    if (rows.has(userId)) return 'present';
    const res = await lk.server.api(`/v1/users/${userId}`);
    if (res.status === 404) return 'not_found';
    const user = (await res.json()) as { email_addresses: { email_address: string }[] };
    rows.set(userId, { id: rows.size + 1, userId, email: user.email_addresses[0]!.email_address, source: 'ensureUser' });
    return 'created';
  }
  function loadUser(auth: SignedInAuth): Row | null {
    loadCalls.push(auth.userId);
    return rows.get(auth.userId) ?? null;
  }

  beforeAll(async () => {
    lk = await startLatchkey(dialect);
    const make = async (key: keyof typeof u, email: string, role: string | null) => {
      const user = await lk.createUser(email, role);
      u[key] = { ...user, ...(await lk.signIn(user.id)) };
    };
    await make('plain', 'plain@example.com', 'user');
    await make('mod', 'mod@example.com', 'moderator');
    await make('admin', 'admin@example.com', 'admin');
    await make('boss', 'boss@example.com', 'user');
    await make('roleless', 'roleless@example.com', null);

    const app = new Hono();
    app.use(latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, now: () => Date.now() + offsetMs }));
    app.get('/whoami', (c) => c.json(summary(c.get('auth'))));
    app.get('/auth', requireAuth(), ok);
    app.get('/staff', requireRole(['admin', 'moderator']), ok);
    app.get('/admin-role', requireRole('admin'), ok);
    app.get('/products/new', requirePermission('product:create'), ok);
    app.get('/profile', protectRoute({ loadUser, ensureUser }), (c) => c.json({ user: c.get('user') }));
    app.get('/profile/no-ensure', protectRoute({ loadUser }), (c) => c.json({ user: c.get('user') }));
    const ADMIN_EMAIL = 'boss@example.com';
    app.get('/admin/dev', protectRoute({ loadUser, ensureUser }), adminOnly({ env: { NODE_ENV: 'development', ADMIN_EMAIL } }), ok);
    app.get('/admin/prod', protectRoute({ loadUser, ensureUser }), adminOnly({ env: { NODE_ENV: 'production', ADMIN_EMAIL } }), ok);
    app.get('/admin/dev-claims', adminOnly({ env: { NODE_ENV: 'development', ADMIN_EMAIL } }), ok);
    mainUrl = await serveApp(app);

    const app2 = new Hono();
    checked = latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, revocations: { intervalMs: 50 } });
    app2.use(checked);
    app2.get('/whoami', (c) => c.json(summary(c.get('auth'))));
    app2.get('/auth', requireAuth(), ok);
    app2.get('/staff', requireRole(['admin', 'moderator']), ok);
    checkedUrl = await serveApp(app2);
  });
  afterEach(() => {
    offsetMs = 0;
    loadCalls = [];
    ensureCalls = [];
  });
  afterAll(async () => {
    checked?.revocations?.stop();
    await Promise.all(closers.map((c) => c()));
    await lk?.close();
  });

  const expectJson = (a: Answer) => expect(a.headers.get('content-type')).toMatch(/^application\/json/);
  const refusedRole = (requiredRole: string | string[], userRole: string | null) => ({ error: 'Insufficient permissions', requiredRole, userRole });

  it('latchkeyMiddleware never blocks; c.get("auth") says who is calling or why not', async () => {
    expect(await get(mainUrl, '/whoami')).toMatchObject({ status: 200 });
    expect((await get(mainUrl, '/whoami')).body).toStrictEqual({
      isAuthenticated: false, userId: null, sessionId: null, role: null, permissions: [], reason: 'missing',
    });
    expect(await get(mainUrl, '/whoami', 'garbage')).toMatchObject({ status: 200, body: { isAuthenticated: false, reason: 'invalid' } });
    expect((await get(mainUrl, '/whoami', u.mod.jwt)).body).toStrictEqual({
      isAuthenticated: true, userId: u.mod.id, sessionId: u.mod.sessionId, role: 'moderator', permissions: MODERATOR_PERMISSIONS, reason: null,
    });
    expect((await get(mainUrl, '/whoami', undefined, { cookie: `__session=${u.mod.jwt}` })).body).toMatchObject({ isAuthenticated: true, userId: u.mod.id });
  });

  it('requireAuth: 401 JSON bodies, never a redirect; expired by the injected clock → invalid', async () => {
    for (const headers of [{}, { accept: 'text/html' }] as Record<string, string>[]) {
      const a = await get(mainUrl, '/auth', undefined, headers);
      expect(a.status).toBe(401);
      expectJson(a);
      expect(a.headers.get('location')).toBeNull();
      expect(a.body).toStrictEqual(BODIES.required);
    }
    const [h, p, s] = u.plain.jwt.split('.') as [string, string, string];
    const promoted = Buffer.from(JSON.stringify({ ...claimsOf(u.plain.jwt), role: 'admin' })).toString('base64url');
    for (const token of ['garbage', `${h}.${promoted}.${s}`]) {
      const a = await get(mainUrl, '/auth', token);
      expect(a.status).toBe(401);
      expect(a.body).toStrictEqual(BODIES.invalid);
    }
    expect(await get(mainUrl, '/auth', u.plain.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: u.plain.id } });
    offsetMs = (claimsOf(u.plain.jwt).exp as number) * 1000 - Date.now() + 6_000;
    const expired = await get(mainUrl, '/auth', u.plain.jwt);
    expect(expired.status).toBe(401);
    expect(expired.body).toStrictEqual(BODIES.invalid);
  });

  it('requireRole and requirePermission: 403 bodies with exactly the seed fields', async () => {
    expect((await get(mainUrl, '/staff', u.mod.jwt)).status).toBe(200);
    const plain = await get(mainUrl, '/staff', u.plain.jwt);
    expect(plain.status).toBe(403);
    expectJson(plain);
    expect(plain.body).toStrictEqual(refusedRole(['admin', 'moderator'], 'user'));
    expect((await get(mainUrl, '/staff', u.roleless.jwt)).body).toStrictEqual(refusedRole(['admin', 'moderator'], null));
    expect((await get(mainUrl, '/admin-role', u.mod.jwt)).body).toStrictEqual(refusedRole('admin', 'moderator'));
    expect((await get(mainUrl, '/staff')).body).toStrictEqual(BODIES.required);

    expect((await get(mainUrl, '/products/new', u.admin.jwt)).status).toBe(200);
    const mod = await get(mainUrl, '/products/new', u.mod.jwt);
    expect(mod.status).toBe(403);
    expect(mod.body).toStrictEqual({ error: 'Insufficient permissions', requiredPermission: 'product:create', userRole: 'moderator' });
    expect(() => requireRole([])).toThrow(TypeError);
  });

  it('protectRoute: the row; else ensureUser\'s row; 404 only after ensureUser found nothing', async () => {
    rows.set(u.plain.id, { id: 100, userId: u.plain.id, email: 'plain@example.com', source: 'seed' });
    expect((await get(mainUrl, '/profile', u.plain.jwt)).body).toStrictEqual({ user: rows.get(u.plain.id) });
    expect(ensureCalls).toEqual([]);

    const fresh = await lk.createUser('fresh@example.com', 'user');
    const freshToken = (await lk.signIn(fresh.id)).jwt;
    const a = await get(mainUrl, '/profile', freshToken);
    expect(a.status).toBe(200);
    expect(a.body).toStrictEqual({ user: { id: rows.get(fresh.id)!.id, userId: fresh.id, email: 'fresh@example.com', source: 'ensureUser' } });
    expect(ensureCalls).toEqual([fresh.id]);

    const gone = await lk.createUser('gone@example.com', 'user');
    const goneToken = (await lk.signIn(gone.id)).jwt;
    await lk.ok(`/v1/users/${gone.id}`, 'DELETE');
    loadCalls = [];
    ensureCalls = [];
    const b = await get(mainUrl, '/profile', goneToken);
    expect(b.status).toBe(404);
    expectJson(b);
    expect(b.body).toStrictEqual(BODIES.notFound);
    expect(ensureCalls).toEqual([gone.id]);
    expect(loadCalls).toEqual([gone.id, gone.id]);

    loadCalls = [];
    const c = await get(mainUrl, '/profile/no-ensure', goneToken);
    expect(c.status).toBe(404);
    expect(c.body).toStrictEqual(BODIES.notFound);
    expect(loadCalls).toEqual([gone.id]);
    loadCalls = [];
    expect((await get(mainUrl, '/profile')).body).toStrictEqual(BODIES.required);
    expect(loadCalls).toEqual([]);
  });

  it('adminOnly: the admin role anywhere; ADMIN_EMAIL only in development', async () => {
    for (const path of ['/admin/dev', '/admin/prod']) expect((await get(mainUrl, path, u.admin.jwt)).status, path).toBe(200);
    expect((await get(mainUrl, '/admin/dev', u.boss.jwt)).status).toBe(200);
    expect((await get(mainUrl, '/admin/dev-claims', u.boss.jwt)).status).toBe(200);
    const prod = await get(mainUrl, '/admin/prod', u.boss.jwt);
    expect(prod.status).toBe(403);
    expect(prod.body).toStrictEqual(refusedRole('admin', 'user'));
    expect((await get(mainUrl, '/admin/dev', u.mod.jwt)).body).toStrictEqual(refusedRole('admin', 'moderator'));
    expect((await get(mainUrl, '/admin/dev')).body).toStrictEqual(BODIES.required);
  });

  it('revocation check: a ban → 403 "Account suspended" with reason and suspendedUntil; a revoked session → 401; off → valid until expiry', async () => {
    const reason = 'Violation of terms of service';
    const user = await lk.createUser('spammer@example.com', 'moderator');
    const { jwt } = await lk.signIn(user.id);
    expect((await get(checkedUrl, '/auth', jwt)).status).toBe(200);
    const until = Date.now() + DAY;
    await lk.ok(`/v1/users/${user.id}/ban`, 'POST', { reason, until });
    const a = await waitFor('the ban to reach the revocation list', async () => {
      const r = await get(checkedUrl, '/auth', jwt);
      return r.status === 200 ? undefined : r;
    }, 10_000);
    expect(a.status).toBe(403);
    expect(a.body).toStrictEqual({ error: 'Account suspended', reason, suspendedUntil: until });
    expect((await get(checkedUrl, '/staff', jwt)).body).toStrictEqual({ error: 'Account suspended', reason, suspendedUntil: until });
    expect((await get(checkedUrl, '/whoami', jwt)).body).toMatchObject({ isAuthenticated: false, reason: 'suspended' });
    expect((await get(mainUrl, '/auth', jwt)).status).toBe(200);
    offsetMs = (claimsOf(jwt).exp as number) * 1000 - Date.now() + 6_000;
    expect((await get(mainUrl, '/auth', jwt)).body).toStrictEqual(BODIES.invalid);

    const other = await lk.createUser('twodevices@example.com', 'user');
    const phone = await lk.signIn(other.id);
    const laptop = await lk.signIn(other.id);
    await lk.ok(`/v1/sessions/${phone.sessionId}/revoke`, 'POST', {});
    const b = await waitFor('the revocation to reach the list', async () => {
      const r = await get(checkedUrl, '/auth', phone.jwt);
      return r.status === 200 ? undefined : r;
    }, 10_000);
    expect(b.status).toBe(401);
    expect(b.body).toStrictEqual(BODIES.invalid);
    expect((await get(checkedUrl, '/auth', laptop.jwt)).status).toBe(200);
  });

  it('revocations: true reads the environment; a list of one\'s own is used as given', async () => {
    const fromEnv = latchkeyMiddleware({ env: { LATCHKEY_API_URL: lk.server.url, LATCHKEY_SECRET_KEY: lk.server.secretKey }, revocations: true });
    const own = new RevocationList({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, intervalMs: 60_000 });
    const given = latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, revocations: own });
    try {
      expect(fromEnv.revocations).toBeInstanceOf(RevocationList);
      expect(given.revocations).toBe(own);
      const user = await lk.createUser('envcheck@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      const urls: string[] = [];
      for (const mw of [fromEnv, given]) {
        const app = new Hono();
        app.use(mw);
        app.get('/auth', requireAuth(), ok);
        urls.push(await serveApp(app));
      }
      for (const url of urls) expect((await get(url, '/auth', jwt)).status).toBe(200);
      await lk.ok(`/v1/users/${user.id}/ban`, 'POST', {});
      await fromEnv.revocations!.refresh();
      await own.refresh();
      for (const url of urls) expect((await get(url, '/auth', jwt)).body).toStrictEqual({ error: 'Account suspended', reason: null, suspendedUntil: null });
    } finally {
      fromEnv.revocations!.stop();
      own.stop();
    }
  });
});
