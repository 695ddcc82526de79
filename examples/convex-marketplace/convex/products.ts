import { v } from 'convex/values';
import { query } from './_generated/server';
import { authorizedMutation, checkCount, checkName, notFound, ownApprovedStore } from './lib/access';

/**
 * Products. The owner of an approved store adds, changes and removes its
 * products; anyone lists the products of an approved store.
 */

/** Store owner: adds a product to their own approved store. */
export const createProduct = authorizedMutation({
  roles: 'store_owner',
  args: {
    storeId: v.id('stores'),
    name: v.string(),
    description: v.optional(v.string()),
    priceCents: v.number(),
    stock: v.number(),
  },
  handler: async (ctx, args) => {
    const owner = ctx.user;
    await ownApprovedStore(ctx, owner, args.storeId);
    return ctx.db.insert('products', {
      storeId: args.storeId,
      name: checkName(args.name, 'name'),
      description: args.description,
      priceCents: checkCount(args.priceCents, 'priceCents', 0),
      stock: checkCount(args.stock, 'stock', 0),
    });
  },
});

/** Store owner: changes a product of their own store. */
export const updateProduct = authorizedMutation({
  roles: 'store_owner',
  args: {
    productId: v.id('products'),
    name: v.optional(v.string()),
    description: v.optional(v.string()),
    priceCents: v.optional(v.number()),
    stock: v.optional(v.number()),
  },
  handler: async (ctx, { productId, name, description, priceCents, stock }) => {
    const owner = ctx.user;
    const product = await ctx.db.get(productId);
    if (!product) return notFound('Product', productId);
    await ownApprovedStore(ctx, owner, product.storeId);
    await ctx.db.patch(productId, {
      ...(name !== undefined ? { name: checkName(name, 'name') } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(priceCents !== undefined ? { priceCents: checkCount(priceCents, 'priceCents', 0) } : {}),
      ...(stock !== undefined ? { stock: checkCount(stock, 'stock', 0) } : {}),
    });
    return (await ctx.db.get(productId))!;
  },
});

/** Store owner: removes a product of their own store. */
export const deleteProduct = authorizedMutation({
  roles: 'store_owner',
  args: { productId: v.id('products') },
  handler: async (ctx, { productId }) => {
    const owner = ctx.user;
    const product = await ctx.db.get(productId);
    if (!product) return notFound('Product', productId);
    await ownApprovedStore(ctx, owner, product.storeId);
    await ctx.db.delete(productId);
    return null;
  },
});

/** Anyone: the products of an approved store (a store waiting for approval is not found). */
export const listProducts = query({
  args: { storeId: v.id('stores') },
  handler: async (ctx, { storeId }) => {
    const store = await ctx.db.get(storeId);
    if (!store || !store.approved) return notFound('Store', storeId);
    return ctx.db.query('products').withIndex('by_store', (q) => q.eq('storeId', storeId)).collect();
  },
});
