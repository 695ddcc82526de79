import { latchkeyUsersTable } from '@latchkey/convex';
import { defineSchema, defineTable } from 'convex/server';
import { v } from 'convex/values';

/**
 * Twigz (seed 000): customers shop, store owners run one store each, an admin
 * approves stores before they can sell.
 *
 * `users` is kept in step with Latchkey by the webhook (convex/http.ts): the row's
 * `role` is the Latchkey user's public_metadata.role, one of "customer",
 * "store_owner" or "admin" (LATCHKEY_ROLE_PRESET=marketplace on the server).
 */
export default defineSchema({
  users: latchkeyUsersTable(),

  stores: defineTable({
    ownerId: v.id('users'),
    name: v.string(),
    description: v.optional(v.string()),
    /** False until an admin approves the store; only approved stores sell. */
    approved: v.boolean(),
    approvedBy: v.optional(v.id('users')),
    approvedAt: v.optional(v.number()),
    createdAt: v.number(),
  })
    .index('by_owner', ['ownerId'])
    .index('by_approved', ['approved']),

  products: defineTable({
    storeId: v.id('stores'),
    name: v.string(),
    description: v.optional(v.string()),
    priceCents: v.number(),
    stock: v.number(),
  }).index('by_store', ['storeId']),

  cartItems: defineTable({
    userId: v.id('users'),
    productId: v.id('products'),
    quantity: v.number(),
  })
    .index('by_user', ['userId'])
    .index('by_user_product', ['userId', 'productId']),

  orders: defineTable({
    userId: v.id('users'),
    storeId: v.id('stores'),
    items: v.array(v.object({
      productId: v.id('products'),
      name: v.string(),
      priceCents: v.number(),
      quantity: v.number(),
    })),
    totalCents: v.number(),
    status: v.union(v.literal('placed'), v.literal('shipped'), v.literal('cancelled')),
    createdAt: v.number(),
  })
    .index('by_user', ['userId'])
    .index('by_store', ['storeId']),
});
