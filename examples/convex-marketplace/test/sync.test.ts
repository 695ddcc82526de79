import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { api } from '../convex/_generated/api';
import { deliver, forbidden, newDeployment, refusal, type Deployment } from './support/convex';
import { envelope, startLatchkey, type Delivery, type Latchkey } from './support/latchkey';

/**
 * The marketplace's users table against a running Latchkey: "convex" template
 * tokens that pass Convex's rules drive getMyProfile, and Latchkey's signed
 * webhook deliveries, posted to the deployment's /latchkey-webhook route,
 * create, update and delete rows, in whatever order and however often they come.
 */

const row = (t: Deployment, latchkeyId: string) =>
  t.run((ctx) => ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', latchkeyId)).unique());

/** A row without its system fields. */
const fields = (r: Record<string, unknown> | null) => {
  if (!r) return r;
  const { _id, _creationTime, ...rest } = r;
  return rest;
};

describe('Twigz marketplace: users from Latchkey (tokens and webhooks)', () => {
  let lk: Latchkey;

  beforeAll(async () => {
    lk = await startLatchkey();
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await lk?.close();
  });

  it('a "convex" template token passes the Convex rules; its identity reads the row the webhook made', async () => {
    const user = await lk.createUser('grace@example.com', 'Grace', 'Hopper', 'customer');
    const created = await lk.deliveriesFor(user.id, ['user.created']);
    const { identity, payload } = await lk.convexToken(user.id);
    expect(payload).toMatchObject({ iss: lk.url, sub: user.id, aud: 'convex' });
    expect(identity).toMatchObject({
      subject: user.id, issuer: lk.url, tokenIdentifier: `${lk.url}|${user.id}`,
      email: 'grace@example.com', emailVerified: true, givenName: 'Grace', familyName: 'Hopper', name: 'Grace Hopper',
    });

    const t = newDeployment();
    await deliver(t, created);
    expect(await t.withIdentity(identity).query(api.users.getMyProfile, {})).toEqual({
      _id: expect.any(String), latchkeyId: user.id, email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper',
      imageUrl: null, role: 'customer',
    });
    // No token: seed 002's "Not authenticated".
    expect(await refusal(t.query(api.users.getMyProfile, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
  });

  it('created, renamed, promoted, deleted: each delivery moves the row; duplicates and any order end in the latest state', async () => {
    const user = await lk.createUser('sam@example.com', 'Sam', 'Seller', 'customer');
    await lk.ok(`/v1/users/${user.id}`, { method: 'PATCH', json: { first_name: 'Samantha' } });
    await lk.ok(`/v1/users/${user.id}/role`, { method: 'POST', json: { role: 'store_owner' } });
    const live = await lk.ok(`/v1/users/${user.id}`);
    // A token minted before the deletion stays valid for its lifetime: the row decides what it opens.
    const { identity } = await lk.convexToken(user.id);
    await lk.ok(`/v1/users/${user.id}`, { method: 'DELETE' });
    const all = await lk.deliveriesFor(user.id, ['user.created', 'user.updated', 'user.updated', 'user.deleted']);
    expect(all.map((d) => envelope(d).type)).toEqual(['user.created', 'user.updated', 'user.updated', 'user.deleted']);
    const [created, renamed, promoted, deleted] = all as [Delivery, Delivery, Delivery, Delivery];

    const t = newDeployment();
    await deliver(t, [created]);
    expect(fields(await row(t, user.id))).toEqual({
      latchkeyId: user.id, email: 'sam@example.com', firstName: 'Sam', lastName: 'Seller', role: 'customer',
      updatedAt: envelope(created).data.updated_at,
    });
    await deliver(t, [renamed]);
    expect(await row(t, user.id)).toMatchObject({ firstName: 'Samantha', role: 'customer' });
    await deliver(t, [promoted]);
    expect(fields(await row(t, user.id))).toEqual({
      latchkeyId: user.id, email: 'sam@example.com', firstName: 'Samantha', lastName: 'Seller', role: 'store_owner',
      updatedAt: live.updated_at,
    });
    // The promotion took effect: a store owner may open a store.
    const storeId = await t.withIdentity(identity).mutation(api.stores.createStore, { name: 'Sam\'s' });
    expect(storeId).toEqual(expect.any(String));
    await deliver(t, [deleted]);
    const tombstone = fields(await row(t, user.id));
    expect(tombstone).toEqual({
      latchkeyId: user.id, updatedAt: envelope(deleted).data.updated_at, deletedAt: envelope(deleted).data.updated_at,
    });
    // A deleted user's token opens nothing: seed 002's "User not found".
    expect(await refusal(t.withIdentity(identity).query(api.users.getMyProfile, {}))).toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
    expect(await refusal(t.withIdentity(identity).mutation(api.stores.updateStore, { storeId, name: 'Back' })))
      .toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });

    // Every delivery again, then late ones: nothing moves, nothing comes back.
    await deliver(t, [...all, promoted, created, renamed]);
    expect(fields(await row(t, user.id))).toEqual(tombstone);

    // Other orders on fresh deployments: the latest state wins.
    const reversed = newDeployment();
    await deliver(reversed, [deleted, promoted, renamed, created]);
    expect(fields(await row(reversed, user.id))).toEqual(tombstone);
    const shuffled = newDeployment();
    await deliver(shuffled, [promoted, created, promoted, renamed]);
    expect(fields(await row(shuffled, user.id))).toEqual({
      latchkeyId: user.id, email: 'sam@example.com', firstName: 'Samantha', lastName: 'Seller', role: 'store_owner', updatedAt: live.updated_at,
    });
    expect(await shuffled.run((ctx) => ctx.db.query('users').collect())).toHaveLength(1);
  });

  it('a role change in Latchkey reaches Convex with the next delivery: a demoted owner loses the store functions', async () => {
    const owner = await lk.createUser('dora@example.com', 'Dora', 'Demoted', 'store_owner');
    const created = await lk.deliveriesFor(owner.id, ['user.created']);
    const { identity } = await lk.convexToken(owner.id);
    const t = newDeployment();
    await deliver(t, created);
    const storeId = await t.withIdentity(identity).mutation(api.stores.createStore, { name: 'Dora\'s' });

    await lk.ok(`/v1/users/${owner.id}/role`, { method: 'POST', json: { role: 'customer' } });
    const [, demoted] = await lk.deliveriesFor(owner.id, ['user.created', 'user.updated']) as [Delivery, Delivery];
    expect(envelope(demoted).data.public_metadata).toEqual({ role: 'customer' });
    await deliver(t, [demoted]);
    // The same token (its identity has no role claim): the row's role decides.
    expect(await refusal(t.withIdentity(identity).mutation(api.stores.updateStore, { storeId, name: 'Still mine?' })))
      .toEqual(forbidden('store_owner', 'customer'));
    expect(await t.run((ctx) => ctx.db.get(storeId))).toMatchObject({ name: 'Dora\'s' });
  });

  it('refuses forged, tampered and unsigned deliveries with seed 002\'s errors, and changes nothing', async () => {
    const user = await lk.createUser('mallory@example.com', 'Mallory', 'M', 'customer');
    const [created] = await lk.deliveriesFor(user.id, ['user.created']) as [Delivery];
    const t = newDeployment();
    const post = (body: string, headers: Record<string, string>) => t.fetch('/latchkey-webhook', { method: 'POST', headers, body });

    // Promoting herself to admin by editing the body breaks the signature.
    const forged = created.body.replace('"role":"customer"', '"role":"admin"');
    expect(forged).not.toBe(created.body);
    let res = await post(forged, created.headers);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'Invalid webhook signature' });

    const { 'svix-signature': _s, 'webhook-signature': _w, ...unsigned } = created.headers;
    res = await post(created.body, unsigned);
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'Missing svix headers' });

    vi.stubEnv('LATCHKEY_WEBHOOK_SECRET', undefined);
    try {
      res = await post(created.body, created.headers);
      expect(res.status).toBe(500);
      expect(await res.json()).toEqual({ error: 'Missing webhook secret' });
    } finally {
      vi.stubEnv('LATCHKEY_WEBHOOK_SECRET', lk.secret);
    }
    expect(await t.run((ctx) => ctx.db.query('users').collect())).toEqual([]);
  });

  it('the first request can beat the webhook: ensureUser makes the row from the token, role included; the webhook changes nothing', async () => {
    const user = await lk.createUser('quick@example.com', 'Quinn', 'Quick', 'customer');
    const created = await lk.deliveriesFor(user.id, ['user.created']);
    const { identity, payload } = await lk.convexToken(user.id);
    // The built-in "convex" template carries the role.
    expect(payload.role).toBe('customer');
    const t = newDeployment();
    const quinn = t.withIdentity(identity);

    expect(await refusal(quinn.query(api.users.getMyProfile, {}))).toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
    await quinn.mutation(api.users.ensureUser, {});
    expect(await quinn.query(api.users.getMyProfile, {})).toMatchObject({
      latchkeyId: user.id, email: 'quick@example.com', firstName: 'Quinn', lastName: 'Quick', role: 'customer',
    });
    // Role-guarded functions open at once, before any webhook.
    expect(await quinn.query(api.cart.getMyCart, {})).toEqual({ items: [], totalCents: 0 });

    await deliver(t, created);
    expect(await quinn.query(api.users.getMyProfile, {})).toMatchObject({ role: 'customer' });
    expect(await t.run((ctx) => ctx.db.query('users').collect())).toHaveLength(1);
  });

  it('a store owner\'s first request works before the webhook too: the token\'s role is the row\'s until the webhook brings one', async () => {
    const user = await lk.createUser('rita@example.com', 'Rita', 'Rapid', 'store_owner');
    const { identity, payload } = await lk.convexToken(user.id);
    expect(payload.role).toBe('store_owner');
    expect(identity.role).toBe('store_owner');

    const t = newDeployment();
    const rita = t.withIdentity(identity);
    await rita.mutation(api.users.ensureUser, {});
    expect(await rita.query(api.users.getMyProfile, {})).toMatchObject({ latchkeyId: user.id, role: 'store_owner' });
    const storeId = await rita.mutation(api.stores.createStore, { name: 'Rita\'s' });
    expect(await rita.query(api.stores.getMyStore, {})).toMatchObject({ _id: storeId, approved: false });
  });
});
