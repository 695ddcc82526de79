import { createAuthenticator, type Auth, type Authenticator } from '@latchkey/backend';
import type { Context } from 'hono';
import './augment.js';

/**
 * For one guard: the request's Auth, i.e. the one latchkeyMiddleware() set, or,
 * on a route guarded without the middleware, one made now from the environment
 * (read at the guard's first such request, and kept on the context so later
 * guards reuse it).
 */
export function authResolver(): (c: Context) => Promise<Auth> {
  let fromEnv: Authenticator | undefined;
  return async (c) => {
    const known = c.get('auth') as Auth | undefined;
    if (known) return known;
    fromEnv ??= createAuthenticator();
    const auth = await fromEnv(c.req.raw);
    c.set('auth', auth);
    return auth;
  };
}
