// @ts-check
import { createClerkClient } from '@clerk/backend';
import { clerkMiddleware, getAuth } from '@clerk/express';

/**
 * The same guards on @clerk/express (AUTH_SDK=clerk), for an app that keeps
 * Clerk's SDK and points it at Latchkey (CLERK_API_URL, CLERK_SECRET_KEY,
 * CLERK_PUBLISHABLE_KEY). Seed 004's middleware with its answers replaced by
 * the ones @latchkey/express gives, so clients see the same statuses and
 * bodies whichever SDK runs.
 *
 * What Clerk's SDK cannot do: tell a banned user's still-valid token from a
 * good one (it has no revocation list); such a token works until it expires,
 * at most its lifetime (60 s by default).
 *
 * @param {import('../config.mjs').ShopConfig} config
 * @param {{ users: import('../db/users.mjs').UserRepository, ensureUser: (userId: string) => Promise<unknown> }} deps
 * @returns {import('./guards.mjs').Guards}
 */
export function clerkGuards(config, { users, ensureUser }) {
  const clerkOptions = { secretKey: config.secretKey, publishableKey: config.publishableKey, apiUrl: config.apiUrl };
  const authenticate = clerkMiddleware({ ...clerkOptions, clerkClient: createClerkClient(clerkOptions) });

  /** @param {import('express').Request} req */
  const hasToken = (req) => /^Bearer\s+\S+/i.test(req.get('authorization') ?? '') || /(?:^|;\s*)__session=/.test(req.get('cookie') ?? '');
  /** @param {import('express').Request} req */
  const roleOf = (req) => {
    const role = getAuth(req).sessionClaims?.role;
    return typeof role === 'string' ? role : null;
  };
  /**
   * @param {import('express').Response} res
   * @param {string | string[]} requiredRole
   * @param {string | null} userRole
   */
  const forbidden = (res, requiredRole, userRole) =>
    res.status(403).json({ error: 'Insufficient permissions', requiredRole, userRole });

  /** @type {import('express').RequestHandler} */
  const requireAuth = (req, res, next) => {
    if (getAuth(req).userId) return next();
    // Clerk says only "signed out"; a token that was sent and failed is the "invalid" answer.
    if (hasToken(req)) res.status(401).json({ error: 'Invalid authentication token', message: 'Token has expired or is malformed' });
    else res.status(401).json({ error: 'Authentication required', message: 'Please sign in to access this resource' });
  };

  /** @type {import('express').RequestHandler} */
  const loadUser = async (req, res, next) => {
    const userId = /** @type {string} */ (getAuth(req).userId);
    let user = await users.findLive(userId);
    if (!user) {
      await ensureUser(userId);
      user = await users.findLive(userId);
    }
    if (!user) {
      res.status(404).json({ message: 'User not found' });
      return;
    }
    req.user = user;
    next();
  };

  const adminEmails = (config.adminEmails ?? '').split(',').map((e) => e.trim().toLowerCase()).filter(Boolean);

  return {
    authenticate,
    revocations: undefined,
    protectRoute: [requireAuth, loadUser],
    adminOnly: (req, res, next) => {
      const role = roleOf(req);
      const email = /** @type {{ email?: string | null } | undefined} */ (req.user)?.email;
      const byEmail = config.nodeEnv === 'development' && typeof email === 'string' && adminEmails.includes(email.toLowerCase());
      if (role === 'admin' || byEmail) return next();
      forbidden(res, 'admin', role);
    },
    requireRole: (roles) => (req, res, next) => {
      const role = roleOf(req);
      if (role !== null && roles.includes(role)) return next();
      forbidden(res, roles, role);
    },
    close() {},
  };
}
