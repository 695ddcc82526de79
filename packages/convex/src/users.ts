import { internalMutationGeneric, mutationGeneric, type UserIdentity } from 'convex/server';
import { v } from 'convex/values';
import { unauthenticated, userNotFound } from './errors.js';
import { PROVISIONAL_VERSION, type LatchkeyUserDoc, type LatchkeyUserFields } from './schema.js';
import { assertUserData, userFields } from './user-data.js';
import { findUserRow, insertUserRow } from './user-rows.js';

/** What a sync write did: written, or dropped because the row already holds that version or a later one. */
export type SyncOutcome = 'applied' | 'stale';

/** The first of `names` the identity has as a non-empty string. */
const claim = (identity: UserIdentity, ...names: string[]): string | undefined => {
  for (const name of names) {
    const value = (identity as Record<string, unknown>)[name];
    if (typeof value === 'string' && value !== '') return value;
  }
  return undefined;
};

/**
 * The row ensureUser creates from a verified identity. The OIDC provider form
 * gives standard claims camelCased (givenName); the customJwt form passes the
 * raw claim names (given_name): both are read.
 */
function fieldsFromIdentity(identity: UserIdentity): LatchkeyUserFields {
  return {
    latchkeyId: identity.subject,
    email: claim(identity, 'email'),
    firstName: claim(identity, 'givenName', 'given_name'),
    lastName: claim(identity, 'familyName', 'family_name'),
    imageUrl: claim(identity, 'pictureUrl', 'picture'),
    // The built-in "convex" template carries it; a custom template may not (the webhook brings it then).
    role: claim(identity, 'role'),
    updatedAt: PROVISIONAL_VERSION,
  };
}

/**
 * The sync functions, for an app to export from convex/users.ts:
 *
 *     export const { upsertUser, deleteUser, ensureUser } = userMutations();
 *
 * upsertUser and deleteUser are internal (only the webhook route calls them);
 * ensureUser is public, for a client to call right after sign-in.
 * Every write compares versions (the user's updated_at), so deliveries may
 * arrive twice or in any order and the row still ends in the latest state.
 */
export function userMutations() {
  /** Creates or updates the row from Latchkey's user JSON; an older or equal version is ignored. */
  const upsertUser = internalMutationGeneric({
    args: { data: v.any() },
    handler: async (ctx, { data }): Promise<SyncOutcome> => {
      assertUserData(data);
      const fields = userFields(data);
      const row = await findUserRow(ctx.db, fields.latchkeyId);
      if (!row) {
        await insertUserRow(ctx.db, fields);
        return 'applied';
      }
      // Equal is a duplicate delivery; lower is a late one. A tombstone's version is
      // its deletion, so a late user.updated does not bring a deleted user back.
      if (row.updatedAt >= fields.updatedAt) return 'stale';
      await ctx.db.patch(row._id, fields);
      return 'applied';
    },
  });

  /**
   * Soft-deletes: the row stays as a redacted tombstone at the deletion's
   * version (references to its _id stay valid, and stale upserts are refused).
   * With no row yet (user.deleted overtook user.created), the tombstone is created.
   */
  const deleteUser = internalMutationGeneric({
    args: { id: v.string(), updatedAt: v.number() },
    handler: async (ctx, { id, updatedAt }): Promise<SyncOutcome> => {
      const tombstone: LatchkeyUserFields = {
        latchkeyId: id,
        email: undefined,
        firstName: undefined,
        lastName: undefined,
        imageUrl: undefined,
        role: undefined,
        updatedAt,
        deletedAt: updatedAt,
      };
      const row = await findUserRow(ctx.db, id);
      if (!row) {
        await insertUserRow(ctx.db, tombstone);
        return 'applied';
      }
      if (row.updatedAt >= updatedAt) return 'stale';
      await ctx.db.patch(row._id, tombstone);
      return 'applied';
    },
  });

  /**
   * Returns the caller's row, creating it from the token's claims when the
   * webhook has not arrived yet (the first request after sign-up can beat it).
   * Throws ConvexError UNAUTHENTICATED without a token, and USER_NOT_FOUND for
   * a deleted user (whose last token may still be valid for a while).
   */
  const ensureUser = mutationGeneric({
    args: {},
    handler: async (ctx): Promise<LatchkeyUserDoc> => {
      const identity = await ctx.auth.getUserIdentity();
      if (!identity) throw unauthenticated();
      const row = await findUserRow(ctx.db, identity.subject);
      if (row) {
        if (row.deletedAt !== undefined) throw userNotFound();
        return row;
      }
      const id = await insertUserRow(ctx.db, fieldsFromIdentity(identity));
      return (await ctx.db.get(id)) as LatchkeyUserDoc;
    },
  });

  return { upsertUser, deleteUser, ensureUser };
}
