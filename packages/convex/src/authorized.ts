import { customMutation, customQuery, type Customization } from 'convex-helpers/server/customFunctions';
import { mutationGeneric, queryGeneric, type GenericMutationCtx, type GenericQueryCtx } from 'convex/server';
import { requireRole, requireUser } from './guards.js';
import type { LatchkeyUserDoc } from './schema.js';

/** Options a function built with authorizedQuery / authorizedMutation may add next to args and handler. */
export interface AuthorizedOptions {
  /** The caller must hold this role, or one of these (requireRole); any signed-in user otherwise. */
  roles?: string | readonly string[];
}

const loadUser = (ctx: Parameters<typeof requireUser>[0], { roles }: AuthorizedOptions) =>
  roles === undefined ? requireUser(ctx) : requireRole(ctx, roles);

/**
 * The customization behind authorizedQuery: adds `ctx.user` (the caller's row)
 * or throws the guards' ConvexErrors before the handler runs. Use it with
 * convex-helpers' customQuery and your own `query` from _generated/server to
 * keep your data model's types on ctx.db:
 *
 *     const myQuery = customQuery(query, authorizedQueryCustomization);
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const authorizedQueryCustomization: Customization<GenericQueryCtx<any>, Record<string, never>, { user: LatchkeyUserDoc }, Record<string, never>, AuthorizedOptions> = {
  args: {},
  input: async (ctx, _args, extra) => ({ ctx: { user: await loadUser(ctx, extra) }, args: {} }),
};

/** The same for mutations. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export const authorizedMutationCustomization: Customization<GenericMutationCtx<any>, Record<string, never>, { user: LatchkeyUserDoc }, Record<string, never>, AuthorizedOptions> = {
  args: {},
  input: async (ctx, _args, extra) => ({ ctx: { user: await loadUser(ctx, extra) }, args: {} }),
};

/**
 * A public query whose handler gets `ctx.user`, and only runs for a signed-in
 * user with a row (and the role, when `roles` is given):
 *
 *     export const mine = authorizedQuery({ args: {}, handler: (ctx) => ctx.db.query('chats')
 *       .withIndex('by_user', (q) => q.eq('userId', ctx.user._id)).collect() });
 *     export const all = authorizedQuery({ roles: 'admin', args: {}, handler: ... });
 */
export const authorizedQuery = customQuery(queryGeneric, authorizedQueryCustomization);

/** A public mutation with `ctx.user`; `roles` as for authorizedQuery. */
export const authorizedMutation = customMutation(mutationGeneric, authorizedMutationCustomization);
