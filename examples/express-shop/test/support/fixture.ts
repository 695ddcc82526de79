import { createHmac } from 'node:crypto';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';
import { expect, inject } from 'vitest';
import { createDatabase, freePort } from '../../../../packages/server/test/support/postgres.js';
import { startServer, type TestServer } from '../../../../packages/server/test/support/server.js';
import { waitFor } from '../../../../packages/server/test/support/wait.js';
import { createShop } from '../../src/app.mjs';

/**
 * The world the shop lives in, all real: a Latchkey server (the community role
 * preset: user, moderator, admin in the session claims), the shop's own
 * PostgreSQL database, an SMTP server on loopback that keeps what it receives,
 * and a webhook endpoint at the shop. The shop itself runs in this process on
 * a real port, so Latchkey's delivery worker reaches it over HTTP.
 */

export { waitFor };

/** PostgreSQL for the shop's database: the test cluster of the global setup; '' skips the suites. */
export const pgUrl = (): string => inject('pgUrl');

// ---------------------------------------------------------------- SMTP

export interface Mail {
  to: string[];
  subject: string;
  raw: string;
}

export interface SmtpSink {
  url: string;
  mails: Mail[];
  /** Refuse the next n messages with a 451 (a mail server having a bad minute). */
  refuseNext(n: number): void;
  close(): Promise<void>;
}

export async function startSmtp(): Promise<SmtpSink> {
  const mails: Mail[] = [];
  let refusing = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (refusing > 0) {
          refusing--;
          const err = Object.assign(new Error('Try again later'), { responseCode: 451 });
          return callback(err);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        const head = raw.split('\r\n\r\n')[0]!.replace(/\r\n[ \t]+/g, ' ');
        const subject = /^subject: (.*)$/im.exec(head)?.[1] ?? '';
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), subject, raw });
        callback();
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    mails,
    refuseNext: (n) => {
      refusing = n;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

// ---------------------------------------------------------------- Latchkey

export interface Latchkey {
  server: TestServer;
  url: string;
  /** A Backend API call that must answer 200; its JSON. */
  ok<T = any>(path: string, method?: string, json?: unknown): Promise<T>;
  close(): Promise<void>;
}

export async function startLatchkey(): Promise<Latchkey> {
  const server = await startServer('sqlite', { env: { LATCHKEY_ROLE_PRESET: 'community' } });
  const ok = async <T>(path: string, method = 'GET', json?: unknown): Promise<T> => {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    const body = await res.json();
    expect(res.status, `${method} ${path}: ${JSON.stringify(body)}`).toBe(200);
    return body as T;
  };
  return { server, url: server.url, ok, close: () => server.close() };
}

/** A user who signed up through the Frontend API, as a native app does (Bearer client token, email code). */
export interface SignedUp {
  userId: string;
  sessionId: string;
  email: string;
  /** A fresh session token (60 s), as the app's frontend would get one before each call. */
  token(): Promise<string>;
}

export async function signUp(lk: Latchkey, email: string, names: { first_name?: string; last_name?: string } = {}): Promise<SignedUp> {
  const frontend = async (path: string, json: unknown, clientToken?: string) => {
    const res = await fetch(`${lk.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'latchkey-native': '1', ...(clientToken ? { authorization: `Bearer ${clientToken}` } : {}) },
      body: JSON.stringify(json),
    });
    const body = await res.json();
    expect(res.status, `POST ${path}: ${JSON.stringify(body)}`).toBe(200);
    return { res, body };
  };
  const started = await frontend('/v1/client/sign_ups', { email_address: email, password: 'a long and lovely passphrase', ...names });
  const clientToken = started.res.headers.get('latchkey-client-token')!;
  expect(clientToken).toBeTruthy();
  const mail = await waitFor(`the sign-up code for ${email}`, async () =>
    (await lk.ok(`/v1/dev/outbox?to_email_address=${encodeURIComponent(email)}`)).data[0]);
  const code = /\b(\d{6})\b/.exec(mail.body)![1];
  const done = await frontend(`/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code }, clientToken);
  expect(done.body.response.status).toBe('complete');
  // Signing in re-keys the client: from now on only the new token works.
  const signedInToken = done.res.headers.get('latchkey-client-token')!;
  expect(signedInToken).toBeTruthy();
  expect(signedInToken).not.toBe(clientToken);
  const sessionId = done.body.response.created_session_id as string;
  return {
    userId: done.body.response.created_user_id,
    sessionId,
    email,
    token: async () => (await frontend(`/v1/client/sessions/${sessionId}/tokens`, {}, signedInToken)).body.jwt,
  };
}

/** A user made through the Backend API with a role, signed in with a Backend session (for the role suites). */
export async function createUser(lk: Latchkey, email: string, role: string): Promise<SignedUp> {
  const user = await lk.ok('/v1/users', 'POST', { email_address: [email], first_name: email.split('@')[0], public_metadata: { role } });
  expect(user.public_metadata.role).toBe(role);
  const session = await lk.ok('/v1/sessions', 'POST', { user_id: user.id });
  return {
    userId: user.id,
    sessionId: session.id,
    email,
    token: async () => (await lk.ok(`/v1/sessions/${session.id}/tokens`, 'POST', {})).jwt,
  };
}

/** The claims of a JWT, unverified: to see what a token carries. */
export const claimsOf = (jwt: string): Record<string, any> => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());

// ---------------------------------------------------------------- webhooks

export interface Endpoint {
  id: string;
  secret: string;
}

/** The shop's webhook endpoint, created disabled: a test turns delivery on when it wants the webhooks to come. */
export async function createEndpoint(lk: Latchkey, shopPort: number): Promise<Endpoint> {
  const ep = await lk.ok('/v1/webhook_endpoints', 'POST', {
    url: `http://127.0.0.1:${shopPort}/api/webhooks/latchkey`,
    events: ['user.created', 'user.updated', 'user.deleted'],
    enabled: false,
  });
  expect(ep.secret).toMatch(/^whsec_/);
  return { id: ep.id, secret: ep.secret };
}

export interface MessageDetail {
  id: string;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  event_type: string;
  event_sequence: number;
  event: { id: string; type: string; sequence: number; data: { id: string; updated_at: number } & Record<string, any> } & Record<string, any>;
  attempt_list: { status: string; status_code: number | null }[];
}

/** Every message of the endpoint about one user, oldest event first, with its event. */
export async function messagesFor(lk: Latchkey, endpointId: string, userId: string): Promise<MessageDetail[]> {
  const out: MessageDetail[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await lk.ok(`/v1/webhook_endpoints/${endpointId}/messages?limit=100${before === undefined ? '' : `&before=${before}`}`);
    for (const m of page.data) {
      const detail = await lk.ok<MessageDetail>(`/v1/webhook_messages/${m.id}`);
      if (detail.event?.data.id === userId) out.push(detail);
    }
    if (!page.has_more) break;
    before = page.next_before;
  }
  return out.sort((a, b) => a.event_sequence - b.event_sequence);
}

/** Signs a body the way Latchkey does (Standard Webhooks / Svix): for deliveries a test makes itself. */
export function signed(secret: string, id: string, body: string, timestampS = Math.floor(Date.now() / 1000)): Record<string, string> {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${timestampS}.${body}`).digest('base64');
  return { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': String(timestampS), 'svix-signature': `v1,${sig}` };
}

// ---------------------------------------------------------------- the shop

export type Shop = Awaited<ReturnType<typeof createShop>>;

export interface RunningShop {
  shop: Shop;
  url: string;
  port: number;
  /** GET/POST/PATCH the shop with an optional session token; status, raw text and parsed JSON. */
  call(method: string, path: string, opts?: { token?: string; json?: unknown }): Promise<{ status: number; text: string; body: any }>;
  logs: string[];
  close(): Promise<void>;
}

/** Fast retries and polling: the tests wait on state, and backoff is still exercised. */
export const FAST_WORKER = { WEBHOOK_WORKER_POLL_MS: '50', WEBHOOK_RETRY_BASE_MS: '50', WEBHOOK_RETRY_MAX_MS: '500' };

export async function startShop(env: Record<string, string | undefined>, port = 0): Promise<RunningShop> {
  const logs: string[] = [];
  const shop = await createShop({ env: { ...FAST_WORKER, ...env }, log: (line) => logs.push(line) });
  const url = await shop.listen(port, '127.0.0.1');
  return {
    shop,
    url,
    port: Number(new URL(url).port),
    async call(method, path, { token, json } = {}) {
      const headers: Record<string, string> = {};
      if (token) headers.authorization = `Bearer ${token}`;
      if (json !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
      const text = await res.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      // A 500 the test did not expect is easier to read with the shop's log beside it.
      if (res.status === 500 && !text.includes('Missing webhook secret')) console.error(`${method} ${path} → 500\n${logs.join('\n')}`);
      return { status: res.status, text, body };
    },
    logs,
    close: () => shop.close(),
  };
}

/** A fresh, empty database for a shop, on the test cluster. */
export async function shopDatabase(): Promise<{ url: string; pool: pg.Pool; close(): Promise<void> }> {
  const url = await createDatabase(pgUrl());
  const pool = new pg.Pool({ connectionString: url, max: 3 });
  return { url, pool, close: () => pool.end() };
}

export { freePort };
