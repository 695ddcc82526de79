import { expect } from 'vitest';
import { startServer, type DialectName, type TestServer } from '../../../server/test/support/server.js';

/**
 * A real Latchkey for the adapter suites (Express and Hono share it): the
 * community role preset (user, moderator, admin) puts role and permissions in
 * the session claims, and the claims carry the primary email too (adminOnly's
 * claim fallback). Tokens come from the Backend API, as an app's tests would
 * mint them: POST /v1/sessions, then POST /v1/sessions/{sid}/tokens.
 */

export const MODERATOR_PERMISSIONS = ['order:update', 'content:moderate', 'profile:manage'];
export const ADMIN_PERMISSIONS = ['product:create', 'product:manage', 'order:update', 'content:moderate', 'user:manage', 'profile:manage'];

export interface LatchkeyFixture {
  server: TestServer;
  /** Backend API call that must succeed; returns the JSON body. */
  ok<T = Record<string, unknown>>(path: string, method?: string, json?: unknown): Promise<T>;
  /** A user with this email and role (null: no role at all). */
  createUser(email: string, role?: string | null): Promise<{ id: string; email: string }>;
  /** A new session for the user and a session token of it. */
  signIn(userId: string): Promise<{ sessionId: string; jwt: string }>;
  mint(sessionId: string): Promise<string>;
  close(): Promise<void>;
}

export async function startLatchkey(dialect: DialectName): Promise<LatchkeyFixture> {
  const server = await startServer(dialect);
  const ok = async <T>(path: string, method = 'GET', json?: unknown): Promise<T> => {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    const body = await res.json();
    expect(res.status, `${method} ${path}: ${JSON.stringify(body)}`).toBe(200);
    return body as T;
  };
  await ok('/v1/roles/presets', 'POST', { preset: 'community' });
  const instance = await ok<{ session_claims: Record<string, string> }>('/v1/instance', 'PATCH', {
    session_claims: { role: '{{user.public_metadata.role}}', permissions: '{{user.permissions}}', email: '{{user.primary_email_address}}' },
  });
  expect(instance.session_claims).toEqual({
    role: '{{user.public_metadata.role}}', permissions: '{{user.permissions}}', email: '{{user.primary_email_address}}',
  });

  const mint = async (sessionId: string) => (await ok<{ jwt: string }>(`/v1/sessions/${sessionId}/tokens`, 'POST', {})).jwt;
  return {
    server,
    ok,
    async createUser(email, role = 'user') {
      const user = await ok<{ id: string; public_metadata: Record<string, unknown> }>('/v1/users', 'POST', {
        email_address: [email], ...(role ? { public_metadata: { role } } : {}),
      });
      if (role === null) {
        // New users get the default role ("user"); clearing it leaves a user with no role claim.
        const cleared = await ok<{ public_metadata: Record<string, unknown> }>(`/v1/users/${user.id}/role`, 'POST', { role: null });
        expect(cleared.public_metadata).toEqual({});
      } else {
        expect(user.public_metadata).toEqual({ role });
      }
      return { id: user.id, email };
    },
    async signIn(userId) {
      const session = await ok<{ id: string }>('/v1/sessions', 'POST', { user_id: userId });
      return { sessionId: session.id, jwt: await mint(session.id) };
    },
    mint,
    close: () => server.close(),
  };
}

/** The payload of a JWT, unverified: to check what a test token carries. */
export const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** The exact refusal bodies, spelled out here independently of the package that sends them. */
export const BODIES = {
  required: { error: 'Authentication required', message: 'Please sign in to access this resource' },
  invalid: { error: 'Invalid authentication token', message: 'Token has expired or is malformed' },
  notFound: { message: 'User not found' },
};
