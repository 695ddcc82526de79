import { authorizedMutationCustomization, authorizedQueryCustomization } from '@latchkey/convex';
import { customMutation, customQuery } from 'convex-helpers/server/customFunctions';
import { ConvexError, type Value } from 'convex/values';
import type { Doc, Id } from '../_generated/dataModel';
import { mutation, query, type QueryCtx } from '../_generated/server';

/**
 * Access rules of Twigz in one place. Who someone is and what role they hold
 * come from @latchkey/convex: the verified identity (auth.config.ts) and the
 * users row the webhook keeps in step with Latchkey. What they may touch
 * (their own store, their own cart) is decided here.
 *
 * Refusals are ConvexErrors whose data a client reads as `error.data`:
 *   { code: 'UNAUTHENTICATED', message: 'Not authenticated' }                            (seed 002)
 *   { code: 'USER_NOT_FOUND', message: 'User not found' }                                (seed 002)
 *   { code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole, userRole }   (seed 000's 403)
 *   { code: 'NOT_STORE_OWNER', message: 'You can only manage your own store', storeId }
 *   { code: 'STORE_NOT_APPROVED', message: 'Store is awaiting approval', storeId }
 *   { code: 'STORE_EXISTS', message: 'You already have a store', storeId }
 *   { code: 'NOT_FOUND', message: 'Store not found' | 'Product not found' | 'Order not found', storeId | productId | orderId }
 *   { code: 'OUT_OF_STOCK', message: 'Not enough stock', productId, available }
 *   { code: 'CART_EMPTY', message: 'Your cart is empty' }
 *   { code: 'INVALID_ARGUMENT', message, field }
 */

/**
 * A query / mutation whose handler runs only for a signed-in user with a row
 * (and, with `roles`, that role: 'customer' | 'store_owner' | 'admin', the
 * marketplace preset's roles, a user's public_metadata.role in Latchkey), with
 * the row as `ctx.user`. Built on this
 * app's own query/mutation, so ctx.db keeps the schema's types.
 *   authorizedMutation({ roles: 'store_owner', args, handler: (ctx, args) => ... ctx.user._id ... })
 */
export const authorizedQuery = customQuery(query, authorizedQueryCustomization);
export const authorizedMutation = customMutation(mutation, authorizedMutationCustomization);

type UserRef = { _id: Id<'users'> };

export function fail(data: { code: string; message: string } & Record<string, Value>): never {
  throw new ConvexError(data);
}

export function notFound(what: 'Store' | 'Product' | 'Order', id: string): never {
  return fail({ code: 'NOT_FOUND', message: `${what} not found`, [`${what.toLowerCase()}Id`]: id });
}

/** The store, if `user` owns it; NOT_FOUND or NOT_STORE_OWNER otherwise. */
export async function ownStore(ctx: QueryCtx, user: UserRef, storeId: Id<'stores'>): Promise<Doc<'stores'>> {
  const store = await ctx.db.get(storeId);
  if (!store) return notFound('Store', storeId);
  if (store.ownerId !== user._id) fail({ code: 'NOT_STORE_OWNER', message: 'You can only manage your own store', storeId });
  return store;
}

/** The owner's own store, approved (products are managed only there). */
export async function ownApprovedStore(ctx: QueryCtx, user: UserRef, storeId: Id<'stores'>): Promise<Doc<'stores'>> {
  const store = await ownStore(ctx, user, storeId);
  if (!store.approved) fail({ code: 'STORE_NOT_APPROVED', message: 'Store is awaiting approval', storeId });
  return store;
}

export function checkName(value: string, field: string): string {
  const name = value.trim();
  if (name === '' || name.length > 200) fail({ code: 'INVALID_ARGUMENT', message: `${field} must be 1 to 200 characters`, field });
  return name;
}

export function checkCount(value: number, field: string, min: number): number {
  if (!Number.isInteger(value) || value < min) fail({ code: 'INVALID_ARGUMENT', message: `${field} must be an integer ≥ ${min}`, field });
  return value;
}
