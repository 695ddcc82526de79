import { Webhook } from 'svix';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api } from './convex/_generated/api.js';
import { FIXED_SECRET } from './convex/http.js';
import { asRequest, envelopeOf, newConvex, startLatchkey, waitFor, type Delivery, type Latchkey } from './support.js';

/**
 * Must show: signed deliveries from a running Latchkey, captured by a local
 * receiver and posted unchanged to the webhook route through t.fetch, create,
 * update and delete rows; duplicates and any delivery order end in the latest
 * state; and the route answers seed 002's refusals.
 */

type Row = Record<string, unknown>;

/** A row without its system fields, for comparing what two runs ended in. */
const content = (row: Row | null | undefined) => {
  if (!row) return row;
  const { _id: _i, _creationTime: _c, ...rest } = row;
  return rest;
};

describe('webhook deliveries from a running Latchkey keep the users table in step', () => {
  let lk: Latchkey;

  beforeAll(async () => {
    lk = await startLatchkey();
  });
  afterAll(() => lk?.close());
  beforeEach(() => {
    process.env.LATCHKEY_WEBHOOK_SECRET = lk.secret;
  });
  afterEach(() => {
    delete process.env.LATCHKEY_WEBHOOK_SECRET;
    delete process.env.CLERK_WEBHOOK_SECRET;
    delete process.env.CLERK_WEBHOOK_SIGNING_SECRET;
  });

  const post = async (t: ReturnType<typeof newConvex>, d: Delivery, init?: Parameters<typeof asRequest>[1]) => {
    const res = await t.fetch('/latchkey-webhook', asRequest(d, init));
    return { status: res.status, body: await res.json() };
  };
  const rowOf = (t: ReturnType<typeof newConvex>, latchkeyId: string) => t.query(api.users.byLatchkeyId, { latchkeyId }) as Promise<Row | null>;

  /** A user's life: created, renamed, made a moderator, deleted. Returns its four deliveries. */
  async function lifeOf(email: string): Promise<{ id: string; deliveries: Delivery[] }> {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: [email], first_name: 'Ann', last_name: 'Lee' });
    await lk.api(`/v1/users/${user.id}`, 'PATCH', { first_name: 'Anne' });
    await lk.api(`/v1/users/${user.id}/role`, 'POST', { role: 'moderator' });
    await lk.api(`/v1/users/${user.id}`, 'DELETE');
    const deliveries = await lk.deliveriesOf(user.id, 4);
    expect(deliveries.map((d) => envelopeOf(d).type)).toEqual(['user.created', 'user.updated', 'user.updated', 'user.deleted']);
    return { id: user.id, deliveries };
  }

  it('user.created inserts the row, each user.updated patches it, user.deleted redacts it to a tombstone', async () => {
    const t = newConvex();
    const { id, deliveries } = await lifeOf('ann@example.com');
    const [created, renamed, promoted, deleted] = deliveries.map((d) => ({ d, e: envelopeOf(d) }));

    expect(await post(t, created!.d)).toEqual({ status: 200, body: { success: true } });
    expect(content(await rowOf(t, id))).toEqual({
      latchkeyId: id, email: 'ann@example.com', firstName: 'Ann', lastName: 'Lee', role: 'user', updatedAt: created!.e.data.updated_at,
    });

    expect((await post(t, renamed!.d)).status).toBe(200);
    expect(await rowOf(t, id)).toMatchObject({ firstName: 'Anne', role: 'user', updatedAt: renamed!.e.data.updated_at });

    expect((await post(t, promoted!.d)).status).toBe(200);
    expect(await rowOf(t, id)).toMatchObject({ firstName: 'Anne', role: 'moderator', updatedAt: promoted!.e.data.updated_at });
    const rowId = (await rowOf(t, id))!._id;

    expect((await post(t, deleted!.d)).status).toBe(200);
    const tombstone = await rowOf(t, id);
    expect(content(tombstone)).toEqual({ latchkeyId: id, updatedAt: deleted!.e.data.updated_at, deletedAt: deleted!.e.data.updated_at });
    expect(tombstone!._id).toBe(rowId); // the same row: references to it stay valid
    expect(deleted!.e.data.updated_at).toBeGreaterThan(promoted!.e.data.updated_at);
    expect(await t.query(api.users.all, {})).toHaveLength(1);
  });

  it('every delivery twice, or in any order: the same final row as in order, once', async () => {
    const { id, deliveries } = await lifeOf('bo@example.com');
    const inOrder = newConvex();
    for (const d of deliveries) await post(inOrder, d);
    const expected = content(await rowOf(inOrder, id));
    expect(expected).toMatchObject({ latchkeyId: id, deletedAt: envelopeOf(deliveries[3]!).data.updated_at });

    const orders: Array<[string, number[]]> = [
      ['twice each', [0, 0, 1, 1, 2, 2, 3, 3]],
      ['reversed', [3, 2, 1, 0]],
      ['delete overtakes the rest', [1, 3, 0, 2]],
      ['all replayed after the end', [0, 1, 2, 3, 0, 1, 2, 3]],
    ];
    for (const [name, order] of orders) {
      const t = newConvex();
      for (const i of order) expect((await post(t, deliveries[i]!)).status, name).toBe(200);
      expect(content(await rowOf(t, id)), name).toEqual(expected);
      expect(await t.query(api.users.all, {}), name).toHaveLength(1);
    }
  });

  it('updates out of order, no delete: the newest version wins, an older one never overwrites it', async () => {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['cy@example.com'], first_name: 'C1' });
    await lk.api(`/v1/users/${user.id}`, 'PATCH', { first_name: 'C2' });
    await lk.api(`/v1/users/${user.id}`, 'PATCH', { first_name: 'C3', last_name: 'Young' });
    const [created, u2, u3] = await lk.deliveriesOf(user.id, 3);
    const t = newConvex();
    await post(t, u3!);
    expect(await rowOf(t, user.id)).toMatchObject({ firstName: 'C3', lastName: 'Young', updatedAt: envelopeOf(u3!).data.updated_at });
    await post(t, created!);
    await post(t, u2!);
    expect(await rowOf(t, user.id)).toMatchObject({ firstName: 'C3', lastName: 'Young', updatedAt: envelopeOf(u3!).data.updated_at });
  });

  it('a row ensureUser made from the token has version 0: the webhooks overwrite it and end in the latest state', async () => {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['di@example.com'], first_name: 'Di' });
    await lk.api(`/v1/users/${user.id}/role`, 'POST', { role: 'admin' });
    const t = newConvex();
    const asDi = t.withIdentity(await lk.identityOf(user.id));
    // The token is minted now: it already carries the new role.
    const provisional = await asDi.mutation(api.users.ensureUser, {});
    expect(content(provisional)).toEqual({ latchkeyId: user.id, email: 'di@example.com', firstName: 'Di', role: 'admin', updatedAt: 0 });

    const [created, promoted] = await lk.deliveriesOf(user.id, 2);
    await post(t, created!);
    // Any real version beats the token's row, even an older state: the webhooks' order takes over from here.
    expect(await asDi.query(api.users.getMyProfile, {})).toMatchObject({ _id: provisional._id, role: 'user', updatedAt: envelopeOf(created!).data.updated_at });
    await post(t, promoted!);
    expect(await asDi.query(api.users.getMyProfile, {})).toMatchObject({ _id: provisional._id, role: 'admin', updatedAt: envelopeOf(promoted!).data.updated_at });
    expect(await t.query(api.users.all, {})).toHaveLength(1);
  });

  it('a deleted user: getMyProfile is null and ensureUser refuses, with the last token still valid', async () => {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['ed@example.com'] });
    const identity = await lk.identityOf(user.id);
    await lk.api(`/v1/users/${user.id}`, 'DELETE');
    const t = newConvex();
    const deliveries = await lk.deliveriesOf(user.id, 2);
    for (const d of deliveries) await post(t, d);
    const asEd = t.withIdentity(identity);
    expect(await asEd.query(api.users.getMyProfile, {})).toBeNull();
    await expect(asEd.mutation(api.users.ensureUser, {})).rejects.toMatchObject({ data: { code: 'USER_NOT_FOUND', message: 'User not found' } });
    expect(content(await rowOf(t, user.id))).toMatchObject({ latchkeyId: user.id });
    expect(await rowOf(t, user.id)).not.toHaveProperty('email');
  });

  it('other event types are acknowledged and change nothing', async () => {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['fay@example.com'] });
    await lk.api('/v1/sessions', 'POST', { user_id: user.id });
    const sessionCreated = await waitForType('session.created', user.id);
    const t = newConvex();
    expect(await post(t, sessionCreated)).toEqual({ status: 200, body: { success: true } });
    expect(await t.query(api.users.all, {})).toEqual([]);
  });

  function waitForType(type: string, userId: string): Promise<Delivery> {
    return waitFor(`a ${type} delivery`, () =>
      lk.receiver.deliveries.find((d) => envelopeOf(d).type === type && (envelopeOf(d).data as { user_id?: string }).user_id === userId));
  }

  describe('refusals (seed 002), each leaving the table as it was', () => {
    let delivery: Delivery;
    let t: ReturnType<typeof newConvex>;
    beforeAll(async () => {
      const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['gus@example.com'] });
      delivery = (await lk.deliveriesOf(user.id, 1))[0]!;
    });
    beforeEach(() => {
      t = newConvex();
    });
    afterEach(async () => {
      expect(await t.query(api.users.all, {})).toEqual([]);
    });

    it('no secret configured: 500 "Missing webhook secret"', async () => {
      delete process.env.LATCHKEY_WEBHOOK_SECRET;
      expect(await post(t, delivery)).toEqual({ status: 500, body: { error: 'Missing webhook secret' } });
    });

    it('a signature header missing (each of the three, in both header sets): 400 "Missing svix headers"', async () => {
      for (const name of ['id', 'timestamp', 'signature']) {
        const headers = { [`svix-${name}`]: undefined, [`webhook-${name}`]: undefined };
        expect(await post(t, delivery, { headers }), name).toEqual({ status: 400, body: { error: 'Missing svix headers' } });
      }
      expect(await post(t, delivery, { headers: Object.fromEntries(Object.keys(delivery.headers).map((k) => [k, undefined])) }))
        .toEqual({ status: 400, body: { error: 'Missing svix headers' } });
    });

    it('a changed body, a forged signature, or another endpoint\'s secret: 400 "Invalid webhook signature"', async () => {
      const invalid = { status: 400, body: { error: 'Invalid webhook signature' } };
      expect(await post(t, delivery, { body: delivery.body.replace('gus@example.com', 'gut@example.com') })).toEqual(invalid);
      const forged = `v1,${Buffer.alloc(32, 7).toString('base64')}`;
      expect(await post(t, delivery, { headers: { 'svix-signature': forged, 'webhook-signature': forged } })).toEqual(invalid);
      process.env.LATCHKEY_WEBHOOK_SECRET = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
      expect(await post(t, delivery)).toEqual(invalid);
    });
  });

  it('CLERK_WEBHOOK_SECRET, then CLERK_WEBHOOK_SIGNING_SECRET, stand in for LATCHKEY_WEBHOOK_SECRET; Standard Webhooks headers alone are enough', async () => {
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', { email_address: ['hal@example.com'] });
    const [delivery] = await lk.deliveriesOf(user.id, 1);
    const svixless = Object.fromEntries(Object.keys(delivery!.headers).filter((k) => k.startsWith('svix-')).map((k) => [k, undefined]));
    const wrong = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;
    delete process.env.LATCHKEY_WEBHOOK_SECRET;
    for (const name of ['CLERK_WEBHOOK_SECRET', 'CLERK_WEBHOOK_SIGNING_SECRET']) {
      const t = newConvex();
      process.env[name] = lk.secret;
      expect(await post(t, delivery!, { headers: svixless }), name).toEqual({ status: 200, body: { success: true } });
      expect(await rowOf(t, user.id), name).toMatchObject({ email: 'hal@example.com' });
      delete process.env[name];
    }
    // The order: a wrong LATCHKEY_WEBHOOK_SECRET is not rescued by a right CLERK_ one.
    process.env.LATCHKEY_WEBHOOK_SECRET = wrong;
    process.env.CLERK_WEBHOOK_SECRET = lk.secret;
    expect(await post(newConvex(), delivery!)).toEqual({ status: 400, body: { error: 'Invalid webhook signature' } });
  });

  it('a secret given in code wins over the environment; a delivery svix signed with it is applied', async () => {
    const body = JSON.stringify({
      object: 'event', type: 'user.created', timestamp: Date.now(),
      data: { id: 'user_svix', first_name: 'Sia', email_addresses: [], public_metadata: { role: 'admin', $weird: 1 }, updated_at: 42 },
    });
    const headers = { 'svix-id': 'msg_svix', 'svix-timestamp': String(Math.floor(Date.now() / 1000)), 'content-type': 'application/json' };
    const signature = new Webhook(FIXED_SECRET).sign('msg_svix', new Date(Number(headers['svix-timestamp']) * 1000), body);
    const t = newConvex();
    // LATCHKEY_WEBHOOK_SECRET (another secret) is set by beforeEach: the option is used instead.
    const res = await t.fetch('/fixed-secret-webhook', { method: 'POST', headers: { ...headers, 'svix-signature': signature }, body });
    expect({ status: res.status, body: await res.json() }).toEqual({ status: 200, body: { success: true } });
    // Only the role crosses into the mutation: a "$" key in public_metadata would not be a Convex value.
    expect(content(await rowOf(t, 'user_svix'))).toEqual({ latchkeyId: 'user_svix', firstName: 'Sia', role: 'admin', updatedAt: 42 });
    const env = await t.fetch('/latchkey-webhook', { method: 'POST', headers: { ...headers, 'svix-signature': signature }, body });
    expect(env.status).toBe(400);
  });
});
