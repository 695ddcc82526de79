import type { Context, MiddlewareHandler } from 'hono';
import { setCookie } from 'hono/cookie';
import type { CookieOptions } from 'hono/utils/cookie';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { createClient, findClientByToken, firstKnownClient, newClient, rekeyedClient, type ClientRef, type ExistingClientRef } from '../../frontend/clients.js';
import type { Services } from '../../services.js';
import type { ClientTable, SessionTable } from '../../storage/schema.js';
import { cors } from './cors.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's Origin if it is among the allowed origins (checkOrigin); else undefined. */
    checkedOrigin: string | undefined;
  }
}

/**
 * The client cookie: `__Host-client` under an https public URL (a cookie with
 * that prefix can only be set by this host, Secure, for Path=/, so a sibling
 * subdomain or a plain-http page cannot plant or shadow it), `__client` otherwise
 * (browsers refuse `__Host-` cookies that are not Secure).
 */
export const CLIENT_COOKIE = '__client';
const HOST_CLIENT_COOKIE = '__Host-client';
const secureCookies = (s: Services) => s.config.publicUrl.startsWith('https:');
export const clientCookieName = (s: Services) => (secureCookies(s) ? HOST_CLIENT_COOKIE : CLIENT_COOKIE);
/** Native apps ask for a Bearer client token instead of a cookie with this header. */
export const NATIVE_HEADER = 'latchkey-native';
/** Where a new client's token is returned to a native app. */
export const CLIENT_TOKEN_HEADER = 'latchkey-client-token';

export interface Found {
  client: ClientTable;
  /** How the request carried it: a new token for it goes back the same way (issueClientToken). */
  via: 'bearer' | 'cookie';
}

async function findClient(c: Context, s: Services): Promise<Found | undefined> {
  const auth = c.req.header('authorization');
  if (auth) {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    const client = m ? await findClientByToken(s.db, m[1]!) : undefined;
    if (!client) throw new LatchkeyError('unauthenticated', 'client_invalid', 'Invalid client', 'The client token is not valid; start a new sign-in.');
    return { client, via: 'bearer' };
  }
  // A browser sends every cookie of that name whose Domain and Path fit, longest
  // Path first: a stray or planted one must not hide the real one. (Only `__Host-`
  // keeps other hosts from planting one at all.)
  const { values } = cookieValues(c.req.header('cookie'), clientCookieName(s));
  const client = values.length === 1 ? await findClientByToken(s.db, values[0]!) : await firstKnownClient(s.db, values);
  // A cookie that names no client is left alone, never cleared: it may be the token a
  // sign-in replaced a moment ago, on a request sent beside that sign-in (a double
  // click, a token refresh), and clearing it would delete the new cookie too, since
  // the browser applies Set-Cookie in the order the answers arrive.
  return client ? { client, via: 'cookie' } : undefined;
}

/** At most this many same-named cookies are looked up (in one query): a browser holds a few at most. */
const MAX_CLIENT_COOKIES = 16;

/** The distinct values of the `name` cookies in a Cookie header, in order: the first MAX_CLIENT_COOKIES, and whether there were more. */
export function cookieValues(header: string | undefined, name: string): { values: string[]; more: boolean } {
  const values: string[] = [];
  for (const pair of header?.split(';') ?? []) {
    const eq = pair.indexOf('=');
    if (eq < 0 || pair.slice(0, eq).trim() !== name) continue;
    const value = pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (!value || values.includes(value)) continue;
    if (values.length === MAX_CLIENT_COOKIES) return { values, more: true };
    values.push(value);
  }
  return { values, more: false };
}

/** The public URL's own origin and the instance's allowed_origins. */
const allowedOrigins = (s: Services) => [new URL(s.config.publicUrl).origin, ...s.settings.get().allowed_origins];

/**
 * Writes must show they come from an app, not from a form on some other site
 * (CSRF, including signing a visitor into an attacker's account): a Bearer
 * client token or the `latchkey-native` header (a cross-site page can send
 * neither: the header needs a CORS preflight, which only allowed origins pass),
 * or an Origin among the allowed origins.
 * Returns the Origin when it is an allowed one, else undefined: the only Origin
 * a token's `azp` may name.
 */
export function checkOrigin(c: Context, s: Services): string | undefined {
  const origin = c.req.header('origin');
  const allowed = origin !== undefined && allowedOrigins(s).includes(origin) ? origin : undefined;
  if (allowed || c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'OPTIONS') return allowed;
  if (c.req.header('authorization') || c.req.header(NATIVE_HEADER)) return undefined;
  throw new LatchkeyError('forbidden', 'origin_invalid', 'Origin not allowed',
    'Browser requests must come from an allowed origin (Origin header); native apps send a Bearer client token or the latchkey-native header.');
}

/** The request's client; with `create`, a new one when there is none (cookie or native token issued). */
export async function requireClient(c: Context, s: Services, create = false): Promise<Found> {
  const found = await findClient(c, s);
  if (found) return found;
  if (!create) throw new LatchkeyError('unauthenticated', 'client_missing', 'No client', 'Sign in first: this request carries no client.');
  const { client, token } = await createClient(c.var.db, s.clock);
  return { client, via: issueClientToken(c, s, token) };
}

/** The client a sign-in opens its session on (see clientForSignIn). */
export interface ClientForSignIn {
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
  return found ? rekeyForSignIn(c, s, found) : forSignIn(c, s, newClient(s.clock.now()));
}

/** The request's own `client` (already found) under a new token, as clientForSignIn gives it: for a sign-up verification. */
export const rekeyForSignIn = (c: Context, s: Services, found: Found) =>
  forSignIn(c, s, rekeyedClient(found.client), found) as ClientForSignIn & { ref: ExistingClientRef };

/** `found`: the existing client as the request found it; none for a new client. */
function forSignIn(c: Context, s: Services, { client: row, token }: { client: ClientTable & { token_hash: string }; token: string }, found?: Found): ClientForSignIn {
  return {
    ref: found?.client.token_hash ? { existing: row.id, tokenHash: row.token_hash, previousHash: found.client.token_hash } : { create: row },
    issue: () => void issueClientToken(c, s, token, found?.via),
    // openSession stamps the client with the session's own time; it opened a new
    // client instead if another sign-in re-keyed this one first (ExistingClientRef).
    after: (session) => ({
      ...row, ...(session.client_id === row.id ? {} : { id: session.client_id, created_at: session.created_at }),
      last_active_session_id: session.id, updated_at: session.created_at,
    }),
  };
}

/**
 * A client's token, the way the request's client travels (`via`, for a client
 * the request came with): a header for native apps (a Bearer token, or asking
 * with NATIVE_HEADER), an httpOnly cookie for browsers. A client that came in a
 * cookie gets its new token in the cookie, NATIVE_HEADER or not: else the cookie
 * the app keeps sending would name a client that no longer has it.
 */
function issueClientToken(c: Context, s: Services, token: string, via?: Found['via']): Found['via'] {
  if (via === 'bearer' || (via === undefined && (c.req.header('authorization') || c.req.header(NATIVE_HEADER)))) {
    c.header(CLIENT_TOKEN_HEADER, token);
    return 'bearer';
  }
  setCookie(c, clientCookieName(s), token, cookieOptions(s, 365 * 24 * 3600));
  return 'cookie';
}

const cookieOptions = (s: Services, maxAge: number): CookieOptions =>
  ({ httpOnly: true, sameSite: 'Lax', path: '/', secure: secureCookies(s), maxAge });

/**
 * CORS for the allowed origins, so browser apps there may send the cookie. The
 * HTTP app runs it ahead of everything else on the Frontend API's paths, so that
 * every answer there, a 413 for a body too large included, reaches the app's scripts.
 */
export function frontendCors(s: Services): MiddlewareHandler {
  return cors({
    allowedOrigins: () => allowedOrigins(s),
    allowHeaders: ['content-type', 'authorization', NATIVE_HEADER],
    exposeHeaders: [CLIENT_TOKEN_HEADER, 'retry-after'],
    allowMethods: ['GET', 'POST', 'PATCH', 'DELETE'],
    maxAgeSeconds: 600,
  });
}

/** What every Frontend API route runs first: the CSRF origin check (checkOrigin). */
export const csrfGuard = (s: Services): MiddlewareHandler => async (c, next) => {
  c.set('checkedOrigin', checkOrigin(c, s));
  await next();
};
