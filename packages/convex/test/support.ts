import { convexTest } from 'convex-test';
import { expect } from 'vitest';
import { startServer, type TestServer } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { signatureHeaders, startReceiver, type Delivery, type Receiver } from '../../server/test/support/webhook-receiver.js';
import { checkConvexToken, type ConvexIdentity } from '../src/testing/index.js';
import schema from './convex/schema.js';
import { modules } from './convex/test.setup.js';

/**
 * The world around the package's test deployment: a running Latchkey
 * (SQLite), a local receiver that keeps every signed webhook delivery exactly
 * as it arrived, and users with real "convex" template tokens whose identity
 * the oracle checked before convex-test's withIdentity gets it.
 */

export { waitFor };

export const newConvex = () => convexTest(schema, modules);

export { startReceiver, type Delivery, type Receiver };

export interface Envelope {
  id: string;
  type: string;
  timestamp: number;
  data: { id: string; updated_at: number } & Record<string, unknown>;
}

export const envelopeOf = (d: Delivery) => JSON.parse(d.body) as Envelope;

/** The delivery as a fetch init for t.fetch: Latchkey's body and signature headers, untouched. */
export function asRequest(d: Delivery, overrides: { body?: string; headers?: Record<string, string | undefined> } = {}): RequestInit {
  const headers: Record<string, string> = { ...signatureHeaders(d) };
  for (const [k, v] of Object.entries(overrides.headers ?? {})) {
    if (v === undefined) delete headers[k];
    else if (/^(svix-|webhook-|content-type$)/.test(k)) headers[k] = v;
  }
  return { method: 'POST', headers, body: overrides.body ?? d.body };
}

export interface Latchkey {
  server: TestServer;
  receiver: Receiver;
  /** The endpoint's whsec_ secret. */
  secret: string;
  api<T = Record<string, unknown>>(path: string, method?: string, json?: unknown): Promise<T>;
  /** Every delivery of the user's events so far, in Latchkey's order, once `count` have arrived. */
  deliveriesOf(userId: string, count: number): Promise<Delivery[]>;
  /** A session and a real "convex" template token, checked by the oracle: the identity Convex would see. */
  identityOf(userId: string): Promise<ConvexIdentity>;
  close(): Promise<void>;
}

export async function startLatchkey(): Promise<Latchkey> {
  const receiver = await startReceiver();
  // The community preset: roles user (the default), moderator and admin.
  const server = await startServer('sqlite', { webhookPollMs: 50, env: { LATCHKEY_ROLE_PRESET: 'community' } });
  const api = async <T,>(path: string, method = 'GET', json?: unknown): Promise<T> => {
    const res = await server.api(path, { method, json });
    const body = await res.json();
    expect(res.status, `${method} ${path}: ${JSON.stringify(body)}`).toBe(200);
    return body as T;
  };
  const endpoint = await api<{ secret: string }>('/v1/webhook_endpoints', 'POST', { url: receiver.url });
  return {
    server,
    receiver,
    secret: endpoint.secret,
    api,
    deliveriesOf: (userId, count) =>
      waitFor(`${count} deliveries for ${userId}`, () => {
        const mine = receiver.deliveries.filter((d) => envelopeOf(d).type.startsWith('user.') && envelopeOf(d).data.id === userId);
        return mine.length >= count ? mine : undefined;
      }),
    async identityOf(userId) {
      const session = await api<{ id: string }>('/v1/sessions', 'POST', { user_id: userId });
      const token = await api<{ jwt: string }>(`/v1/sessions/${session.id}/tokens/convex`, 'POST', {});
      const { identity } = await checkConvexToken(token.jwt, { domain: server.url, applicationID: 'convex' });
      return identity;
    },
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}
