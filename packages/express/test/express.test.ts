import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { RevocationList, type Auth, type SignedInAuth } from '@latchkey/backend';
import express, { type ErrorRequestHandler, type Express } from 'express';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { dialects } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { adminOnly, latchkeyMiddleware, protectRoute, requireAuth, requirePermission, requireRole } from '../src/index.js';
import { get, listening, type Answer } from './support/http.js';
import { ADMIN_PERMISSIONS, BODIES, claimsOf, MODERATOR_PERMISSIONS, startLatchkey, type LatchkeyFixture } from './support/latchkey.js';

/**
 * @latchkey/express against a real Latchkey, over real HTTP (app.listen(0)):
 * every guard's status and exact body, the middleware that never blocks,
 * protectRoute's 404 only after ensureUser found nothing, adminOnly's
 * development-only email list, and the opt-in revocation check (a banned
 * user's still-valid token refused within a refresh, a revoked session too).
 * Expiry is reached by moving the verifier's clock (`now`), never by sleeping.
 */

const DAY = 86_400_000;
const SUSPENDED_KEYS = ['error', 'reason', 'suspendedUntil'];

interface Row {
  id: number;
  userId: string;
  email: string;
  source: 'seed' | 'ensureUser';
}

/** What a route without guards sees of req.auth: the middleware never blocks, it only says who is calling. */
function summary(auth: Auth) {
  return {
    isAuthenticated: auth.isAuthenticated,
    userId: auth.userId,
    sessionId: auth.sessionId,
    role: auth.role,
    permissions: auth.permissions,
    reason: auth.isAuthenticated ? null : auth.reason,
  };
}

const onError: ErrorRequestHandler = (err: Error, _req, res, _next) => {
  res.status(500).json({ error: 'app error', detail: err.message });
};
const ok: express.RequestHandler = (req, res) => {
  res.json({ ok: true, userId: req.auth.userId });
};

describe.each(dialects())('@latchkey/express guards against a running Latchkey (%s)', (dialect) => {
  let lk: LatchkeyFixture;
  const closers: (() => Promise<void>)[] = [];
  /** The verifier's clock offset for the main app: tokens expire by moving it. */
  let offsetMs = 0;
  /** The app's own users table, and what protectRoute did with it. */
  const rows = new Map<string, Row>();
  let loadCalls: string[] = [];
  let ensureCalls: string[] = [];
  let mainUrl: string;
  let checkedUrl: string;
  let checked: ReturnType<typeof latchkeyMiddleware>;
  const u: Record<'plain' | 'mod' | 'admin' | 'boss' | 'roleless', { id: string; email: string; jwt: string; sessionId: string }> = {} as never;

  const ADMIN_EMAIL = 'boss@example.com, Other@Example.com';

  async function serve(app: Express): Promise<string> {
    app.use(onError);
    const server = await listening(app.listen(0));
    closers.push(server.close);
    return server.url;
  }

  /** The sync kit's ensureUser, as the app wires it: Latchkey's user becomes a row, or "not_found". */
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
  function mainApp(): Express {
    const app = express();
    app.use(latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, now: () => Date.now() + offsetMs }));
    app.get('/whoami', (req, res) => {
      res.json(summary(req.auth));
    });
    app.get('/auth', requireAuth(), ok);
    app.get('/staff', requireRole(['admin', 'moderator']), ok);
    app.get('/admin-role', requireRole('admin'), ok);
    app.get('/products/new', requirePermission('product:create'), ok);
    app.get('/profile', protectRoute({ loadUser, ensureUser }), (req, res) => {
      res.json({ user: req.user });
    });
    app.get('/profile/no-ensure', protectRoute({ loadUser }), (req, res) => {
      res.json({ user: req.user });
    });
    app.get('/profile/ensure-404', protectRoute({
      loadUser,
      ensureUser: async () => {
        throw Object.assign(new Error('Latchkey: user not found'), { status: 404 });
      },
    }), ok);
    app.get('/profile/ensure-fails', protectRoute({
      loadUser,
      ensureUser: async () => {
        throw Object.assign(new Error('Latchkey unreachable'), { status: 503 });
      },
    }), ok);
    const dev = { NODE_ENV: 'development', ADMIN_EMAIL };
    const prod = { NODE_ENV: 'production', ADMIN_EMAIL };
    app.get('/admin/dev', protectRoute({ loadUser, ensureUser }), adminOnly({ env: dev }), ok);
    app.get('/admin/prod', protectRoute({ loadUser, ensureUser }), adminOnly({ env: prod }), ok);
    // Without protectRoute there is no row: the email comes from the token's email claim.
    app.get('/admin/dev-claims', adminOnly({ env: dev }), ok);
    app.get('/admin/process-env', adminOnly(), ok);
    return app;
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
    expect(claimsOf(u.mod.jwt)).toMatchObject({ sub: u.mod.id, sid: u.mod.sessionId, role: 'moderator', permissions: MODERATOR_PERMISSIONS, email: 'mod@example.com' });
    expect(claimsOf(u.roleless.jwt)).not.toHaveProperty('role');

    mainUrl = await serve(mainApp());
    const app = express();
    checked = latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, revocations: { intervalMs: 50 } });
    app.use(checked);
    app.get('/whoami', (req, res) => {
      res.json(summary(req.auth));
    });
    app.get('/auth', requireAuth(), ok);
    app.get('/staff', requireRole(['admin', 'moderator']), ok);
    checkedUrl = await serve(app);
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

  describe('latchkeyMiddleware', () => {
    it('never blocks: signed out with the reason, or signed in with role and permissions, always on to the route', async () => {
      expect(await get(mainUrl, '/whoami')).toMatchObject({ status: 200 });
      expect((await get(mainUrl, '/whoami')).body).toStrictEqual({
        isAuthenticated: false, userId: null, sessionId: null, role: null, permissions: [], reason: 'missing',
      });
      const garbage = await get(mainUrl, '/whoami', 'not-a-jwt');
      expect(garbage.status).toBe(200);
      expect(garbage.body).toMatchObject({ isAuthenticated: false, userId: null, reason: 'invalid' });
      const signedIn = await get(mainUrl, '/whoami', u.mod.jwt);
      expect(signedIn.status).toBe(200);
      expect(signedIn.body).toStrictEqual({
        isAuthenticated: true, userId: u.mod.id, sessionId: u.mod.sessionId, role: 'moderator', permissions: MODERATOR_PERMISSIONS, reason: null,
      });
      // A browser sends the __session cookie instead of a header.
      const cookie = await get(mainUrl, '/whoami', undefined, { cookie: `theme=dark; __session=${u.admin.jwt}` });
      expect(cookie.body).toMatchObject({ isAuthenticated: true, userId: u.admin.id, role: 'admin', permissions: ADMIN_PERMISSIONS });
      offsetMs = 10 * 60_000;
      expect(await get(mainUrl, '/whoami', u.mod.jwt)).toMatchObject({ status: 200, body: { isAuthenticated: false, reason: 'invalid' } });
    });

    it('req.auth is also callable and has sessionClaims, as @clerk/express\'s is: seed 004\'s `req.auth().sessionClaims?.role` runs unchanged', async () => {
      const app = express();
      app.use(latchkeyMiddleware({ env: { LATCHKEY_API_URL: lk.server.url, LATCHKEY_SECRET_KEY: lk.server.secretKey } }));
      app.get('/clerk-style', (req, res) => {
        const auth = req.auth();
        res.json({ userId: auth.userId, role: auth.sessionClaims?.role ?? null, same: auth === req.auth() });
      });
      const url = await serve(app);
      expect((await get(url, '/clerk-style', u.mod.jwt)).body).toStrictEqual({ userId: u.mod.id, role: 'moderator', same: true });
      expect((await get(url, '/clerk-style')).body).toStrictEqual({ userId: null, role: null, same: true });
    });

    it('options default from the environment: LATCHKEY_JWT_KEY verifies networkless; nothing configured fails at once', async () => {
      const jwks = (await (await fetch(`${lk.server.url}/.well-known/jwks.json`)).json()) as { keys: JsonWebKey[] };
      const pem = createPublicKey({ key: jwks.keys[0]!, format: 'jwk' }).export({ format: 'pem', type: 'spki' }).toString();
      const app = express();
      app.use(latchkeyMiddleware({ env: { LATCHKEY_JWT_KEY: pem } }));
      app.get('/staff', requireRole(['admin', 'moderator']), ok);
      const url = await serve(app);
      expect(await get(url, '/staff', u.mod.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: u.mod.id } });
      expect((await get(url, '/staff', u.plain.jwt)).body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: 'user' });

      expect(() => latchkeyMiddleware({ env: {} })).toThrow(/LATCHKEY_JWT_KEY/);
      expect(() => latchkeyMiddleware({ env: { LATCHKEY_JWT_KEY: pem }, revocations: true })).toThrow(/revocation check needs apiUrl and secretKey/);
    });

    it('guards on a route without the middleware authenticate from process.env themselves', async () => {
      const app = express();
      app.get('/auth', requireAuth(), (req, res) => {
        res.json({ ok: true, userId: req.auth.userId });
      });
      const saved = { url: process.env.LATCHKEY_API_URL, key: process.env.LATCHKEY_SECRET_KEY };
      process.env.LATCHKEY_API_URL = lk.server.url;
      process.env.LATCHKEY_SECRET_KEY = lk.server.secretKey;
      try {
        const url = await serve(app);
        expect(await get(url, '/auth', u.plain.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: u.plain.id } });
        const refused = await get(url, '/auth');
        expect(refused.status).toBe(401);
        expect(refused.body).toStrictEqual(BODIES.required);
      } finally {
        if (saved.url === undefined) delete process.env.LATCHKEY_API_URL;
        else process.env.LATCHKEY_API_URL = saved.url;
        if (saved.key === undefined) delete process.env.LATCHKEY_SECRET_KEY;
        else process.env.LATCHKEY_SECRET_KEY = saved.key;
      }
    });
  });

  describe('requireAuth', () => {
    it('no token: 401 "Authentication required" as JSON, never a redirect, also for a browser asking for HTML', async () => {
      for (const headers of [{}, { accept: 'text/html,application/xhtml+xml' }] as Record<string, string>[]) {
        const a = await get(mainUrl, '/auth', undefined, headers);
        expect(a.status).toBe(401);
        expectJson(a);
        expect(a.headers.get('location')).toBeNull();
        expect(a.body).toStrictEqual(BODIES.required);
        expect(Object.keys(a.body)).toEqual(['error', 'message']);
      }
    });

    it('a malformed, tampered or expired token: 401 "Invalid authentication token"', async () => {
      const [h, p, s] = u.plain.jwt.split('.') as [string, string, string];
      // Promoting oneself by editing the payload breaks the signature.
      const promoted = Buffer.from(JSON.stringify({ ...claimsOf(u.plain.jwt), role: 'admin' })).toString('base64url');
      for (const token of ['garbage', `${h}.${p}`, `${h}.${promoted}.${s}`, `${h}.${p}.${s.slice(0, -4)}AAAA`]) {
        const a = await get(mainUrl, '/auth', token);
        expect(a.status, token).toBe(401);
        expect(a.body, token).toStrictEqual(BODIES.invalid);
        expect(Object.keys(a.body)).toEqual(['error', 'message']);
      }
      expect((await get(mainUrl, '/admin-role', `${h}.${promoted}.${s}`)).body).toStrictEqual(BODIES.invalid);

      expect(await get(mainUrl, '/auth', u.plain.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: u.plain.id } });
      const exp = claimsOf(u.plain.jwt).exp as number;
      offsetMs = exp * 1000 - Date.now() + 6_000; // past exp and the 5 s leeway
      for (const path of ['/auth', '/staff', '/products/new', '/profile', '/admin/dev']) {
        const a = await get(mainUrl, path, u.mod.jwt);
        expect(a.status, path).toBe(401);
        expect(a.body, path).toStrictEqual(BODIES.invalid);
      }
      expect(loadCalls).toEqual([]);
    });
  });

  describe('requireRole and requirePermission', () => {
    it('requireRole([...]): any of the roles passes; others get 403 with requiredRole as given and userRole', async () => {
      expect(await get(mainUrl, '/staff', u.mod.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: u.mod.id } });
      expect((await get(mainUrl, '/staff', u.admin.jwt)).status).toBe(200);
      const plain = await get(mainUrl, '/staff', u.plain.jwt);
      expect(plain.status).toBe(403);
      expectJson(plain);
      expect(plain.body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: 'user' });
      expect(Object.keys(plain.body).sort()).toEqual(['error', 'requiredRole', 'userRole']);
      const roleless = await get(mainUrl, '/staff', u.roleless.jwt);
      expect(roleless.status).toBe(403);
      expect(roleless.body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: null });
      expect(await get(mainUrl, '/staff')).toMatchObject({ status: 401, body: BODIES.required });
      expect((await get(mainUrl, '/staff')).body).toStrictEqual(BODIES.required);
    });

    it('requireRole("admin"): requiredRole stays a string', async () => {
      const a = await get(mainUrl, '/admin-role', u.mod.jwt);
      expect(a.status).toBe(403);
      expect(a.body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator' });
      expect((await get(mainUrl, '/admin-role', u.admin.jwt)).status).toBe(200);
    });

    it('requirePermission: the role\'s permissions from the token decide; 403 names requiredPermission and userRole', async () => {
      expect(await get(mainUrl, '/products/new', u.admin.jwt)).toMatchObject({ status: 200, body: { ok: true } });
      const mod = await get(mainUrl, '/products/new', u.mod.jwt);
      expect(mod.status).toBe(403);
      expect(mod.body).toStrictEqual({ error: 'Insufficient permissions', requiredPermission: 'product:create', userRole: 'moderator' });
      expect(Object.keys(mod.body).sort()).toEqual(['error', 'requiredPermission', 'userRole']);
      expect((await get(mainUrl, '/products/new', u.roleless.jwt)).body).toStrictEqual({
        error: 'Insufficient permissions', requiredPermission: 'product:create', userRole: null,
      });
      expect((await get(mainUrl, '/products/new')).body).toStrictEqual(BODIES.required);
    });

    it('a role change shows in the next token, not in the one already issued', async () => {
      const user = await lk.createUser('promoted@example.com', 'user');
      const { sessionId, jwt: before } = await lk.signIn(user.id);
      await lk.ok(`/v1/users/${user.id}/role`, 'POST', { role: 'moderator' });
      const after = await lk.mint(sessionId);
      expect((await get(mainUrl, '/staff', before)).body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: 'user' });
      expect((await get(mainUrl, '/staff', after)).status).toBe(200);
    });

    it('a role list must name a role; a permission must be given', () => {
      expect(() => requireRole([])).toThrow(TypeError);
      expect(() => requireRole([''])).toThrow(TypeError);
      expect(() => requirePermission('')).toThrow(TypeError);
    });
  });

  describe('protectRoute', () => {
    it('serves the app\'s row without asking Latchkey when it is there', async () => {
      rows.set(u.plain.id, { id: 100, userId: u.plain.id, email: 'plain@example.com', source: 'seed' });
      const a = await get(mainUrl, '/profile', u.plain.jwt);
      expect(a.status).toBe(200);
      expect(a.body).toStrictEqual({ user: { id: 100, userId: u.plain.id, email: 'plain@example.com', source: 'seed' } });
      expect(loadCalls).toEqual([u.plain.id]);
      expect(ensureCalls).toEqual([]);
    });

    it('no row yet (the webhook has not arrived): ensureUser writes it and the route serves that row', async () => {
      const user = await lk.createUser('fresh@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      expect(rows.has(user.id)).toBe(false);
      const a = await get(mainUrl, '/profile', jwt);
      expect(a.status, JSON.stringify(a.body)).toBe(200);
      const row = rows.get(user.id)!;
      expect(row).toMatchObject({ userId: user.id, email: 'fresh@example.com', source: 'ensureUser' });
      expect(a.body).toStrictEqual({ user: { ...row } });
      expect(ensureCalls).toEqual([user.id]);
      expect(loadCalls).toEqual([user.id, user.id]);
      // The next request finds the row: no second ensureUser.
      expect((await get(mainUrl, '/profile', jwt)).status).toBe(200);
      expect(ensureCalls).toEqual([user.id]);
    });

    it('404 "User not found" only after ensureUser found nothing (the user is gone from Latchkey)', async () => {
      const user = await lk.createUser('gone@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      await lk.ok(`/v1/users/${user.id}`, 'DELETE');
      // The token is still a valid JWT (no revocation check on this app).
      expect((await get(mainUrl, '/auth', jwt)).status).toBe(200);
      const a = await get(mainUrl, '/profile', jwt);
      expect(a.status).toBe(404);
      expectJson(a);
      expect(a.body).toStrictEqual(BODIES.notFound);
      expect(ensureCalls).toEqual([user.id]);
      expect(loadCalls).toEqual([user.id, user.id]);
      expect(rows.has(user.id)).toBe(false);
    });

    it('an ensureUser that rejects with status 404 counts as nothing found; any other failure is the app\'s 500', async () => {
      const user = await lk.createUser('norow@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      const a = await get(mainUrl, '/profile/ensure-404', jwt);
      expect(a.status).toBe(404);
      expect(a.body).toStrictEqual(BODIES.notFound);
      expect(loadCalls).toEqual([user.id, user.id]);
      const b = await get(mainUrl, '/profile/ensure-fails', jwt);
      expect(b.status).toBe(500);
      expect(b.body).toStrictEqual({ error: 'app error', detail: 'Latchkey unreachable' });
    });

    it('without ensureUser: 404 at once when loadUser finds nothing', async () => {
      const user = await lk.createUser('nosync@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      const a = await get(mainUrl, '/profile/no-ensure', jwt);
      expect(a.status).toBe(404);
      expect(a.body).toStrictEqual(BODIES.notFound);
      expect(loadCalls).toEqual([user.id]);
    });

    it('signed out: 401 before any database work', async () => {
      expect((await get(mainUrl, '/profile')).body).toStrictEqual(BODIES.required);
      expect((await get(mainUrl, '/profile', 'x.y.z')).body).toStrictEqual(BODIES.invalid);
      expect(loadCalls).toEqual([]);
      expect(ensureCalls).toEqual([]);
    });
  });

  describe('adminOnly', () => {
    const refused = (userRole: string | null) => ({ error: 'Insufficient permissions', requiredRole: 'admin', userRole });

    it('the admin role passes in development and in production', async () => {
      for (const path of ['/admin/dev', '/admin/prod', '/admin/dev-claims']) {
        expect(await get(mainUrl, path, u.admin.jwt), path).toMatchObject({ status: 200, body: { ok: true, userId: u.admin.id } });
      }
    });

    it('an ADMIN_EMAIL address passes only in development (the row\'s email, or the email claim without a row)', async () => {
      // The boss is a plain user whose email is on the list.
      const dev = await get(mainUrl, '/admin/dev', u.boss.jwt);
      expect(dev.status, JSON.stringify(dev.body)).toBe(200);
      expect(rows.get(u.boss.id)?.email).toBe('boss@example.com'); // protectRoute loaded (ensured) the row first
      expect((await get(mainUrl, '/admin/dev-claims', u.boss.jwt)).status).toBe(200);
      const prod = await get(mainUrl, '/admin/prod', u.boss.jwt);
      expect(prod.status).toBe(403);
      expect(prod.body).toStrictEqual(refused('user'));
      expect(Object.keys(prod.body).sort()).toEqual(['error', 'requiredRole', 'userRole']);
    });

    it('the row\'s email counts, not the claim, when protectRoute loaded one', async () => {
      // The moderator's row says other@example.com (on the list, in another case); the token says mod@example.com.
      rows.set(u.mod.id, { id: 200, userId: u.mod.id, email: 'other@example.com', source: 'seed' });
      expect((await get(mainUrl, '/admin/dev', u.mod.jwt)).status).toBe(200);
      expect((await get(mainUrl, '/admin/dev-claims', u.mod.jwt)).body).toStrictEqual(refused('moderator'));
      rows.delete(u.mod.id);
    });

    it('anyone else: 403 naming the admin role and theirs; signed out: 401', async () => {
      for (const path of ['/admin/dev', '/admin/prod']) {
        expect((await get(mainUrl, path, u.mod.jwt)).body, path).toStrictEqual(refused('moderator'));
        expect((await get(mainUrl, path, u.plain.jwt)).body, path).toStrictEqual(refused('user'));
        expect((await get(mainUrl, path, u.roleless.jwt)).body, path).toStrictEqual(refused(null));
        expect(await get(mainUrl, path), path).toMatchObject({ status: 401 });
        expect((await get(mainUrl, path)).body, path).toStrictEqual(BODIES.required);
      }
    });

    it('by default reads NODE_ENV and ADMIN_EMAIL from process.env on each request', async () => {
      const saved = { env: process.env.NODE_ENV, list: process.env.ADMIN_EMAIL };
      try {
        process.env.ADMIN_EMAIL = 'boss@example.com';
        process.env.NODE_ENV = 'development';
        expect((await get(mainUrl, '/admin/process-env', u.boss.jwt)).status).toBe(200);
        process.env.NODE_ENV = 'production';
        const a = await get(mainUrl, '/admin/process-env', u.boss.jwt);
        expect(a.status).toBe(403);
        expect(a.body).toStrictEqual(refused('user'));
        delete process.env.NODE_ENV;
        expect((await get(mainUrl, '/admin/process-env', u.boss.jwt)).status).toBe(403);
      } finally {
        if (saved.env === undefined) delete process.env.NODE_ENV;
        else process.env.NODE_ENV = saved.env;
        if (saved.list === undefined) delete process.env.ADMIN_EMAIL;
        else process.env.ADMIN_EMAIL = saved.list;
      }
    });
  });

  describe('the revocation check', () => {
    const reason = 'Violation of terms of service';

    it('a banned user\'s still-valid token: 403 "Account suspended" with reason and suspendedUntil once the list refreshed', async () => {
      const user = await lk.createUser('spammer@example.com', 'moderator');
      const { jwt } = await lk.signIn(user.id);
      expect((await get(checkedUrl, '/auth', jwt)).status).toBe(200);
      const until = Date.now() + DAY;
      const banned = await lk.ok<{ banned: boolean; ban_reason: string; banned_until: number }>(`/v1/users/${user.id}/ban`, 'POST', { reason, until });
      expect(banned).toMatchObject({ banned: true, ban_reason: reason, banned_until: until });

      const a = await waitFor('the ban to reach the revocation list', async () => {
        const r = await get(checkedUrl, '/auth', jwt);
        return r.status === 200 ? undefined : r;
      }, 10_000);
      expect(a.status).toBe(403);
      expectJson(a);
      expect(a.body).toStrictEqual({ error: 'Account suspended', reason, suspendedUntil: until });
      expect(Object.keys(a.body).sort()).toEqual(SUSPENDED_KEYS);
      // A role guard refuses the suspension before looking at the role; the middleware still only reports it.
      expect((await get(checkedUrl, '/staff', jwt)).body).toStrictEqual({ error: 'Account suspended', reason, suspendedUntil: until });
      expect((await get(checkedUrl, '/whoami', jwt)).body).toMatchObject({ isAuthenticated: false, reason: 'suspended' });

      // Without the check the token is a valid JWT until it expires, then 401.
      expect(await get(mainUrl, '/auth', jwt)).toMatchObject({ status: 200, body: { ok: true, userId: user.id } });
      offsetMs = ((claimsOf(jwt).exp as number) * 1000 - Date.now()) + 6_000;
      const expired = await get(mainUrl, '/auth', jwt);
      expect(expired.status).toBe(401);
      expect(expired.body).toStrictEqual(BODIES.invalid);
    });

    it('a ban without a body (as Clerk\'s SDK sends it): reason and suspendedUntil are null', async () => {
      const user = await lk.createUser('quiet@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      expect((await get(checkedUrl, '/auth', jwt)).status).toBe(200);
      const res = await lk.server.api(`/v1/users/${user.id}/ban`, { method: 'POST' });
      expect(res.status).toBe(200);
      const a = await waitFor('the ban to reach the revocation list', async () => {
        const r = await get(checkedUrl, '/auth', jwt);
        return r.status === 200 ? undefined : r;
      }, 10_000);
      expect(a.status).toBe(403);
      expect(a.body).toStrictEqual({ error: 'Account suspended', reason: null, suspendedUntil: null });
    });

    it('a revoked session: 401 "Invalid authentication token"; the user\'s other session still passes', async () => {
      const user = await lk.createUser('twodevices@example.com', 'user');
      const phone = await lk.signIn(user.id);
      const laptop = await lk.signIn(user.id);
      await lk.ok(`/v1/sessions/${phone.sessionId}/revoke`, 'POST', {});
      const a = await waitFor('the revocation to reach the list', async () => {
        const r = await get(checkedUrl, '/auth', phone.jwt);
        return r.status === 200 ? undefined : r;
      }, 10_000);
      expect(a.status).toBe(401);
      expect(a.body).toStrictEqual(BODIES.invalid);
      expect((await get(checkedUrl, '/whoami', phone.jwt)).body).toMatchObject({ isAuthenticated: false, reason: 'revoked' });
      expect(await get(checkedUrl, '/auth', laptop.jwt)).toMatchObject({ status: 200, body: { ok: true, userId: user.id } });
      // With the check off the revoked session's token passes until it expires.
      expect((await get(mainUrl, '/auth', phone.jwt)).status).toBe(200);
    });

    it('a deleted user: 401 "Invalid authentication token"', async () => {
      const user = await lk.createUser('deleted@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      expect((await get(checkedUrl, '/auth', jwt)).status).toBe(200);
      await lk.ok(`/v1/users/${user.id}`, 'DELETE');
      const a = await waitFor('the deletion to reach the list', async () => {
        const r = await get(checkedUrl, '/auth', jwt);
        return r.status === 200 ? undefined : r;
      }, 10_000);
      expect(a.status).toBe(401);
      expect(a.body).toStrictEqual(BODIES.invalid);
      expect((await get(checkedUrl, '/whoami', jwt)).body).toMatchObject({ isAuthenticated: false, reason: 'deleted' });
    });

    it('revocations: true builds and starts a list from the environment; so does a list of one\'s own', async () => {
      const user = await lk.createUser('envcheck@example.com', 'user');
      const { jwt } = await lk.signIn(user.id);
      const fromEnv = latchkeyMiddleware({ env: { LATCHKEY_API_URL: lk.server.url, LATCHKEY_SECRET_KEY: lk.server.secretKey }, revocations: true });
      const own = new RevocationList({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, intervalMs: 60_000 });
      const given = latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, revocations: own });
      expect(fromEnv.revocations).toBeInstanceOf(RevocationList);
      expect(given.revocations).toBe(own);
      const urls: string[] = [];
      for (const mw of [fromEnv, given]) {
        const app = express();
        app.use(mw);
        app.get('/auth', requireAuth(), ok);
        urls.push(await serve(app));
      }
      try {
        for (const url of urls) expect((await get(url, '/auth', jwt)).status).toBe(200);
        await lk.ok(`/v1/users/${user.id}/ban`, 'POST', { reason: 'spam' });
        // Their intervals are long (5 s, 60 s): a refresh stands in for the next tick.
        await fromEnv.revocations!.refresh();
        await own.refresh();
        for (const url of urls) {
          const a = await get(url, '/auth', jwt);
          expect(a.status).toBe(403);
          expect(a.body).toStrictEqual({ error: 'Account suspended', reason: 'spam', suspendedUntil: null });
        }
      } finally {
        fromEnv.revocations!.stop();
        own.stop();
      }
    });

    it('Latchkey unreachable for the first snapshot: the request fails (500) rather than skipping the check', async () => {
      const mw = latchkeyMiddleware({ apiUrl: lk.server.url, secretKey: lk.server.secretKey, revocations: { apiUrl: 'http://127.0.0.1:9', intervalMs: 60_000 } });
      const app = express();
      app.use(mw);
      app.get('/auth', requireAuth(), ok);
      const url = await serve(app);
      try {
        const a = await get(url, '/auth', u.plain.jwt);
        expect(a.status).toBe(500);
        expect(a.body).toMatchObject({ error: 'app error' });
      } finally {
        mw.revocations!.stop();
      }
    });
  });
});
