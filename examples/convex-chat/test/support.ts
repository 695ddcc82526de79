import type { UserIdentity } from 'convex/server';
import { expect } from 'vitest';
import { checkConvexToken } from '@latchkey/convex/testing';
import { startServer, type TestServer } from '../../../packages/server/test/support/server.js';
import { waitFor } from '../../../packages/server/test/support/wait.js';
import { signatureHeaders, startReceiver, type Delivery, type Receiver } from '../../../packages/server/test/support/webhook-receiver.js';

/**
 * The world around the chat app: a running Latchkey (SQLite), a local webhook
 * receiver that keeps every signed delivery as it arrived, and users with real
 * "convex" template tokens, each verified by the oracle of what a Convex
 * deployment checks (reference/convex-auth.md) before its identity is handed to
 * convex-test's withIdentity.
 */

export { waitFor };

export { startReceiver, type Delivery, type Receiver };
/** The headers a delivery is re-posted with: its signature headers and content type, as Latchkey sent them. */
export const deliveryHeaders = signatureHeaders;

export const envelopeOf = (d: Delivery) => JSON.parse(d.body) as { type: string; data: { id: string } & Record<string, unknown> };

export interface World {
  server: TestServer;
  receiver: Receiver;
  /** The webhook endpoint's signing secret (whsec_…). */
  secret: string;
  /** The delivery of event `type` about user `userId` (waits for Latchkey's worker). */
  delivery(type: string, userId: string): Promise<Delivery>;
  close(): Promise<void>;
}

export async function startWorld(): Promise<World> {
  const receiver = await startReceiver();
  const server = await startServer('sqlite', { webhookPollMs: 50 });
  const res = await server.api('/v1/webhook_endpoints', { method: 'POST', json: { url: receiver.url } });
  expect(res.status).toBe(200);
  const { secret } = (await res.json()) as { secret: string };
  return {
    server,
    receiver,
    secret,
    delivery: (type, userId) =>
      waitFor(`the ${type} delivery for ${userId}`, () =>
        receiver.deliveries.find((d) => {
          const e = envelopeOf(d);
          return e.type === type && e.data.id === userId;
        })),
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}

export interface SignedInUser {
  id: string;
  sessionId: string;
  /** A "convex" template token as minted by Latchkey. */
  token: string;
  /** What ctx.auth.getUserIdentity() returns for that token, per the oracle (for t.withIdentity). */
  identity: UserIdentity;
}

/** Creates a user with the Backend API, opens a session and mints a token of `template` ("convex" by default). */
export async function signedInUser(
  server: TestServer,
  profile: { email: string; firstName: string; lastName: string },
  template = 'convex',
): Promise<SignedInUser> {
  const created = await server.api('/v1/users', {
    method: 'POST',
    json: { email_address: [profile.email], first_name: profile.firstName, last_name: profile.lastName },
  });
  const user = (await created.json()) as { id: string };
  expect(created.status, JSON.stringify(user)).toBe(200);
  const session = await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } });
  expect(session.status).toBe(200);
  const sessionId = ((await session.json()) as { id: string }).id;
  const { token, identity } = await mint(server, sessionId, template);
  return { id: user.id, sessionId, token, identity };
}

/** Mints a token of `template` for a session and verifies it as Convex would. */
export async function mint(server: TestServer, sessionId: string, template = 'convex'): Promise<{ token: string; identity: UserIdentity }> {
  const res = await server.api(`/v1/sessions/${sessionId}/tokens/${template}`, { method: 'POST', json: {} });
  const body = (await res.json()) as { jwt: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  // auth.config.ts says authConfig({ issuer: process.env.LATCHKEY_ISSUER }) → { domain: issuer, applicationID: 'convex' }.
  const { identity } = await checkConvexToken(body.jwt, { domain: server.url, applicationID: 'convex' });
  // The oracle's identity has the claims Convex would pass (JSON values); withIdentity takes UserIdentity.
  return { token: body.jwt, identity: identity as UserIdentity };
}

/** The ConvexError a call was refused with: its data (code, message) and message text. */
export async function refusal(call: Promise<unknown>): Promise<{ data: unknown; message: string }> {
  const err = await call.then(
    () => {
      throw new Error('expected the call to be refused, but it succeeded');
    },
    (e: unknown) => e,
  );
  expect((err as Error).name, String(err)).toBe('ConvexError');
  return { data: (err as { data: unknown }).data, message: (err as Error).message };
}
