// @ts-check
import { adminOnly, latchkeyMiddleware, protectRoute, requireRole } from '@latchkey/express';

/**
 * The guards on @latchkey/express (AUTH_SDK=latchkey, the default): seed 004's
 * protectRoute / adminOnly / requireRole, with the exact error bodies, and the
 * revocation check that refuses a banned user's still-valid token.
 *
 * @param {import('../config.mjs').ShopConfig} config
 * @param {{ users: import('../db/users.mjs').UserRepository, ensureUser: (userId: string) => Promise<unknown> }} deps
 * @returns {import('./guards.mjs').Guards}
 */
export function latchkeyGuards(config, { users, ensureUser }) {
  const authenticate = latchkeyMiddleware({
    apiUrl: config.apiUrl,
    secretKey: config.secretKey,
    env: config.env,
    revocations: config.revocationCheck
      ? { intervalMs: config.revocationIntervalMs, onError: (err) => console.error('revocation list refresh failed:', err) }
      : false,
  });
  return {
    authenticate,
    revocations: authenticate.revocations,
    protectRoute: [protectRoute({
      loadUser: (auth) => users.findLive(auth.userId),
      // The user signed up a moment ago and user.created is still on its way: fetch and insert now.
      ensureUser,
    })],
    adminOnly: adminOnly({ adminEmails: config.adminEmails ?? '', environment: config.nodeEnv ?? '', env: config.env }),
    requireRole: (roles) => requireRole(roles),
    close() {
      authenticate.revocations?.stop();
    },
  };
}
