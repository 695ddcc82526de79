import { v } from 'convex/values';
import { authorizedMutation, authorizedQuery, checkCount, fail, notFound } from './lib/access';

/** A customer's cart: products of approved stores, at most what is in stock. */

/** Customer: puts `quantity` more of a product in their cart. */
export const addToCart = authorizedMutation({
  roles: 'customer',
  args: { productId: v.id('products'), quantity: v.number() },
  handler: async (ctx, { productId, quantity }) => {
    const customer = ctx.user;
    checkCount(quantity, 'quantity', 1);
    const product = await ctx.db.get(productId);
    const store = product && (await ctx.db.get(product.storeId));
    if (!product || !store?.approved) return notFound('Product', productId);
    const item = await ctx.db
      .query('cartItems')
      .withIndex('by_user_product', (q) => q.eq('userId', customer._id).eq('productId', productId))
      .unique();
    const wanted = (item?.quantity ?? 0) + quantity;
    if (wanted > product.stock) fail({ code: 'OUT_OF_STOCK', message: 'Not enough stock', productId, available: product.stock });
    if (item) {
      await ctx.db.patch(item._id, { quantity: wanted });
      return item._id;
    }
    return ctx.db.insert('cartItems', { userId: customer._id, productId, quantity });
  },
});

/** Customer: takes a product out of their cart. */
export const removeFromCart = authorizedMutation({
  roles: 'customer',
  args: { productId: v.id('products') },
  handler: async (ctx, { productId }) => {
    const customer = ctx.user;
    const item = await ctx.db
      .query('cartItems')
      .withIndex('by_user_product', (q) => q.eq('userId', customer._id).eq('productId', productId))
      .unique();
    if (item) await ctx.db.delete(item._id);
    return null;
  },
});

/** Customer: their cart, with current names and prices. */
export const getMyCart = authorizedQuery({
  roles: 'customer',
  args: {},
  handler: async (ctx) => {
    const customer = ctx.user;
    const items = await ctx.db.query('cartItems').withIndex('by_user', (q) => q.eq('userId', customer._id)).collect();
    const lines = [];
    for (const item of items) {
      const product = await ctx.db.get(item.productId);
      if (!product) continue;
      lines.push({
        productId: item.productId, storeId: product.storeId, name: product.name, priceCents: product.priceCents, quantity: item.quantity,
      });
    }
    return { items: lines, totalCents: lines.reduce((sum, l) => sum + l.priceCents * l.quantity, 0) };
  },
});
