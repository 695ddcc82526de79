import { createAuthenticator, type AuthenticatorOptions, type RevocationList } from '@latchkey/backend';
import type { MiddlewareHandler } from 'hono';
import './augment.js';

export type LatchkeyMiddlewareOptions = AuthenticatorOptions;

export type LatchkeyMiddleware = MiddlewareHandler & {
  /** The revocation list, when the check is on (to stop() it, or refresh() it in tests). */
  readonly revocations: RevocationList | undefined;
};

/**
 * Sets c.get('auth') on every request and never blocks one: a request without a
 * usable token goes on signed out (auth.isAuthenticated false, with the reason),
 * and the guards decide. Options default from the environment
 * (LATCHKEY_SECRET_KEY + LATCHKEY_API_URL, or LATCHKEY_JWT_KEY; CLERK_* names
 * too). `revocations: true` turns on the revocation check.
 */
export function latchkeyMiddleware(opts: LatchkeyMiddlewareOptions = {}): LatchkeyMiddleware {
  const authenticate = createAuthenticator(opts);
  const handler: MiddlewareHandler = async (c, next) => {
    c.set('auth', await authenticate(c.req.raw));
    await next();
  };
  return Object.assign(handler, { revocations: authenticate.revocations });
}
