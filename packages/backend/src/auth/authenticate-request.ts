import { TokenVerificationError } from '../tokens/errors.js';
import { verifyToken, type VerifyTokenOptions } from '../tokens/verify-token.js';
import type { RevocationList } from '../revocations/revocation-list.js';
import { signedIn, signedOut, type Auth } from './auth-object.js';

export interface AuthenticateOptions extends VerifyTokenOptions {
  /** The opt-in revocation check: refuse revoked sessions and suspended or deleted users within seconds. */
  revocations?: RevocationList | undefined;
}

/** A fetch Request, or anything with Node-style headers (an Express or node:http request). */
export type RequestLike = Request | { headers: Record<string, string | string[] | undefined> };

const header = (req: RequestLike, name: string): string | undefined => {
  if (typeof (req.headers as Headers).get === 'function') return (req.headers as Headers).get(name) ?? undefined;
  const v = (req.headers as Record<string, string | string[] | undefined>)[name];
  return Array.isArray(v) ? v[0] : v;
};

/**
 * The session token: `Authorization: Bearer <jwt>` (APIs, native apps), else the
 * `__session` cookie (browsers, as Clerk sets it; also when some other
 * Authorization scheme is present, e.g. Basic in front of a staging site).
 */
export function tokenFrom(req: RequestLike): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '');
  if (bearer) return bearer[1];
  const cookie = header(req, 'cookie');
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === '__session') return percentDecoded(part.slice(eq + 1).trim()) || undefined;
  }
  return undefined;
}

/**
 * A cookie value as its setter meant it. A value that is not valid percent-encoding
 * (a stray cookie of that name from another app) is returned as it came: it then
 * fails verification like any other bad token, instead of throwing from here.
 */
function percentDecoded(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Who is calling: verifies the request's token (networkless once keys are
 * cached) and, with `revocations`, checks it against the local revocation list.
 * Never throws for a bad token: a SignedOutAuth says why. Throws when the keys
 * cannot be loaded (Latchkey unreachable): that is the app's 500, not a sign-out.
 */
export async function authenticateRequest(req: RequestLike, opts: AuthenticateOptions = authOptionsFromEnv()): Promise<Auth> {
  const token = tokenFrom(req);
  if (!token) return signedOut('missing');
  let claims;
  try {
    claims = await verifyToken(token, opts);
  } catch (err) {
    // Keys that cannot be loaded are Latchkey being unreachable, not a bad token: the app answers 500
    // rather than signing everyone out.
    if (err instanceof TokenVerificationError && err.reason !== 'jwk-failed-to-load') return signedOut('invalid', { error: err });
    throw err;
  }
  const revoked = opts.revocations?.check({ sub: claims.sub, sid: typeof claims.sid === 'string' ? claims.sid : undefined });
  if (revoked) return signedOut(revoked.reason, revoked.reason === 'suspended' ? { suspension: revoked.suspension } : {});
  return signedIn(claims, token);
}

/**
 * Options from the environment, Latchkey's names first, then Clerk's (so an app
 * moving from Clerk changes nothing): LATCHKEY_JWT_KEY / CLERK_JWT_KEY
 * (networkless), else LATCHKEY_API_URL / CLERK_API_URL with LATCHKEY_SECRET_KEY /
 * CLERK_SECRET_KEY (the JWKS, fetched once and cached); LATCHKEY_AUTHORIZED_PARTIES
 * (comma-separated origins) checks `azp`; LATCHKEY_ISSUER checks `iss`.
 */
export function authOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): AuthenticateOptions {
  const jwtKey = env.LATCHKEY_JWT_KEY || env.CLERK_JWT_KEY;
  const apiUrl = env.LATCHKEY_API_URL || env.CLERK_API_URL;
  const secretKey = env.LATCHKEY_SECRET_KEY || env.CLERK_SECRET_KEY;
  const parties = (env.LATCHKEY_AUTHORIZED_PARTIES ?? '').split(',').map((p) => p.trim()).filter(Boolean);
  const issuer = env.LATCHKEY_ISSUER;
  if (!jwtKey && !(apiUrl && secretKey)) {
    throw new TypeError('Latchkey: set LATCHKEY_JWT_KEY, or LATCHKEY_API_URL and LATCHKEY_SECRET_KEY (CLERK_* names work too).');
  }
  return {
    ...(jwtKey ? { jwtKey } : { apiUrl, secretKey }),
    ...(parties.length ? { authorizedParties: parties } : {}),
    ...(issuer ? { issuer } : {}),
  };
}
