import { ConvexError } from 'convex/values';
import { requireUser, userMutations } from '@latchkey/convex';
import { query } from './_generated/server';

/**
 * upsertUser / deleteUser: internal mutations the webhook route (convex/http.ts) runs.
 * ensureUser: a public mutation the client calls once after sign-in, creating the row
 * from the verified token when the webhook has not arrived yet (seed 001's syncUserProfile,
 * but with the profile taken from the token instead of trusting the client's arguments).
 */
export const { upsertUser, deleteUser, ensureUser } = userMutations();

/**
 * The signed-in user's row, or null while it does not exist yet (seed 001's getMyProfile).
 * Without a token: ConvexError { code: 'UNAUTHENTICATED', message: 'Not authenticated' }.
 */
export const getMyProfile = query({
  args: {},
  handler: async (ctx) => {
    try {
      return await requireUser(ctx);
    } catch (err) {
      if (err instanceof ConvexError && (err.data as { code?: string } | undefined)?.code === 'USER_NOT_FOUND') return null;
      throw err;
    }
  },
});
