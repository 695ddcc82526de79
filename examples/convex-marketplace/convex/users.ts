import { userMutations } from '@latchkey/convex';
import { authorizedQuery } from './lib/access';

/**
 * upsertUser / deleteUser: internal mutations the webhook (convex/http.ts) runs
 * for user.created, user.updated and user.deleted; idempotent and order-safe by
 * the Latchkey user's updated_at.
 * ensureUser: a public mutation a client calls after sign-in so the row exists
 * even if the user.created webhook has not arrived yet.
 */
export const { upsertUser, deleteUser, ensureUser } = userMutations();

/** The signed-in user's profile (seed 000's getCustomerProfile). */
export const getMyProfile = authorizedQuery({
  args: {},
  handler: async ({ user }) => ({
    _id: user._id,
    latchkeyId: user.latchkeyId,
    email: user.email ?? null,
    firstName: user.firstName ?? null,
    lastName: user.lastName ?? null,
    imageUrl: user.imageUrl ?? null,
    role: user.role ?? null,
  }),
});
