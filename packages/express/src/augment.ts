import type { Auth } from '@latchkey/backend';

/** An Auth that is also a function returning itself (Clerk's `req.auth()` shape). */
export type CallableAuth = Auth & (() => Auth);

/** Makes an Auth callable, as @clerk/express's `req.auth` is. */
export const callable = (auth: Auth): CallableAuth => Object.assign(() => auth, auth);

/*
 * Types `req.auth` and `req.user` for every Express handler once this package
 * is imported. `User` is empty on purpose, as in @types/passport (the two
 * declarations agree, so both packages can live in one app): an app describes
 * its row by augmenting it, e.g.
 *   declare global { namespace Express { interface User { id: number; email: string } } }
 */
declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    // eslint-disable-next-line @typescript-eslint/no-empty-object-type
    interface User {}
    interface Request {
      /**
       * Who is calling, set by latchkeyMiddleware() (or by the first guard on a route without it).
       * Also callable, as @clerk/express's is: `req.auth().userId` (seed 004's code) works unchanged.
       */
      auth: CallableAuth;
      /** The app's own row for the caller, set by protectRoute(). */
      user?: User;
    }
  }
}

export {};
