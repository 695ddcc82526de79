import { ConvexError, v } from 'convex/values';
import { authorizedMutation, authorizedQuery, requireRole, requireUser, userMutations } from '../../src/index.js';
import { query } from './_generated/server.js';

/** What an app puts in convex/users.ts. */
export const { upsertUser, deleteUser, ensureUser } = userMutations();

/** The caller's row, or null until it exists. */
export const getMyProfile = query({
  args: {},
  handler: async (ctx) => {
    try {
      return await requireUser(ctx);
    } catch (err) {
      if (err instanceof ConvexError && (err.data as { code?: string }).code === 'USER_NOT_FOUND') return null;
      throw err;
    }
  },
});

/** requireUser and requireRole as they are, for their errors. */
export const me = query({ args: {}, handler: (ctx) => requireUser(ctx) });
export const adminOrModerator = query({ args: {}, handler: (ctx) => requireRole(ctx, ['admin', 'moderator']) });
export const adminOnly = query({ args: {}, handler: (ctx) => requireRole(ctx, 'admin') });

/** Every row, tombstones included: what the tests look at. */
export const all = query({ args: {}, handler: (ctx) => ctx.db.query('users').collect() });
export const byLatchkeyId = query({
  args: { latchkeyId: v.string() },
  handler: (ctx, { latchkeyId }) => ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', latchkeyId)).unique(),
});

/** The wrappers: ctx.user, and roles. */
export const whoAmI = authorizedQuery({ args: {}, handler: async (ctx) => ctx.user.latchkeyId });
export const adminEcho = authorizedQuery({
  roles: 'admin',
  args: { text: v.string() },
  handler: async (ctx, { text }) => `${ctx.user.latchkeyId}: ${text}`,
});
export const renameMe = authorizedMutation({
  roles: ['admin', 'moderator'],
  args: { firstName: v.string() },
  handler: async (ctx, { firstName }) => {
    await ctx.db.patch(ctx.user._id, { firstName });
    return firstName;
  },
});
