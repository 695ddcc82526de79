import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  claimsOf, createEndpoint, createUser, freePort, messagesFor, pgUrl, shopDatabase, signed, signUp, startLatchkey, startShop, startSmtp,
  waitFor, type Endpoint, type Latchkey, type MessageDetail, type RunningShop, type SignedUp, type SmtpSink,
} from './support/fixture.js';

/**
 * Seed 004's shop against a running Latchkey, over HTTP end to end: Latchkey
 * (community roles), the shop's PostgreSQL database, a real SMTP server, and
 * Latchkey's webhook worker delivering to the shop's port.
 */

process.env.CLERK_TELEMETRY_DISABLED = '1';

const REQUIRED = { error: 'Authentication required', message: 'Please sign in to access this resource' };
const INVALID = { error: 'Invalid authentication token', message: 'Token has expired or is malformed' };
const DAY = 86_400_000;
const PRODUCT = { name: 'Walnut desk', description: 'Solid walnut, 140 cm', priceCents: 45_000, stock: 5 };

const describeWithPostgres = pgUrl() ? describe : describe.skip;

describeWithPostgres('express-shop (Express 5, PostgreSQL, @latchkey/express, the sync kit)', () => {
  let lk: Latchkey;
  let smtp: SmtpSink;
  let db: Awaited<ReturnType<typeof shopDatabase>>;
  let endpoint: Endpoint;
  let shop: RunningShop;
  const others: RunningShop[] = [];

  /** The environment every shop here shares; each test adds or removes what it is about. */
  const baseEnv = (): Record<string, string> => ({
    LATCHKEY_API_URL: lk.url,
    LATCHKEY_SECRET_KEY: lk.server.secretKey,
    LATCHKEY_WEBHOOK_SECRET: endpoint.secret,
    DATABASE_URL: db.url,
    SMTP_URL: smtp.url,
    MAIL_FROM: 'Latchkey Shop <shop@example.com>',
    NODE_ENV: 'production',
  });
  const another = async (env: Record<string, string | undefined>) => {
    const s = await startShop(env);
    others.push(s);
    return s;
  };

  beforeAll(async () => {
    lk = await startLatchkey();
    smtp = await startSmtp();
    db = await shopDatabase();
    // The endpoint needs the shop's URL and the shop needs the endpoint's secret: pick the port first.
    const port = await freePort();
    endpoint = await createEndpoint(lk, port);
    shop = await startShop(baseEnv(), port);
  });
  afterEach(async () => {
    // Shops a test started for one setting stop with it (they share the inbox with the main shop).
    for (const s of others.splice(0)) await s.close();
  });
  afterAll(async () => {
    await shop?.close();
    await lk?.close();
    await smtp?.close();
    await db?.close();
  });

  // ---------------------------------------------------------------- helpers over the shop's database and Latchkey

  const rowsOf = async (userId: string) => (await db.pool.query('SELECT * FROM users WHERE latchkey_id = $1', [userId])).rows;
  const inboxOf = async (userId: string) =>
    (await db.pool.query(`SELECT * FROM webhook_inbox WHERE payload->'data'->>'id' = $1 ORDER BY received_at`, [userId])).rows;
  const welcomesTo = (email: string) => smtp.mails.filter((m) => m.to.includes(email) && m.subject === 'Welcome to the shop');
  const latchkeyUser = (id: string) => lk.ok(`/v1/users/${id}`);

  /**
   * Everything about a user has come through: Latchkey has nothing pending for
   * the endpoint, the inbox is drained, and the row holds Latchkey's version.
   */
  async function settled(userId: string) {
    let seen: unknown;
    return waitFor(`the shop's row of ${userId} to catch up`, async () => {
      const [user, pending, unprocessed] = await Promise.all([
        lk.server.api(`/v1/users/${userId}`).then((r) => (r.status === 404 ? null : r.json())),
        lk.ok(`/v1/webhook_endpoints/${endpoint.id}/messages?status=pending`),
        db.pool.query('SELECT count(*)::int AS n FROM webhook_inbox WHERE processed_at IS NULL'),
      ]);
      const [row] = await rowsOf(userId);
      const version = user ? user.updated_at : row?.version && Number(row.version);
      seen = { latchkey: version, row: row && Number(row.version), pending: pending.data, unprocessed: unprocessed.rows[0].n };
      if (!row || Number(row.version) !== version || pending.data.length !== 0 || unprocessed.rows[0].n !== 0) return undefined;
      return row;
    }, 15_000).catch((err: Error) => {
      throw new Error(`${err.message}; last seen ${JSON.stringify(seen)}\nshop log:\n${shop.logs.join('\n')}`);
    });
  }

  /** The shop's row as Latchkey's user says it should be. */
  const expectedRow = (user: any) => ({
    latchkey_id: user.id,
    email: user.email_addresses.find((e: any) => e.id === user.primary_email_address_id).email_address,
    first_name: user.first_name,
    last_name: user.last_name,
    role: user.public_metadata.role,
    version: String(user.updated_at),
    deleted_at: null,
  });

  /** Posts a delivery the test signed itself (a capture resent under a new id, or a forgery). */
  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${shop.url}/api/webhooks/latchkey`, { method: 'POST', headers, body });

  // ---------------------------------------------------------------- 1. the race seed 004 hand-codes

  it('serves the profile before the webhook arrives (ensureUser); the webhook then finds the row: one row, one welcome email', async () => {
    const since = Date.now() - 1_000;
    const ada = await signUp(lk, 'ada@example.com', { first_name: 'Ada', last_name: 'Lovelace' });
    // Delivery is paused (the endpoint is disabled): nothing has reached the shop.
    expect(await rowsOf(ada.userId)).toEqual([]);
    expect(await inboxOf(ada.userId)).toEqual([]);

    const token = await ada.token();
    expect(claimsOf(token)).toMatchObject({ sub: ada.userId, role: 'user' });
    expect(claimsOf(token)).not.toHaveProperty('dbId');
    const profile = await shop.call('GET', '/api/users/profile', { token });
    expect(profile.status).toBe(200);
    expect(Object.keys(profile.body)).toEqual(['user']);
    const user = profile.body.user;
    expect(user).toMatchObject({
      latchkeyId: ada.userId, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', role: 'user', deletedAt: null,
    });
    expect(Number.isInteger(user.id)).toBe(true);
    expect(Object.keys(user).sort()).toEqual(
      ['createdAt', 'deletedAt', 'email', 'firstName', 'id', 'imageUrl', 'lastName', 'latchkeyId', 'role', 'version'].sort());
    const rows = await rowsOf(ada.userId);
    expect(rows.map((r) => r.id)).toEqual([user.id]);
    // A second request finds the row (no second insert).
    expect((await shop.call('GET', '/api/users/profile', { token })).body.user.id).toBe(user.id);

    // The kit wrote the row id back: Latchkey's user and the next token carry dbId (seed 003's metadata sync).
    expect((await latchkeyUser(ada.userId)).public_metadata).toEqual({ role: 'user', dbId: user.id });
    expect(claimsOf(await ada.token())).toMatchObject({ role: 'user', dbId: user.id });
    // No welcome email yet: it belongs to user.created, which has not arrived.
    expect(welcomesTo('ada@example.com')).toEqual([]);

    // Delivery resumes; what the endpoint missed while disabled is sent now.
    await lk.ok(`/v1/webhook_endpoints/${endpoint.id}`, 'PATCH', { enabled: true });
    const recovered = await lk.ok(`/v1/webhook_endpoints/${endpoint.id}/recover`, 'POST', { since });
    expect(recovered.queued).toBeGreaterThanOrEqual(2); // user.created and the dbId user.updated
    const row = await settled(ada.userId);
    expect(await rowsOf(ada.userId)).toHaveLength(1);
    expect(row.id).toBe(user.id);
    expect(row).toMatchObject(expectedRow(await latchkeyUser(ada.userId)));
    const inbox = await inboxOf(ada.userId);
    expect(inbox.map((r) => r.event_type)).toEqual(['user.created', 'user.updated']);
    expect(inbox.every((r) => r.processed_at !== null && r.attempts === 1)).toBe(true);
    expect(welcomesTo('ada@example.com')).toHaveLength(1);
    expect(welcomesTo('ada@example.com')[0]!.raw).toContain('Hi Ada Lovelace,');

    // user.created again, the same message (Latchkey's replay: same svix-id): the inbox already has it.
    const created = (await messagesFor(lk, endpoint.id, ada.userId)).find((m) => m.event_type === 'user.created')!;
    await lk.ok(`/v1/webhook_messages/${created.id}/replay`, 'POST');
    await waitFor('the replay to be delivered', async () => {
      const m = await lk.ok(`/v1/webhook_messages/${created.id}`);
      return m.status === 'succeeded' && m.attempt_list.length === 2 ? m : undefined;
    });
    // And as a different message (a resend under a new id): processed, but the welcome email is not sent twice.
    const body = JSON.stringify(created.event);
    expect((await post(body, signed(endpoint.secret, 'msg_resent_created', body))).status).toBe(200);
    await settled(ada.userId);
    expect((await inboxOf(ada.userId)).map((r) => [r.event_type, r.attempts])).toEqual([['user.created', 1], ['user.updated', 1], ['user.created', 1]]);
    expect(await rowsOf(ada.userId)).toHaveLength(1);
    expect(welcomesTo('ada@example.com')).toHaveLength(1);
  });

  // ---------------------------------------------------------------- 2. duplicates and disorder

  it('webhooks delivered twice and out of order leave the row at the latest state', async () => {
    const grace = await createUser(lk, 'grace@example.com', 'user');
    await lk.ok(`/v1/users/${grace.userId}`, 'PATCH', { first_name: 'Grace', last_name: 'Hopper' });
    await lk.ok(`/v1/users/${grace.userId}/role`, 'POST', { role: 'moderator' });
    await lk.ok(`/v1/users/${grace.userId}`, 'PATCH', { last_name: 'Brewster Hopper' });
    await settled(grace.userId);
    const latest = await latchkeyUser(grace.userId);
    expect(latest).toMatchObject({ first_name: 'Grace', last_name: 'Brewster Hopper', public_metadata: { role: 'moderator' } });
    expect((await rowsOf(grace.userId))[0]).toMatchObject(expectedRow(latest));

    const messages = await messagesFor(lk, endpoint.id, grace.userId);
    expect(messages.map((m) => m.event_type)).toEqual(['user.created', 'user.updated', 'user.updated', 'user.updated', 'user.updated']);

    // Twice: Latchkey replays every message, newest first, so the old ones arrive after the new. One at a
    // time: replays asked for together would be put back in the user's order by Latchkey (a chain delivers
    // its oldest pending message first), so each replay is delivered before the next is asked for.
    for (const m of [...messages].reverse()) {
      await lk.ok(`/v1/webhook_messages/${m.id}/replay`, 'POST');
      await waitFor(`the replay of ${m.event_type} #${m.event_sequence}`, async () => {
        const now = await lk.ok<MessageDetail>(`/v1/webhook_messages/${m.id}`);
        return now.status === 'succeeded' && now.attempt_list.length === 2 ? now : undefined;
      });
    }
    // The same svix-ids: the inbox holds each message once.
    expect((await inboxOf(grace.userId)).map((r) => r.id).sort()).toEqual(messages.map((m) => m.id).sort());

    // Out of order under new ids (captures resent by hand): every event, newest first, each twice.
    for (const m of [...messages].reverse()) {
      const body = JSON.stringify(m.event);
      for (const copy of [1, 2]) {
        const res = await post(body, signed(endpoint.secret, `msg_copy_${copy}_${m.id}`, body));
        expect(res.status).toBe(200);
        expect(await res.json()).toEqual({ received: true });
      }
    }
    const row = await settled(grace.userId);
    expect(await inboxOf(grace.userId)).toHaveLength(messages.length * 3);
    expect(await rowsOf(grace.userId)).toHaveLength(1);
    expect(row).toMatchObject(expectedRow(latest));
    // Stale events wrote nothing back either: the user is exactly as before the replays.
    expect((await latchkeyUser(grace.userId)).updated_at).toBe(latest.updated_at);

    // Deleted: the row stays (orders point at it) with its personal data erased; a stale update cannot bring it back.
    const token = await grace.token();
    await lk.ok(`/v1/users/${grace.userId}`, 'DELETE');
    const deleted = await waitFor('the soft delete', async () => {
      const [r] = await rowsOf(grace.userId);
      const inbox = await db.pool.query('SELECT count(*)::int AS n FROM webhook_inbox WHERE processed_at IS NULL');
      return r?.deleted_at && inbox.rows[0].n === 0 ? r : undefined;
    });
    expect(deleted).toMatchObject({ id: row.id, email: null, first_name: null, last_name: null, image_url: null });
    expect(Number(deleted.version)).toBeGreaterThan(latest.updated_at);
    const last = messages.at(-1)!;
    const body = JSON.stringify(last.event);
    expect((await post(body, signed(endpoint.secret, 'msg_after_delete', body))).status).toBe(200);
    await waitFor('the stale update to be processed', async () =>
      (await db.pool.query('SELECT processed_at FROM webhook_inbox WHERE id = $1', ['msg_after_delete'])).rows[0]?.processed_at ?? undefined);
    expect((await rowsOf(grace.userId))[0]).toMatchObject({ email: null, first_name: null, deleted_at: deleted.deleted_at, version: deleted.version });
    // Her token, minted before the delete, no longer works once the revocation list has seen it.
    await shop.shop.revocations!.refresh();
    const refused = await shop.call('GET', '/api/users/profile', { token });
    expect(refused.status).toBe(401);
    expect(refused.text).toBe(JSON.stringify(INVALID));
  });

  it('retries a delivery whose processing failed, with backoff, and still sends the welcome email once', async () => {
    smtp.refuseNext(1);
    const alan = await createUser(lk, 'alan@example.com', 'user');
    await settled(alan.userId);
    const created = (await inboxOf(alan.userId)).find((r) => r.event_type === 'user.created');
    expect(created).toMatchObject({ attempts: 2, next_attempt_at: null });
    expect(created.processed_at).not.toBeNull();
    expect(created.last_error).toMatch(/451|Try again later/);
    expect(welcomesTo('alan@example.com')).toHaveLength(1);
  });

  // ---------------------------------------------------------------- 3. roles

  describe('roles: adminOnly and requireRole answer with the exact bodies', () => {
    let plain: SignedUp;
    let mod: SignedUp;
    let admin: SignedUp;
    beforeAll(async () => {
      plain = await createUser(lk, 'plain@example.com', 'user');
      mod = await createUser(lk, 'mod@example.com', 'moderator');
      admin = await createUser(lk, 'admin@example.com', 'admin');
    });

    it('anyone lists products; only an admin creates one; a user gets 403 naming the role', async () => {
      const none = await shop.call('POST', '/api/products', { json: PRODUCT });
      expect(none.status).toBe(401);
      expect(none.text).toBe(JSON.stringify(REQUIRED));
      const bad = await shop.call('POST', '/api/products', { token: 'not.a.token', json: PRODUCT });
      expect(bad.status).toBe(401);
      expect(bad.text).toBe(JSON.stringify(INVALID));

      const refused = await shop.call('POST', '/api/products', { token: await plain.token(), json: PRODUCT });
      expect(refused.status).toBe(403);
      expect(refused.text).toBe('{"error":"Insufficient permissions","requiredRole":"admin","userRole":"user"}');
      const moderator = await shop.call('POST', '/api/products', { token: await mod.token(), json: PRODUCT });
      expect(moderator.status).toBe(403);
      expect(moderator.body).toStrictEqual({ error: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator' });

      const before = (await shop.call('GET', '/api/products')).body.products.length;
      const created = await shop.call('POST', '/api/products', { token: await admin.token(), json: PRODUCT });
      expect(created.status).toBe(201);
      expect(created.body).toMatchObject(PRODUCT);
      const listed = await shop.call('GET', '/api/products');
      expect(listed.status).toBe(200);
      expect(listed.body.products).toHaveLength(before + 1);
      expect(listed.body.products.at(-1)).toEqual(created.body);
    });

    it('a moderator can update an order; a user cannot', async () => {
      const adminToken = await admin.token();
      const product = (await shop.call('POST', '/api/products', { token: adminToken, json: { name: 'Lamp', priceCents: 2_500, stock: 3 } })).body;
      const order = await shop.call('POST', '/api/orders', { token: await plain.token(), json: { items: [{ productId: product.id, quantity: 2 }] } });
      expect(order.status).toBe(201);
      expect(order.body).toMatchObject({ status: 'pending', totalCents: 5_000, items: [{ productId: product.id, quantity: 2, priceCents: 2_500 }] });
      const [buyer] = await rowsOf(plain.userId);
      expect(order.body.userId).toBe(buyer.id);

      const userTry = await shop.call('PATCH', `/api/orders/${order.body.id}`, { token: await plain.token(), json: { status: 'shipped' } });
      expect(userTry.status).toBe(403);
      expect(userTry.text).toBe('{"error":"Insufficient permissions","requiredRole":["admin","moderator"],"userRole":"user"}');
      const modTry = await shop.call('PATCH', `/api/orders/${order.body.id}`, { token: await mod.token(), json: { status: 'shipped' } });
      expect(modTry.status).toBe(200);
      expect(modTry.body).toMatchObject({ id: order.body.id, status: 'shipped' });
      const adminTry = await shop.call('PATCH', `/api/orders/${order.body.id}`, { token: adminToken, json: { status: 'delivered' } });
      expect(adminTry.body.status).toBe('delivered');
      expect((await shop.call('PATCH', '/api/orders/999999', { token: adminToken, json: { status: 'paid' } })).body).toEqual({ message: 'Order not found' });
      expect((await shop.call('PATCH', `/api/orders/${order.body.id}`, { token: adminToken, json: { status: 'lost' } })).status).toBe(400);

      // Promoted in Latchkey: the next token carries the role, and the same user may now update orders.
      await lk.ok(`/v1/users/${plain.userId}/role`, 'POST', { role: 'moderator' });
      const promoted = await shop.call('PATCH', `/api/orders/${order.body.id}`, { token: await plain.token(), json: { status: 'cancelled' } });
      expect(promoted.status).toBe(200);
      await lk.ok(`/v1/users/${plain.userId}/role`, 'POST', { role: 'user' });
    });

    it('ADMIN_EMAIL makes an admin in development only', async () => {
      const env = { ...baseEnv(), ADMIN_EMAIL: 'someone@example.com, Plain@Example.com' };
      const dev = await another({ ...env, NODE_ENV: 'development' });
      const prod = await another({ ...env, NODE_ENV: 'production' });
      const token = await plain.token();
      expect((await dev.call('POST', '/api/products', { token, json: PRODUCT })).status).toBe(201);
      const refused = await prod.call('POST', '/api/products', { token, json: PRODUCT });
      expect(refused.status).toBe(403);
      expect(refused.text).toBe('{"error":"Insufficient permissions","requiredRole":"admin","userRole":"user"}');
    });
  });

  // ---------------------------------------------------------------- 4. suspension

  it('a banned user\'s still-valid token gets 403 "Account suspended" with the revocation check on', async () => {
    const mallory = await createUser(lk, 'mallory@example.com', 'user');
    const token = await mallory.token();
    expect((await shop.call('GET', '/api/users/profile', { token })).status).toBe(200);
    const unchecked = await another({ ...baseEnv(), LATCHKEY_REVOCATION_CHECK: 'off' });

    const until = Date.now() + 7 * DAY;
    await lk.ok(`/v1/users/${mallory.userId}/ban`, 'POST', { reason: 'chargeback fraud', until });
    await shop.shop.revocations!.refresh(); // the background refresh would see it within LATCHKEY_REVOCATION_INTERVAL_MS
    const refused = await shop.call('GET', '/api/users/profile', { token });
    expect(refused.status).toBe(403);
    expect(refused.text).toBe(JSON.stringify({ error: 'Account suspended', reason: 'chargeback fraud', suspendedUntil: until }));
    const orders = await shop.call('POST', '/api/orders', { token, json: { items: [{ productId: 1, quantity: 1 }] } });
    expect(orders.status).toBe(403);
    expect(orders.body).toStrictEqual({ error: 'Account suspended', reason: 'chargeback fraud', suspendedUntil: until });
    // Without the check, the token is a valid JWT until it expires (the ban stops every new token).
    expect(unchecked.shop.revocations).toBeUndefined();
    expect((await unchecked.call('GET', '/api/users/profile', { token })).status).toBe(200);
    const mint = await lk.server.api(`/v1/sessions/${mallory.sessionId}/tokens`, { method: 'POST', json: {} });
    expect(mint.status).toBe(403);

    // Unbanned: a new session works again.
    await lk.ok(`/v1/users/${mallory.userId}/unban`, 'POST');
    await shop.shop.revocations!.refresh();
    const again = await createSessionToken(mallory.userId);
    expect((await shop.call('GET', '/api/users/profile', { token: again })).status).toBe(200);
  });

  async function createSessionToken(userId: string): Promise<string> {
    const session = await lk.ok('/v1/sessions', 'POST', { user_id: userId });
    return (await lk.ok(`/v1/sessions/${session.id}/tokens`, 'POST', {})).jwt;
  }

  // ---------------------------------------------------------------- 5. the webhook route's refusals

  it('the webhook route refuses with seed 002\'s answers and queues nothing', async () => {
    const count = async () => (await db.pool.query('SELECT count(*)::int AS n FROM webhook_inbox')).rows[0].n as number;
    const before = await count();
    const body = JSON.stringify({ object: 'event', type: 'user.created', data: { id: 'user_forged' } });

    const bare = await post(body, { 'content-type': 'application/json' });
    expect(bare.status).toBe(400);
    expect(await bare.text()).toBe('{"error":"Missing svix headers"}');
    const partial = signed(endpoint.secret, 'msg_partial', body);
    delete partial['svix-signature'];
    expect((await post(body, partial)).status).toBe(400);

    const forged = await post(body, signed('whsec_' + Buffer.from('not the secret, 24 bytes').toString('base64'), 'msg_forged', body));
    expect(forged.status).toBe(400);
    expect(await forged.text()).toBe('{"error":"Invalid webhook signature"}');
    const tampered = signed(endpoint.secret, 'msg_tampered', body);
    const tamperedRes = await post(body.replace('user_forged', 'user_other'), tampered);
    expect(tamperedRes.status).toBe(400);
    expect(await tamperedRes.json()).toEqual({ error: 'Invalid webhook signature' });
    const old = await post(body, signed(endpoint.secret, 'msg_old', body, Math.floor(Date.now() / 1000) - 3_600));
    expect(old.status).toBe(400);
    expect(await old.json()).toEqual({ error: 'Invalid webhook signature' });

    const noSecret = await another({ ...baseEnv(), LATCHKEY_WEBHOOK_SECRET: undefined });
    const missing = await fetch(`${noSecret.url}/api/webhooks/latchkey`, { method: 'POST', headers: signed(endpoint.secret, 'msg_x', body), body });
    expect(missing.status).toBe(500);
    expect(await missing.text()).toBe('{"error":"Missing webhook secret"}');

    expect(await count()).toBe(before);
    expect(await rowsOf('user_forged')).toEqual([]);
  });

  // ---------------------------------------------------------------- 6. the same shop on @clerk/express

  describe('AUTH_SDK=clerk: @clerk/express pointed at Latchkey answers the same', () => {
    let clerk: RunningShop;
    let plain: SignedUp;
    let mod: SignedUp;
    let admin: SignedUp;
    /** Clerk's variables only: an app moving from Clerk keeps its .env and changes the URL. */
    const clerkEnv = (): Record<string, string | undefined> => ({
      ...baseEnv(), LATCHKEY_API_URL: undefined, LATCHKEY_SECRET_KEY: undefined,
      AUTH_SDK: 'clerk', CLERK_API_URL: lk.url, CLERK_SECRET_KEY: lk.server.secretKey, CLERK_PUBLISHABLE_KEY: lk.server.publishableKey,
    });
    beforeAll(async () => {
      clerk = await startShop(clerkEnv());
      plain = await createUser(lk, 'clerk-plain@example.com', 'user');
      mod = await createUser(lk, 'clerk-mod@example.com', 'moderator');
      admin = await createUser(lk, 'clerk-admin@example.com', 'admin');
    });
    afterAll(() => clerk?.close());

    /** The same request to both shops: same status, same bytes. */
    async function same(method: string, path: string, opts: { token?: string; json?: unknown } = {}) {
      const a = await shop.call(method, path, opts);
      const b = await clerk.call(method, path, opts);
      expect({ status: b.status, text: b.text }, `${method} ${path}`).toEqual({ status: a.status, text: a.text });
      return a;
    }

    it('profile: no token, a bad token, a good one', async () => {
      expect(clerk.shop.config.authSdk).toBe('clerk');
      expect(clerk.shop.revocations).toBeUndefined();
      const none = await same('GET', '/api/users/profile');
      expect(none.status).toBe(401);
      expect(none.text).toBe(JSON.stringify(REQUIRED));
      const bad = await same('GET', '/api/users/profile', { token: 'eyJhbGciOiJSUzI1NiJ9.e30.c2ln' });
      expect(bad.status).toBe(401);
      expect(bad.text).toBe(JSON.stringify(INVALID));
      const ok = await same('GET', '/api/users/profile', { token: await plain.token() });
      expect(ok.status).toBe(200);
      expect(ok.body.user).toMatchObject({ latchkeyId: plain.userId, email: 'clerk-plain@example.com', role: 'user' });
    });

    it('a user without a row yet gets the profile through ensureUser on Clerk\'s SDK too', async () => {
      await settled(plain.userId);
      await lk.ok(`/v1/webhook_endpoints/${endpoint.id}`, 'PATCH', { enabled: false });
      const since = Date.now() - 1_000;
      try {
        const newcomer = await createUser(lk, 'clerk-newcomer@example.com', 'user');
        expect(await rowsOf(newcomer.userId)).toEqual([]);
        const first = await clerk.call('GET', '/api/users/profile', { token: await newcomer.token() });
        expect(first.status).toBe(200);
        expect(first.body.user).toMatchObject({ latchkeyId: newcomer.userId, email: 'clerk-newcomer@example.com', role: 'user' });
        expect(await rowsOf(newcomer.userId)).toHaveLength(1);
        await same('GET', '/api/users/profile', { token: await newcomer.token() });
      } finally {
        await lk.ok(`/v1/webhook_endpoints/${endpoint.id}`, 'PATCH', { enabled: true });
        await lk.ok(`/v1/webhook_endpoints/${endpoint.id}/recover`, 'POST', { since });
      }
    });

    it('adminOnly and requireRole: the same statuses and bodies', async () => {
      const [userToken, modToken, adminToken] = await Promise.all([plain.token(), mod.token(), admin.token()]);
      const refused = await same('POST', '/api/products', { token: userToken, json: PRODUCT });
      expect(refused.status).toBe(403);
      expect(refused.text).toBe('{"error":"Insufficient permissions","requiredRole":"admin","userRole":"user"}');
      expect((await same('POST', '/api/products', { token: modToken, json: PRODUCT })).body)
        .toStrictEqual({ error: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator' });
      const viaLatchkey = await shop.call('POST', '/api/products', { token: adminToken, json: PRODUCT });
      const viaClerk = await clerk.call('POST', '/api/products', { token: adminToken, json: PRODUCT });
      expect([viaLatchkey.status, viaClerk.status]).toEqual([201, 201]);
      expect(viaClerk.body).toMatchObject(PRODUCT);

      const order = await clerk.call('POST', '/api/orders', { token: userToken, json: { items: [{ productId: viaClerk.body.id, quantity: 1 }] } });
      expect(order.status).toBe(201);
      const path = `/api/orders/${order.body.id}`;
      const userTry = await same('PATCH', path, { token: userToken, json: { status: 'paid' } });
      expect(userTry.status).toBe(403);
      expect(userTry.text).toBe('{"error":"Insufficient permissions","requiredRole":["admin","moderator"],"userRole":"user"}');
      const a = await shop.call('PATCH', path, { token: modToken, json: { status: 'paid' } });
      const b = await clerk.call('PATCH', path, { token: modToken, json: { status: 'shipped' } });
      expect([a.status, a.body.status, b.status, b.body.status]).toEqual([200, 'paid', 200, 'shipped']);
      expect((await same('PATCH', '/api/orders/999999', { token: modToken, json: { status: 'paid' } })).body).toEqual({ message: 'Order not found' });
      expect((await same('PATCH', path, { json: { status: 'paid' } })).text).toBe(JSON.stringify(REQUIRED));
    });

    it('ADMIN_EMAIL in development on Clerk\'s SDK as well', async () => {
      const dev = await another({ ...clerkEnv(), NODE_ENV: 'development', ADMIN_EMAIL: 'clerk-plain@example.com' });
      expect((await dev.call('POST', '/api/products', { token: await plain.token(), json: PRODUCT })).status).toBe(201);
    });
  });
});
