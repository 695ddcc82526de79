import { signedOutRefusal, userNotFound, type Auth, type SignedInAuth } from '@latchkey/backend';
import type { Context, MiddlewareHandler } from 'hono';
import './augment.js';
import { authResolver } from './authenticate.js';
import { refuse } from './guards.js';

type Maybe<T> = T | null | undefined;

export interface ProtectRouteOptions<TUser> {
  /** The app's row for the signed-in user (by auth.userId, or auth.claims.dbId…); null/undefined when it has none. */
  loadUser(auth: SignedInAuth, c: Context): Maybe<TUser> | Promise<Maybe<TUser>>;
  /**
   * Called when loadUser found nothing: the sync kit's ensureUser(userId), which
   * fetches the user from Latchkey and writes the row the webhook has not
   * written yet. A rejection with status 404 (Latchkey has no such user) counts as "nothing found".
   */
  ensureUser?(userId: string): unknown;
}

const isNotFound = (err: unknown) => typeof err === 'object' && err !== null && (err as { status?: unknown }).status === 404;

/**
 * Seed 004's protectRoute without its race: signed in (else the requireAuth
 * answers), then the app's row in c.get('user'). A user who signed up a moment
 * ago may have no row yet (the user.created webhook is on its way): ensureUser
 * creates it, and only when there is still nothing does the route answer 404
 * {"message":"User not found"}.
 */
export function protectRoute<TUser>(opts: ProtectRouteOptions<TUser>): MiddlewareHandler<{ Variables: { auth: Auth; user: TUser } }> {
  const authOf = authResolver();
  return async (c, next) => {
    const auth = await authOf(c);
    if (!auth.isAuthenticated) return refuse(c, signedOutRefusal(auth));
    let row = await opts.loadUser(auth, c);
    if (row == null && opts.ensureUser) {
      try {
        await opts.ensureUser(auth.userId);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      row = await opts.loadUser(auth, c);
    }
    if (row == null) return refuse(c, userNotFound());
    c.set('user', row);
    await next();
  };
}
