import type { UserIdentity } from 'convex/server';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { api } from '../convex/_generated/api';
import type { Id } from '../convex/_generated/dataModel';
import { deliver, forbidden, newDeployment, notStoreOwner, refusal, type Deployment } from './support/convex';
import { startLatchkey, type Delivery, type Latchkey } from './support/latchkey';

/**
 * Seed 000's roles on Convex: customers shop, store owners manage their own
 * store, an admin approves stores. Users and roles live in a running Latchkey
 * (LATCHKEY_ROLE_PRESET=marketplace); their rows reach the deployment through
 * Latchkey's signed webhook deliveries; each call carries the identity Convex
 * builds from a real "convex" template token. Every refusal is asserted with
 * the error data a client receives.
 */

type Who = 'carol' | 'olga' | 'owen' | 'ada';

describe('Twigz marketplace: roles and ownership', () => {
  let lk: Latchkey;
  const ids = {} as Record<Who, string>;
  const identities = {} as Record<Who, UserIdentity>;
  let deliveries: Delivery[];

  beforeAll(async () => {
    lk = await startLatchkey();
    // A customer, two store owners (one promoted after sign-up), an admin.
    ids.carol = (await lk.createUser('carol@example.com', 'Carol', 'Customer', 'customer')).id;
    ids.olga = (await lk.createUser('olga@example.com', 'Olga', 'Owner', 'store_owner')).id;
    const owen = await lk.createUser('owen@example.com', 'Owen', 'Other');
    expect(owen.public_metadata).toEqual({ role: 'customer' }); // the preset's default role
    ids.owen = (await lk.ok(`/v1/users/${owen.id}/role`, { method: 'POST', json: { role: 'store_owner' } })).id;
    ids.ada = (await lk.createUser('ada@example.com', 'Ada', 'Admin', 'admin')).id;
    await lk.deliveriesFor(ids.owen, ['user.created', 'user.updated']);
    for (const who of ['carol', 'olga', 'ada'] as const) await lk.deliveriesFor(ids[who], ['user.created']);
    deliveries = [...lk.deliveries];
    for (const who of Object.keys(ids) as Who[]) identities[who] = (await lk.convexToken(ids[who])).identity;
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await lk?.close();
  });

  /** A deployment whose users table Latchkey's deliveries have filled; `as(who)` calls as that user. */
  async function marketplace() {
    const t = newDeployment();
    await deliver(t, deliveries);
    const as = (who: Who) => t.withIdentity(identities[who]);
    return { t, as };
  }

  /** Olga's store, approved by Ada, with one product. */
  async function olgasApprovedStore(t: Deployment, as: (who: Who) => ReturnType<Deployment['withIdentity']>) {
    const storeId = await as('olga').mutation(api.stores.createStore, { name: 'Olga\'s Oak', description: 'Hand-made oak' });
    await as('ada').mutation(api.stores.approveStore, { storeId });
    const productId = await as('olga').mutation(api.products.createProduct, { storeId, name: 'Oak bowl', priceCents: 2_500, stock: 3 });
    return { storeId, productId };
  }

  const everything = (t: Deployment) => t.run(async (ctx) => ({
    stores: await ctx.db.query('stores').collect(),
    products: await ctx.db.query('products').collect(),
    cartItems: await ctx.db.query('cartItems').collect(),
    orders: await ctx.db.query('orders').collect(),
  }));

  it('each user\'s row carries the role Latchkey gave them', async () => {
    const { as } = await marketplace();
    for (const [who, role] of [['carol', 'customer'], ['olga', 'store_owner'], ['owen', 'store_owner'], ['ada', 'admin']] as const) {
      const profile = await as(who).query(api.users.getMyProfile, {});
      expect(profile).toMatchObject({ latchkeyId: ids[who], role });
    }
  });

  it('a customer cannot open a store, change one, or add a product: Insufficient permissions, requiredRole store_owner', async () => {
    const { t, as } = await marketplace();
    const { storeId, productId } = await olgasApprovedStore(t, as);
    const before = await everything(t);

    expect(await refusal(as('carol').mutation(api.stores.createStore, { name: 'Carol\'s' }))).toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').mutation(api.stores.updateStore, { storeId, name: 'Mine now' })))
      .toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').mutation(api.products.createProduct, { storeId, name: 'Fake', priceCents: 1, stock: 1 })))
      .toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').mutation(api.products.updateProduct, { productId, priceCents: 1 })))
      .toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').mutation(api.products.deleteProduct, { productId }))).toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').query(api.orders.listStoreOrders, { storeId }))).toEqual(forbidden('store_owner', 'customer'));
    expect(await refusal(as('carol').query(api.stores.getMyStore, {}))).toEqual(forbidden('store_owner', 'customer'));

    expect(await everything(t)).toEqual(before);
  });

  it('a store owner opens a store that waits for approval: no products, not listed, until an admin approves it', async () => {
    const { t, as } = await marketplace();
    expect(await as('olga').query(api.stores.getMyStore, {})).toBeNull();
    const storeId = await as('olga').mutation(api.stores.createStore, { name: 'Olga\'s Oak' });
    expect(await as('olga').query(api.stores.getMyStore, {})).toMatchObject({ _id: storeId, name: 'Olga\'s Oak', approved: false });

    // Waiting: the owner cannot list products, nobody else sees the store.
    expect(await refusal(as('olga').mutation(api.products.createProduct, { storeId, name: 'Oak bowl', priceCents: 2_500, stock: 3 })))
      .toEqual({ code: 'STORE_NOT_APPROVED', message: 'Store is awaiting approval', storeId });
    expect(await t.query(api.stores.listStores, {})).toEqual([]);
    expect(await refusal(t.query(api.stores.getStore, { storeId }))).toEqual({ code: 'NOT_FOUND', message: 'Store not found', storeId });
    expect(await refusal(t.query(api.products.listProducts, { storeId }))).toEqual({ code: 'NOT_FOUND', message: 'Store not found', storeId });

    // One store per owner.
    expect(await refusal(as('olga').mutation(api.stores.createStore, { name: 'Second' })))
      .toEqual({ code: 'STORE_EXISTS', message: 'You already have a store', storeId });

    // The admin sees it waiting and approves it.
    expect((await as('ada').query(api.stores.listPendingStores, {})).map((s) => s._id)).toEqual([storeId]);
    const approved = await as('ada').mutation(api.stores.approveStore, { storeId });
    const adaRow = await t.run((ctx) => ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', ids.ada)).unique());
    expect(approved).toMatchObject({ _id: storeId, approved: true, approvedBy: adaRow!._id });
    expect(await as('ada').query(api.stores.listPendingStores, {})).toEqual([]);

    // Now it sells: the owner adds a product, anyone (signed in or not) lists it.
    const productId = await as('olga').mutation(api.products.createProduct, { storeId, name: 'Oak bowl', priceCents: 2_500, stock: 3 });
    expect(await t.query(api.stores.listStores, {})).toEqual([
      { _id: storeId, name: 'Olga\'s Oak', description: null, approved: true, createdAt: expect.any(Number) },
    ]);
    expect(await t.query(api.products.listProducts, { storeId })).toMatchObject([{ _id: productId, name: 'Oak bowl', priceCents: 2_500, stock: 3 }]);
    expect(await as('carol').query(api.products.listProducts, { storeId })).toHaveLength(1);
  });

  it('only an admin lists pending stores and approves them: Insufficient permissions, requiredRole admin', async () => {
    const { t, as } = await marketplace();
    const storeId = await as('olga').mutation(api.stores.createStore, { name: 'Olga\'s Oak' });

    expect(await refusal(as('olga').mutation(api.stores.approveStore, { storeId }))).toEqual(forbidden('admin', 'store_owner'));
    expect(await refusal(as('owen').mutation(api.stores.approveStore, { storeId }))).toEqual(forbidden('admin', 'store_owner'));
    expect(await refusal(as('carol').mutation(api.stores.approveStore, { storeId }))).toEqual(forbidden('admin', 'customer'));
    expect(await refusal(as('olga').query(api.stores.listPendingStores, {}))).toEqual(forbidden('admin', 'store_owner'));
    expect(await refusal(as('carol').query(api.stores.listPendingStores, {}))).toEqual(forbidden('admin', 'customer'));
    expect(await refusal(t.mutation(api.stores.approveStore, { storeId }))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect(await t.run((ctx) => ctx.db.get(storeId))).toMatchObject({ approved: false });
    expect(await t.run((ctx) => ctx.db.get(storeId))).not.toHaveProperty('approvedBy');

    await as('ada').mutation(api.stores.approveStore, { storeId });
    expect(await t.run((ctx) => ctx.db.get(storeId))).toMatchObject({ approved: true });
  });

  it('a store owner manages only their own store: another owner is refused on the store, its products and its orders', async () => {
    const { t, as } = await marketplace();
    const { storeId, productId } = await olgasApprovedStore(t, as);
    await as('carol').mutation(api.cart.addToCart, { productId, quantity: 1 });
    const [orderId] = await as('carol').mutation(api.orders.placeOrder, {});
    const owensStoreId = await as('owen').mutation(api.stores.createStore, { name: 'Owen\'s Oddments' });
    await as('ada').mutation(api.stores.approveStore, { storeId: owensStoreId });
    const before = await everything(t);

    const refused = notStoreOwner(storeId);
    expect(await refusal(as('owen').mutation(api.stores.updateStore, { storeId, name: 'Taken over' }))).toEqual(refused);
    expect(await refusal(as('owen').mutation(api.products.createProduct, { storeId, name: 'Fake', priceCents: 1, stock: 1 })))
      .toEqual(refused);
    expect(await refusal(as('owen').mutation(api.products.updateProduct, { productId, priceCents: 1 }))).toEqual(refused);
    expect(await refusal(as('owen').mutation(api.products.deleteProduct, { productId }))).toEqual(refused);
    expect(await refusal(as('owen').query(api.orders.listStoreOrders, { storeId }))).toEqual(refused);
    expect(await refusal(as('owen').mutation(api.orders.markOrderShipped, { orderId: orderId! }))).toEqual(refused);
    expect(await everything(t)).toEqual(before);

    // Each owner manages their own.
    expect(await as('owen').mutation(api.stores.updateStore, { storeId: owensStoreId, description: 'Odd things' }))
      .toMatchObject({ _id: owensStoreId, name: 'Owen\'s Oddments', description: 'Odd things' });
    const owensProduct = await as('owen').mutation(api.products.createProduct, { storeId: owensStoreId, name: 'Brass key', priceCents: 900, stock: 2 });
    expect(await as('owen').query(api.orders.listStoreOrders, { storeId: owensStoreId })).toEqual([]);
    expect(await as('olga').mutation(api.products.updateProduct, { productId, priceCents: 2_700 })).toMatchObject({ priceCents: 2_700 });
    expect(await as('olga').mutation(api.stores.updateStore, { storeId, name: 'Olga\'s Oak & Ash' })).toMatchObject({ name: 'Olga\'s Oak & Ash' });
    // Olga cannot touch Owen's either.
    expect(await refusal(as('olga').mutation(api.products.deleteProduct, { productId: owensProduct }))).toEqual(notStoreOwner(owensStoreId));
    // An admin approves stores but does not run them.
    expect(await refusal(as('ada').mutation(api.stores.updateStore, { storeId, name: 'Admin was here' })))
      .toEqual(forbidden('store_owner', 'admin'));
  });

  it('a customer fills a cart from two stores and orders; each store owner sees their own store\'s order', async () => {
    const { t, as } = await marketplace();
    const { storeId, productId: bowl } = await olgasApprovedStore(t, as);
    const owensStoreId = await as('owen').mutation(api.stores.createStore, { name: 'Owen\'s Oddments' });
    await as('ada').mutation(api.stores.approveStore, { storeId: owensStoreId });
    const key = await as('owen').mutation(api.products.createProduct, { storeId: owensStoreId, name: 'Brass key', priceCents: 900, stock: 2 });

    await as('carol').mutation(api.cart.addToCart, { productId: bowl, quantity: 1 });
    await as('carol').mutation(api.cart.addToCart, { productId: bowl, quantity: 1 });
    await as('carol').mutation(api.cart.addToCart, { productId: key, quantity: 2 });
    // Olga has 3 bowls: a fourth does not fit.
    expect(await refusal(as('carol').mutation(api.cart.addToCart, { productId: bowl, quantity: 2 })))
      .toEqual({ code: 'OUT_OF_STOCK', message: 'Not enough stock', productId: bowl, available: 3 });
    expect(await refusal(as('carol').mutation(api.cart.addToCart, { productId: bowl, quantity: 0 })))
      .toEqual({ code: 'INVALID_ARGUMENT', message: 'quantity must be an integer ≥ 1', field: 'quantity' });
    expect(await as('carol').query(api.cart.getMyCart, {})).toEqual({
      items: [
        { productId: bowl, storeId, name: 'Oak bowl', priceCents: 2_500, quantity: 2 },
        { productId: key, storeId: owensStoreId, name: 'Brass key', priceCents: 900, quantity: 2 },
      ],
      totalCents: 6_800,
    });

    const orderIds = await as('carol').mutation(api.orders.placeOrder, {});
    expect(orderIds).toHaveLength(2);
    expect(await as('carol').query(api.cart.getMyCart, {})).toEqual({ items: [], totalCents: 0 });
    expect(await refusal(as('carol').mutation(api.orders.placeOrder, {}))).toEqual({ code: 'CART_EMPTY', message: 'Your cart is empty' });
    expect(await t.run((ctx) => ctx.db.get(bowl))).toMatchObject({ stock: 1 });
    expect(await t.run((ctx) => ctx.db.get(key))).toMatchObject({ stock: 0 });

    const carolRow = await t.run((ctx) => ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', ids.carol)).unique());
    const mine = await as('carol').query(api.orders.listMyOrders, {});
    expect(mine.map((o) => ({ userId: o.userId, storeId: o.storeId, totalCents: o.totalCents, status: o.status })).sort((a, b) => a.totalCents - b.totalCents))
      .toEqual([
        { userId: carolRow!._id, storeId: owensStoreId, totalCents: 1_800, status: 'placed' },
        { userId: carolRow!._id, storeId, totalCents: 5_000, status: 'placed' },
      ]);

    const olgasOrders = await as('olga').query(api.orders.listStoreOrders, { storeId });
    expect(olgasOrders).toMatchObject([{ storeId, totalCents: 5_000, items: [{ productId: bowl, name: 'Oak bowl', priceCents: 2_500, quantity: 2 }] }]);
    const owensOrders = await as('owen').query(api.orders.listStoreOrders, { storeId: owensStoreId });
    expect(owensOrders).toMatchObject([{ storeId: owensStoreId, totalCents: 1_800, items: [{ productId: key, quantity: 2 }] }]);

    // The owner ships it; the customer sees the new status.
    expect(await as('olga').mutation(api.orders.markOrderShipped, { orderId: olgasOrders[0]!._id })).toMatchObject({ status: 'shipped' });
    expect((await as('carol').query(api.orders.listMyOrders, {})).find((o) => o.storeId === storeId)).toMatchObject({ status: 'shipped' });
  });

  it('the cart and orders are a customer\'s: store owners and admins are refused with requiredRole customer', async () => {
    const { t, as } = await marketplace();
    const { productId } = await olgasApprovedStore(t, as);
    expect(await refusal(as('olga').mutation(api.cart.addToCart, { productId, quantity: 1 }))).toEqual(forbidden('customer', 'store_owner'));
    expect(await refusal(as('ada').mutation(api.cart.addToCart, { productId, quantity: 1 }))).toEqual(forbidden('customer', 'admin'));
    expect(await refusal(as('owen').mutation(api.orders.placeOrder, {}))).toEqual(forbidden('customer', 'store_owner'));
    expect(await refusal(as('owen').query(api.cart.getMyCart, {}))).toEqual(forbidden('customer', 'store_owner'));
    expect(await refusal(t.mutation(api.cart.addToCart, { productId, quantity: 1 }))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect((await everything(t)).cartItems).toEqual([]);
  });

  it('a deleted product cannot be put in a cart, and is no longer listed', async () => {
    const { t, as } = await marketplace();
    const { productId } = await olgasApprovedStore(t, as);
    await as('olga').mutation(api.products.deleteProduct, { productId });
    expect(await refusal(as('carol').mutation(api.cart.addToCart, { productId, quantity: 1 })))
      .toEqual({ code: 'NOT_FOUND', message: 'Product not found', productId });
    expect(await t.query(api.products.listProducts, { storeId: (await as('olga').query(api.stores.getMyStore, {}))!._id as Id<'stores'> })).toEqual([]);
  });
});
