import { checkConvexToken } from '@latchkey/convex/testing';
import type { UserIdentity } from 'convex/server';
import { expect, vi } from 'vitest';
import { startServer, type TestServer } from '../../../../packages/server/test/support/server.js';
import { waitFor } from '../../../../packages/server/test/support/wait.js';
import { startReceiver, type Delivery } from '../../../../packages/server/test/support/webhook-receiver.js';

/**
 * A real Latchkey for the marketplace's tests: the marketplace roles
 * (LATCHKEY_ROLE_PRESET=marketplace), a webhook endpoint whose signed deliveries
 * a local receiver captures (the tests replay them into convex-test through
 * t.fetch, as Latchkey would post them to the deployment's /latchkey-webhook), and
 * "convex" template tokens checked by the Convex rules oracle, whose identity
 * the tests hand to t.withIdentity.
 */

export type { Delivery };

export interface Envelope {
  id: string;
  type: string;
  data: { id: string; updated_at?: number; public_metadata?: Record<string, unknown> } & Record<string, unknown>;
}

export const envelope = (d: Delivery) => JSON.parse(d.body) as Envelope;

export interface LatchkeyUser {
  id: string;
  first_name: string | null;
  last_name: string | null;
  public_metadata: Record<string, unknown>;
  updated_at: number;
}

export interface Latchkey {
  server: TestServer;
  url: string;
  /** The endpoint's signing secret (the deployment's LATCHKEY_WEBHOOK_SECRET). */
  secret: string;
  deliveries: Delivery[];
  /** Backend API call that must answer 200; returns the JSON. */
  ok<T = any>(path: string, init?: RequestInit & { json?: unknown }): Promise<T>;
  createUser(email: string, first: string, last: string, role?: string): Promise<LatchkeyUser>;
  /** Waits until the deliveries about `userId` include one of each `types` (in this order), and returns all of them. */
  deliveriesFor(userId: string, types: string[]): Promise<Delivery[]>;
  /** A new session's "convex" template token, verified as Convex would; returns the token and the identity Convex builds. */
  convexToken(userId: string): Promise<{ token: string; identity: UserIdentity; payload: Record<string, unknown> }>;
  close(): Promise<void>;
}

/** The app's convex/auth.config.ts, read with the deployment's environment (LATCHKEY_ISSUER). */
async function authConfig(): Promise<{ providers: Array<{ domain: string; applicationID: string }> }> {
  return (await import('../../convex/auth.config')).default;
}

/**
 * Starts Latchkey and sets the deployment's environment (process.env, which
 * convex-test's functions read): LATCHKEY_ISSUER and LATCHKEY_WEBHOOK_SECRET.
 * Undo with vi.unstubAllEnvs().
 */
export async function startLatchkey(): Promise<Latchkey> {
  const receiver = await startReceiver();
  const server = await startServer('sqlite', { env: { LATCHKEY_ROLE_PRESET: 'marketplace' }, webhookPollMs: 50 });
  vi.stubEnv('LATCHKEY_ISSUER', server.url);
  const ok = async (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const res = await server.api(path, init);
    const text = await res.text();
    expect(res.status, `${init.method ?? 'GET'} ${path} → ${res.status} ${text}`).toBe(200);
    return JSON.parse(text);
  };
  const endpoint = await ok('/v1/webhook_endpoints', {
    method: 'POST', json: { url: receiver.url, events: ['user.created', 'user.updated', 'user.deleted'] },
  });
  vi.stubEnv('LATCHKEY_WEBHOOK_SECRET', endpoint.secret);

  return {
    server,
    url: server.url,
    secret: endpoint.secret,
    deliveries: receiver.deliveries,
    ok,
    createUser: (email, first, last, role) => ok('/v1/users', {
      method: 'POST',
      json: {
        email_address: [email], first_name: first, last_name: last,
        ...(role ? { public_metadata: { role } } : {}),
      },
    }),
    deliveriesFor: (userId, types) => waitFor(`deliveries ${types.join(', ')} for ${userId}`, () => {
      const mine = receiver.deliveries.filter((d) => envelope(d).data.id === userId);
      const seen = mine.map((d) => envelope(d).type);
      let at = 0;
      for (const type of seen) if (type === types[at]) at += 1;
      return at === types.length ? mine : undefined;
    }),
    async convexToken(userId) {
      const session = await ok('/v1/sessions', { method: 'POST', json: { user_id: userId } });
      const { jwt } = await ok(`/v1/sessions/${session.id}/tokens/convex`, { method: 'POST', json: {} });
      // The provider the app's convex/auth.config.ts declares, with LATCHKEY_ISSUER set to this Latchkey.
      const [provider] = (await authConfig()).providers;
      const { identity, payload } = await checkConvexToken(jwt, { domain: provider!.domain, applicationID: provider!.applicationID });
      // The oracle types claims `unknown`; they are the JSON of a verified token (what t.withIdentity takes).
      return { token: jwt, identity: identity as UserIdentity, payload };
    },
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}
