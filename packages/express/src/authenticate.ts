import { createAuthenticator, type Auth, type Authenticator } from '@latchkey/backend';
import type { Request } from 'express';
import { callable } from './augment.js';

/**
 * For one guard: the request's Auth, i.e. the one latchkeyMiddleware() set, or,
 * on a route guarded without the middleware, one made now from the environment
 * (read at the guard's first such request, and kept on req so later guards reuse
 * it). Synchronous when already known: the common path costs no promise.
 */
export function authResolver(): (req: Request) => Auth | Promise<Auth> {
  let fromEnv: Authenticator | undefined;
  return (req) => {
    const known = (req as { auth?: Auth }).auth;
    if (known) return known;
    fromEnv ??= createAuthenticator();
    return fromEnv(req).then((auth) => (req.auth = callable(auth)));
  };
}
