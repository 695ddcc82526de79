import { describe, expect, it } from 'vitest';
import { signedIn, signedOut } from '../auth/auth-object.js';
import type { JwtPayload } from '../tokens/jwt.js';
import { adminOnly, createAuthenticator, parseAdminEmails, requireAuth, requirePermission, requireRole, resolveAuthOptions, userNotFound } from './index.js';

/** The decisions alone, over Auth objects built the way authenticateRequest builds them; adapters are tested over HTTP. */

const claims = (extra: Record<string, unknown> = {}): JwtPayload => ({ sub: 'user_1', sid: 'sess_1', exp: 2_000_000_000, ...extra });
const moderator = signedIn(claims({ role: 'moderator', permissions: ['order:update', 'content:moderate'], email: 'Mod@Example.com' }), 't');
const noRole = signedIn(claims(), 't');

const REQUIRED = { status: 401, body: { error: 'Authentication required', message: 'Please sign in to access this resource' } };
const INVALID = { status: 401, body: { error: 'Invalid authentication token', message: 'Token has expired or is malformed' } };

describe('guard decisions', () => {
  it('requireAuth: null when signed in; each signed-out reason maps to its status and exact body', () => {
    expect(requireAuth(moderator)).toBeNull();
    expect(requireAuth(signedOut('missing'))).toStrictEqual(REQUIRED);
    for (const reason of ['invalid', 'revoked', 'deleted'] as const) expect(requireAuth(signedOut(reason)), reason).toStrictEqual(INVALID);
    expect(requireAuth(signedOut('suspended', { suspension: { reason: 'spam', suspendedUntil: 1_640_995_200_000 } }))).toStrictEqual({
      status: 403, body: { error: 'Account suspended', reason: 'spam', suspendedUntil: 1_640_995_200_000 },
    });
    expect(requireAuth(signedOut('suspended'))).toStrictEqual({ status: 403, body: { error: 'Account suspended', reason: null, suspendedUntil: null } });
  });

  it('requireRole: any of the roles; the refusal names them as given and the user role (or null)', () => {
    expect(requireRole(moderator, ['admin', 'moderator'])).toBeNull();
    expect(requireRole(moderator, 'moderator')).toBeNull();
    expect(requireRole(moderator, 'admin')).toStrictEqual({
      status: 403, body: { error: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator' },
    });
    const roles = ['admin', 'store_owner'];
    const refused = requireRole(noRole, roles);
    expect(refused).toStrictEqual({ status: 403, body: { error: 'Insufficient permissions', requiredRole: ['admin', 'store_owner'], userRole: null } });
    roles.push('x');
    expect(refused!.body).toMatchObject({ requiredRole: ['admin', 'store_owner'] }); // a copy, not the caller's array
    expect(requireRole(signedOut('missing'), 'admin')).toStrictEqual(REQUIRED);
    expect(requireRole(signedOut('revoked'), 'admin')).toStrictEqual(INVALID);
  });

  it('requirePermission: the permissions claim decides; the refusal names the permission and the user role', () => {
    expect(requirePermission(moderator, 'order:update')).toBeNull();
    expect(requirePermission(moderator, 'product:create')).toStrictEqual({
      status: 403, body: { error: 'Insufficient permissions', requiredPermission: 'product:create', userRole: 'moderator' },
    });
    expect(requirePermission(noRole, 'order:update')).toStrictEqual({
      status: 403, body: { error: 'Insufficient permissions', requiredPermission: 'order:update', userRole: null },
    });
    expect(requirePermission(signedOut('invalid'), 'order:update')).toStrictEqual(INVALID);
  });

  it('adminOnly: the admin role anywhere; the ADMIN_EMAIL list only in development', () => {
    const admin = signedIn(claims({ role: 'admin' }), 't');
    expect(adminOnly(admin)).toBeNull();
    expect(adminOnly(admin, { environment: 'production' })).toBeNull();
    const list = 'boss@example.com, mod@example.com ,';
    expect(adminOnly(moderator, { adminEmails: list, environment: 'development', email: 'MOD@example.com' })).toBeNull();
    const refused = { status: 403, body: { error: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator' } };
    for (const environment of ['production', 'test', undefined, 'Development']) {
      expect(adminOnly(moderator, { adminEmails: list, environment, email: 'mod@example.com' }), String(environment)).toStrictEqual(refused);
    }
    expect(adminOnly(moderator, { adminEmails: list, environment: 'development', email: 'other@example.com' })).toStrictEqual(refused);
    expect(adminOnly(moderator, { adminEmails: list, environment: 'development', email: null })).toStrictEqual(refused);
    expect(adminOnly(moderator, { adminEmails: undefined, environment: 'development', email: 'mod@example.com' })).toStrictEqual(refused);
    // A suspended or signed-out caller is refused as such even when the list names them.
    expect(adminOnly(signedOut('missing'), { adminEmails: list, environment: 'development', email: 'mod@example.com' })).toStrictEqual(REQUIRED);
    expect(parseAdminEmails(' A@x.com ,, b@X.com ')).toEqual(['a@x.com', 'b@x.com']);
    expect(parseAdminEmails(['C@x.com'])).toEqual(['c@x.com']);
  });

  it('userNotFound is seed 004\'s 404 body, a fresh object each time', () => {
    const a = userNotFound();
    expect(a).toStrictEqual({ status: 404, body: { message: 'User not found' } });
    (a.body as { message: string }).message = 'changed';
    expect(userNotFound().body).toStrictEqual({ message: 'User not found' });
  });
});

describe('adapter options', () => {
  const env = { LATCHKEY_API_URL: 'http://latchkey.test', LATCHKEY_SECRET_KEY: 'sk_test_x', LATCHKEY_AUTHORIZED_PARTIES: 'https://app.test' };

  it('without a key source of their own, options are filled from the environment; given values win, undefined ones do not', () => {
    expect(resolveAuthOptions({ env, clockSkewInMs: 0, issuer: undefined })).toStrictEqual({
      apiUrl: 'http://latchkey.test', secretKey: 'sk_test_x', authorizedParties: ['https://app.test'], clockSkewInMs: 0,
    });
    // A key source given explicitly: the environment is not consulted at all.
    expect(resolveAuthOptions({ env, jwtKey: 'PEM' })).toStrictEqual({ jwtKey: 'PEM' });
    expect(() => resolveAuthOptions({ env: {} })).toThrow(/LATCHKEY_JWT_KEY/);
    expect(() => createAuthenticator({ env: { LATCHKEY_JWT_KEY: 'PEM' }, revocations: true })).toThrow(/apiUrl and secretKey/);
  });

  it('the revocation list\'s first snapshot: a failure fails the waiting request, and the next request tries again', async () => {
    let calls = 0;
    const snapshot = { object: 'revocations', revoked_sessions: [], suspended_users: [], lifted_users: [], deleted_users: [], cursor: 1, has_more: false };
    const fakeFetch = (async () => {
      calls += 1;
      if (calls === 1) throw new Error('connection refused');
      return new Response(JSON.stringify(snapshot), { headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const authenticate = createAuthenticator({ env, revocations: { fetch: fakeFetch, intervalMs: 3_600_000 } });
    try {
      await expect(authenticate({ headers: {} })).rejects.toThrow('connection refused');
      const auth = await authenticate({ headers: {} });
      expect(auth).toMatchObject({ isAuthenticated: false, reason: 'missing' });
      expect(calls).toBe(2);
      await authenticate({ headers: {} });
      expect(calls).toBe(2); // started: no more snapshots per request
    } finally {
      authenticate.revocations!.stop();
    }
  });
});
