import { v } from 'convex/values';
import { query } from './_generated/server';
import { authorizedMutation, authorizedQuery, checkName, fail, notFound, ownStore } from './lib/access';

/**
 * Stores. A store owner opens one store, which waits for an admin's approval
 * before it can list products; they manage only their own store. An admin
 * lists the stores waiting and approves them. Anyone browses approved stores.
 */

const publicStore = (s: { _id: string; name: string; description?: string; approved: boolean; createdAt: number }) => ({
  _id: s._id, name: s.name, description: s.description ?? null, approved: s.approved, createdAt: s.createdAt,
});

/** Store owner: opens their store (unapproved). One store per owner. */
export const createStore = authorizedMutation({
  roles: 'store_owner',
  args: { name: v.string(), description: v.optional(v.string()) },
  handler: async (ctx, args) => {
    const owner = ctx.user;
    const existing = await ctx.db.query('stores').withIndex('by_owner', (q) => q.eq('ownerId', owner._id)).first();
    if (existing) fail({ code: 'STORE_EXISTS', message: 'You already have a store', storeId: existing._id });
    return ctx.db.insert('stores', {
      ownerId: owner._id,
      name: checkName(args.name, 'name'),
      description: args.description,
      approved: false,
      createdAt: Date.now(),
    });
  },
});

/** Store owner: their store, approved or not (seed 000's getStoreByAuthenticatedOwner); null before they open one. */
export const getMyStore = authorizedQuery({
  roles: 'store_owner',
  args: {},
  handler: async (ctx) => {
    const owner = ctx.user;
    return ctx.db.query('stores').withIndex('by_owner', (q) => q.eq('ownerId', owner._id)).first();
  },
});

/** Store owner: changes their own store's name or description. */
export const updateStore = authorizedMutation({
  roles: 'store_owner',
  args: { storeId: v.id('stores'), name: v.optional(v.string()), description: v.optional(v.string()) },
  handler: async (ctx, { storeId, name, description }) => {
    const owner = ctx.user;
    await ownStore(ctx, owner, storeId);
    await ctx.db.patch(storeId, {
      ...(name !== undefined ? { name: checkName(name, 'name') } : {}),
      ...(description !== undefined ? { description } : {}),
    });
    return (await ctx.db.get(storeId))!;
  },
});

/** Anyone: the approved stores. */
export const listStores = query({
  args: {},
  handler: async (ctx) => {
    const stores = await ctx.db.query('stores').withIndex('by_approved', (q) => q.eq('approved', true)).collect();
    return stores.map(publicStore);
  },
});

/** Anyone: one approved store (a store waiting for approval is not found). */
export const getStore = query({
  args: { storeId: v.id('stores') },
  handler: async (ctx, { storeId }) => {
    const store = await ctx.db.get(storeId);
    if (!store || !store.approved) return notFound('Store', storeId);
    return publicStore(store);
  },
});

/** Admin: the stores waiting for approval, oldest first. */
export const listPendingStores = authorizedQuery({
  roles: 'admin',
  args: {},
  handler: async (ctx) => {
    return ctx.db.query('stores').withIndex('by_approved', (q) => q.eq('approved', false)).order('asc').collect();
  },
});

/** Admin: approves a store; it can then list products. Approving twice changes nothing. */
export const approveStore = authorizedMutation({
  roles: 'admin',
  args: { storeId: v.id('stores') },
  handler: async (ctx, { storeId }) => {
    const admin = ctx.user;
    const store = await ctx.db.get(storeId);
    if (!store) return notFound('Store', storeId);
    if (!store.approved) await ctx.db.patch(storeId, { approved: true, approvedBy: admin._id, approvedAt: Date.now() });
    return (await ctx.db.get(storeId))!;
  },
});
