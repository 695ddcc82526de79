import { v } from 'convex/values';
import type { Doc, Id } from './_generated/dataModel';
import { authorizedMutation, authorizedQuery, fail, notFound, ownStore } from './lib/access';

/**
 * Orders. A customer turns their cart into orders (one per store, stock taken
 * in the same transaction); a store owner sees and ships the orders of their
 * own store.
 */

/** Customer: places the cart. Returns the new orders' ids, one per store. */
export const placeOrder = authorizedMutation({
  roles: 'customer',
  args: {},
  handler: async (ctx) => {
    const customer = ctx.user;
    const items = await ctx.db.query('cartItems').withIndex('by_user', (q) => q.eq('userId', customer._id)).collect();
    if (items.length === 0) fail({ code: 'CART_EMPTY', message: 'Your cart is empty' });

    const byStore = new Map<Id<'stores'>, Doc<'orders'>['items']>();
    for (const item of items) {
      const product = await ctx.db.get(item.productId);
      const store = product && (await ctx.db.get(product.storeId));
      if (!product || !store?.approved) return notFound('Product', item.productId);
      if (item.quantity > product.stock) {
        fail({ code: 'OUT_OF_STOCK', message: 'Not enough stock', productId: product._id, available: product.stock });
      }
      await ctx.db.patch(product._id, { stock: product.stock - item.quantity });
      const lines = byStore.get(product.storeId) ?? [];
      lines.push({ productId: product._id, name: product.name, priceCents: product.priceCents, quantity: item.quantity });
      byStore.set(product.storeId, lines);
      await ctx.db.delete(item._id);
    }

    const now = Date.now();
    const orderIds: Id<'orders'>[] = [];
    for (const [storeId, lines] of byStore) {
      orderIds.push(await ctx.db.insert('orders', {
        userId: customer._id,
        storeId,
        items: lines,
        totalCents: lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0),
        status: 'placed',
        createdAt: now,
      }));
    }
    return orderIds;
  },
});

/** Customer: their orders, newest first. */
export const listMyOrders = authorizedQuery({
  roles: 'customer',
  args: {},
  handler: async (ctx) => {
    const customer = ctx.user;
    return ctx.db.query('orders').withIndex('by_user', (q) => q.eq('userId', customer._id)).order('desc').collect();
  },
});

/** Store owner: the orders of their own store, newest first. */
export const listStoreOrders = authorizedQuery({
  roles: 'store_owner',
  args: { storeId: v.id('stores') },
  handler: async (ctx, { storeId }) => {
    const owner = ctx.user;
    await ownStore(ctx, owner, storeId);
    return ctx.db.query('orders').withIndex('by_store', (q) => q.eq('storeId', storeId)).order('desc').collect();
  },
});

/** Store owner: marks an order of their own store shipped. */
export const markOrderShipped = authorizedMutation({
  roles: 'store_owner',
  args: { orderId: v.id('orders') },
  handler: async (ctx, { orderId }) => {
    const owner = ctx.user;
    const order = await ctx.db.get(orderId);
    if (!order) return notFound('Order', orderId);
    await ownStore(ctx, owner, order.storeId);
    if (order.status === 'placed') await ctx.db.patch(orderId, { status: 'shipped' });
    return (await ctx.db.get(orderId))!;
  },
});
