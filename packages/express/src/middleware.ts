import { createAuthenticator, type AuthenticatorOptions, type RevocationList } from '@latchkey/backend';
import type { RequestHandler } from 'express';
import { callable } from './augment.js';

export type LatchkeyMiddlewareOptions = AuthenticatorOptions;

export interface LatchkeyMiddleware extends RequestHandler {
  /** The revocation list, when the check is on (to stop() it, or refresh() it in tests). */
  readonly revocations: RevocationList | undefined;
}

/**
 * Sets `req.auth` on every request and never blocks one: a request without a
 * usable token goes on signed out (req.auth.isAuthenticated false, with the
 * reason), and the guards decide. Options default from the environment
 * (LATCHKEY_SECRET_KEY + LATCHKEY_API_URL, or LATCHKEY_JWT_KEY; CLERK_* names
 * too). `revocations: true` turns on the revocation check.
 */
export function latchkeyMiddleware(opts: LatchkeyMiddlewareOptions = {}): LatchkeyMiddleware {
  const authenticate = createAuthenticator(opts);
  const handler: RequestHandler = (req, _res, next) => {
    authenticate(req).then((auth) => {
      req.auth = callable(auth);
      next();
    }, next); // only a failure that is not the token's (e.g. Latchkey unreachable for the first revocation snapshot)
  };
  return Object.assign(handler, { revocations: authenticate.revocations });
}
