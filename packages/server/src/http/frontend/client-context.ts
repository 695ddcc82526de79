import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { createClient, findClientByToken, newClient, rekeyedClient, type ClientRef, type ExistingClientRef } from '../../frontend/clients.js';
import type { Services } from '../../services.js';
import type { ClientTable, SessionTable } from '../../storage/schema.js';
import { cors } from './cors.js';

export const CLIENT_COOKIE = '__client';
/** Native apps ask for a Bearer client token instead of a cookie with this header. */
export const NATIVE_HEADER = 'latchkey-native';
/** Where a new client's token is returned to a native app. */
export const CLIENT_TOKEN_HEADER = 'latchkey-client-token';

interface Found {
  client: ClientTable;
}

async function findClient(c: Context, s: Services): Promise<Found | undefined> {
  const auth = c.req.header('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const client = m ? await findClientByToken(s.db, m[1]!) : undefined;
    if (!client) throw new LatchkeyError('unauthenticated', 'client_invalid', 'Invalid client', 'The client token is not valid; start a new sign-in.');
    return { client };
  }
  const token = getCookie(c, CLIENT_COOKIE);
  const client = token ? await findClientByToken(s.db, token) : undefined;
  if (token && !client) deleteCookie(c, CLIENT_COOKIE, { path: '/' });
  return client ? { client } : undefined;
}

/** The public URL's own origin and the instance's allowed_origins. */
const allowedOrigins = (s: Services) => [new URL(s.config.publicUrl).origin, ...s.settings.get().allowed_origins];

/**
 * Writes must show they come from an app, not from a form on some other site
 * (CSRF, including signing a visitor into an attacker's account): a Bearer
 * client token or the `latchkey-native` header (neither of which a cross-site
 * form can send), or an Origin among the allowed origins.
 */
export function checkOrigin(c: Context, s: Services): void {
  if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return;
  if (c.req.header('authorization') || c.req.header(NATIVE_HEADER)) return;
  const origin = c.req.header('origin');
  if (!origin || !allowedOrigins(s).includes(origin)) {
    throw new LatchkeyError('forbidden', 'origin_invalid', 'Origin not allowed',
      'Browser requests must come from an allowed origin (Origin header); native apps send a Bearer client token or the latchkey-native header.');
  }
}

/** The request's client; with `create`, a new one when there is none (cookie or native token issued). */
export async function requireClient(c: Context, s: Services, create = false): Promise<Found> {
  const found = await findClient(c, s);
  if (found) return found;
  if (!create) throw new LatchkeyError('unauthenticated', 'client_missing', 'No client', 'Sign in first: this request carries no client.');
  const { client, token } = await createClient(c.var.db, s.clock);
  issueClientToken(c, s, token);
  return { client };
}

/** The client a sign-in opens its session on (see clientForSignIn). */
export interface ClientForSignIn {
  id: string;
  ref: ClientRef;
  /** Hands the client's new token to the caller; call once the sign-in succeeded. */
  issue(): void;
  /** The client row once `session` (opened on it) became its active session. */
  after(session: SessionTable): ClientTable;
}

/**
 * The client a sign-in opens its session on: the request's own under a new
 * token, or a new one; the sign-in stores either with the session (ClientRef).
 * Re-keying the request's own client defeats session fixation: whoever planted
 * or saw its old token gets nothing from this sign-in. The token is handed out
 * only by `issue()`, after the sign-in succeeded: a failed sign-in changes no
 * client row and sets no cookie.
 */
export async function clientForSignIn(c: Context, s: Services): Promise<ClientForSignIn> {
  const found = await findClient(c, s);
  return found ? rekeyForSignIn(c, s, found.client) : forSignIn(c, s, newClient(s.clock.now()), false);
}

/** The request's own `client` (already found) under a new token, as clientForSignIn gives it: for a sign-up verification. */
export const rekeyForSignIn = (c: Context, s: Services, client: ClientTable) =>
  forSignIn(c, s, rekeyedClient(client), true) as ClientForSignIn & { ref: ExistingClientRef };

function forSignIn(c: Context, s: Services, { client: row, token }: { client: ClientTable & { token_hash: string }; token: string }, existing: boolean): ClientForSignIn {
  return {
    id: row.id,
    ref: existing ? { existing: row.id, tokenHash: row.token_hash } : { create: row },
    issue: () => issueClientToken(c, s, token),
    // openSession stamps the client with the session's own time.
    after: (session) => ({ ...row, last_active_session_id: session.id, updated_at: session.created_at }),
  };
}

/**
 * A client's token, the way the request's client travels: a header for native
 * apps (a Bearer token, or asking with NATIVE_HEADER), an httpOnly cookie for browsers.
 */
function issueClientToken(c: Context, s: Services, token: string): void {
  if (c.req.header('authorization') || c.req.header(NATIVE_HEADER)) {
    c.header(CLIENT_TOKEN_HEADER, token);
    return;
  }
  setCookie(c, CLIENT_COOKIE, token, {
    httpOnly: true, sameSite: 'Lax', path: '/', secure: s.config.publicUrl.startsWith('https:'), maxAge: 365 * 24 * 3600,
  });
}

/**
 * What every Frontend API route runs first: CORS for the allowed origins (so
 * browser apps there may send the cookie), then the CSRF origin check.
 */
export function browserGuards(s: Services): MiddlewareHandler[] {
  return [
    cors({
      allowedOrigins: () => allowedOrigins(s),
      allowHeaders: ['content-type', 'authorization', NATIVE_HEADER],
      exposeHeaders: [CLIENT_TOKEN_HEADER, 'retry-after'],
      allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
      maxAgeSeconds: 600,
    }),
    async (c, next) => {
      checkOrigin(c, s);
      await next();
    },
  ];
}
