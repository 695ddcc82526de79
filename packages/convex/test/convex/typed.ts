import { customMutation, customQuery } from 'convex-helpers/server/customFunctions';
import { v } from 'convex/values';
import { authorizedMutationCustomization, authorizedQueryCustomization } from '../../src/index.js';
import { mutation, query } from './_generated/server.js';

/** docs/convex.md's typed builders: the app's own query / mutation, so ctx.db knows the schema. */
const typedQuery = customQuery(query, authorizedQueryCustomization);
const typedMutation = customMutation(mutation, authorizedMutationCustomization);

export const myEmail = typedQuery({
  args: {},
  handler: async (ctx) => {
    // Typed: a Doc<'users'> whose email is string | undefined.
    const row = await ctx.db.get(ctx.user._id);
    return row?.email ?? null;
  },
});

/**
 * Never called: it fails to compile if the users table lost its field types in the
 * app's data model (types.test.ts runs tsc on this folder).
 */
export const typeChecks = typedQuery({
  args: {},
  handler: async (ctx) => {
    const row = await ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', ctx.user.latchkeyId)).unique();
    // @ts-expect-error email is string | undefined, not a number
    const wrong: number = row!.email;
    // @ts-expect-error no such field in the schema
    await ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('noSuchField', 1)).unique();
    // @ts-expect-error ctx.user is the users row
    const notAUser: number = ctx.user;
    return [wrong, notAUser];
  },
});

export const setLastName = typedMutation({
  roles: 'admin',
  args: { lastName: v.string() },
  handler: async (ctx, { lastName }) => {
    await ctx.db.patch(ctx.user._id, { lastName });
    return (await ctx.db.get(ctx.user._id))?.lastName;
  },
});
