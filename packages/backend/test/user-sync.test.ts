import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseUrlFor, dialects, startServer, type DialectName, type TestServer } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { startReceiver, type Delivery, type Receiver } from '../../server/test/support/webhook-receiver.js';
import {
  createLatchkeyClient, createUserSync, decodeJwt, type LatchkeyClient, type LatchkeyEvent, type SyncOutcome, type User,
  type UserStore, type UserSync, type WebhookResult,
} from '../src/index.js';
import { postgresStore, sqliteStore, type TestStore } from './support/user-stores.js';

/**
 * createUserSync against a running Latchkey, with an app database on SQLite
 * and one on PostgreSQL: real deliveries applied twice and out of order,
 * deletes that stay deleted, ensureUser before the webhook, reconcile from the
 * feed, the dbId write-back into the next token, and seed 002's refusals.
 */

/** The event a captured delivery carries. */
const eventOf = (d: Delivery) => JSON.parse(d.body) as LatchkeyEvent;

/** The store's calls, to show what was (not) written. */
function spy(store: UserStore): UserStore & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    version: (id) => store.version(id),
    upsert: (user, version) => {
      calls.push(`upsert ${user.id} ${version}`);
      return store.upsert(user, version);
    },
    softDelete: (id, version, data) => {
      calls.push(`softDelete ${id} ${version}`);
      return store.softDelete(id, version, data);
    },
    claimDelivery: (id) => store.claimDelivery!(id),
    releaseDelivery: (id) => store.releaseDelivery!(id),
  };
}

const asRequest = (d: { body: Buffer | string; headers: Record<string, string> }) =>
  new Request('http://127.0.0.1/api/webhooks/latchkey', { method: 'POST', headers: d.headers, body: d.body });

const primaryEmail = (u: User) => u.email_addresses.find((e) => e.id === u.primary_email_address_id)?.email_address ?? null;

describe.each(dialects())('createUserSync with a %s app database', (kind: DialectName) => {
  let server: TestServer;
  let client: LatchkeyClient;
  /** Every API path the client called, for "no request was made" checks. */
  const requests: string[] = [];
  let store: TestStore;
  const newStore = async (firstId = 1) =>
    (kind === 'sqlite' ? sqliteStore(firstId) : postgresStore((await databaseUrlFor('postgres'))!, firstId));

  /** Records deliveries; tests apply them by hand, in the order they choose. */
  let capture: Receiver;
  let captureSecret: string;
  /** Applies deliveries of the users in `liveIds` as an app's route would, answering with the sync's result. */
  let live: Receiver;
  let liveSync: UserSync;
  const liveEmails = new Set<string>();
  const liveIds = new Set<string>();
  const liveResults: { userId: string; type: string; svixId: string; result: WebhookResult }[] = [];

  /** A sync for hand-applied deliveries: no write-back, so each test controls every event there is. */
  let manual: UserSync;
  let manualStore: ReturnType<typeof spy>;

  beforeAll(async () => {
    server = await startServer(kind, { webhookPollMs: 50 });
    client = createLatchkeyClient({
      secretKey: server.secretKey,
      apiUrl: server.url,
      fetch: (input, init) => {
        requests.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
        return fetch(input, init);
      },
    });
    // Community roles: new users get role "user", so the role column has something to hold.
    await client.roles.applyPreset('community');
    store = await newStore();
    manualStore = spy(store);

    capture = await startReceiver(undefined, '/api/webhooks/latchkey');
    const userEvents = ['user.created', 'user.updated', 'user.deleted'] as const;
    captureSecret = (await client.webhookEndpoints.create({ url: capture.url, events: [...userEvents] })).secret;
    manual = createUserSync({ client, webhookSecret: captureSecret, store: manualStore, writeBackDbId: false });

    live = await startReceiver(async (d) => {
      const e = eventOf(d);
      if (e.type === 'user.created' || e.type === 'user.updated') {
        if (e.data.email_addresses.some((x) => liveEmails.has(x.email_address))) liveIds.add(e.data.id);
      }
      if (!e.type.startsWith('user.') || !liveIds.has(e.data.id)) return { status: 204 };
      const result = await liveSync.handleWebhook(d.raw, d.headers);
      liveResults.push({ userId: e.data.id, type: e.type, svixId: d.headers['svix-id']!, result });
      return result;
    });
    const liveSecret = (await client.webhookEndpoints.create({ url: live.url, events: [...userEvents] })).secret;
    liveSync = createUserSync({ client, webhookSecret: liveSecret, store });
  });
  afterAll(async () => {
    await server?.close();
    await capture?.close();
    await live?.close();
    await store?.close();
  });

  /** The first `n` distinct deliveries about one user, in sequence order. */
  async function delivered(userId: string, n: number): Promise<Delivery[]> {
    return waitFor(`${n} deliveries for ${userId}`, () => {
      const byId = new Map<string, Delivery>();
      for (const d of capture.deliveries) if (eventOf(d).data.id === userId) byId.set(d.headers['svix-id']!, d);
      const list = [...byId.values()].sort((a, b) => eventOf(a).sequence - eventOf(b).sequence);
      return list.length >= n ? list.slice(0, n) : undefined;
    });
  }

  async function outcomes(sync: UserSync, ds: Delivery[]): Promise<(SyncOutcome | undefined)[]> {
    const out: (SyncOutcome | undefined)[] = [];
    for (const d of ds) {
      const r = await sync.handleWebhook(d.raw, d.headers);
      expect(r.status).toBe(200);
      expect(r.body).toEqual({ success: true });
      out.push(r.outcome);
    }
    return out;
  }

  it('the same delivery twice is applied once', async () => {
    const u = await client.users.create({ email_address: ['twice@example.com'], first_name: 'Twice' });
    const [created] = await delivered(u.id, 1);
    expect(await outcomes(manual, [created!, created!])).toEqual(['applied', 'duplicate']);
    expect(manualStore.calls.filter((c) => c.includes(u.id))).toEqual([`upsert ${u.id} ${u.updated_at}`]);
    expect(await store.row(u.id)).toMatchObject({
      latchkey_id: u.id, email: 'twice@example.com', first_name: 'Twice', role: 'user', version: u.updated_at, deleted_at: null,
    });
    expect((await store.rows()).filter((r) => r.latchkey_id === u.id)).toHaveLength(1);
  });

  it('out of order: an old update after a newer one, or updated before created, ends in the latest state', async () => {
    const a = await client.users.create({ email_address: ['order-a@example.com'], first_name: 'A1' });
    await client.users.update(a.id, { first_name: 'A2' });
    const latest = await client.users.update(a.id, { first_name: 'A3' });
    const [created, second, third] = await delivered(a.id, 3);
    expect([created, second, third].map((d) => eventOf(d!).type)).toEqual(['user.created', 'user.updated', 'user.updated']);
    expect(await outcomes(manual, [third!, created!, second!])).toEqual(['applied', 'stale', 'stale']);
    expect(await store.row(a.id)).toMatchObject({ first_name: 'A3', email: 'order-a@example.com', version: latest.updated_at });

    const b = await client.users.create({ email_address: ['order-b@example.com'], first_name: 'B1' });
    await client.users.setRole(b.id, 'moderator');
    const bLatest = await client.users.update(b.id, { first_name: 'B2' });
    const [bCreated, bRole, bRenamed] = await delivered(b.id, 3);
    expect(await outcomes(manual, [bRole!, bRenamed!, bCreated!])).toEqual(['applied', 'applied', 'stale']);
    expect(await store.row(b.id)).toMatchObject({ first_name: 'B2', role: 'moderator', version: bLatest.updated_at, deleted_at: null });
  });

  it('user.deleted soft-deletes, and a stale user.updated afterwards does not bring the user back', async () => {
    const u = await client.users.create({ email_address: ['gone@example.com'], first_name: 'Gone' });
    await client.users.update(u.id, { first_name: 'Still here' });
    await client.users.delete(u.id);
    const [created, updated, deleted] = await delivered(u.id, 3);
    expect(eventOf(deleted!).type).toBe('user.deleted');
    const deletedVersion = (eventOf(deleted!).data as { updated_at: number }).updated_at;
    expect(deletedVersion).toBeGreaterThan((eventOf(updated!).data as User).updated_at);
    expect(await outcomes(manual, [created!, deleted!, updated!, deleted!])).toEqual(['applied', 'applied', 'stale', 'duplicate']);
    expect(await store.row(u.id)).toMatchObject({ first_name: 'Gone', version: deletedVersion, deleted_at: deletedVersion });

    // The delete arrives first: a tombstone, and the user.created after it is stale.
    const v = await client.users.create({ email_address: ['gone-first@example.com'] });
    await client.users.delete(v.id);
    const [vCreated, vDeleted] = await delivered(v.id, 2);
    expect(await outcomes(manual, [vDeleted!, vCreated!])).toEqual(['applied', 'stale']);
    const vDeletedVersion = (eventOf(vDeleted!).data as { updated_at: number }).updated_at;
    expect(await store.row(v.id)).toMatchObject({ email: null, first_name: null, version: vDeletedVersion, deleted_at: vDeletedVersion });
  });

  it('ensureUser creates the row from the Backend API when missing and is a no-op when present; the webhook later changes nothing', async () => {
    const u = await client.users.create({ email_address: ['early@example.com'], first_name: 'Early' });
    expect(await store.row(u.id)).toBeUndefined();
    const before = requests.length;
    expect(await manual.ensureUser(u.id)).toBe('created');
    expect(requests.slice(before)).toEqual([`GET /v1/users/${u.id}`]);
    expect(await store.row(u.id)).toMatchObject({ email: 'early@example.com', first_name: 'Early', role: 'user', version: u.updated_at });

    const again = requests.length;
    expect(await manual.ensureUser(u.id)).toBe('present');
    expect(requests.length).toBe(again);

    // The webhook arrives afterwards: still one row, nothing rewritten.
    const [created] = await delivered(u.id, 1);
    const calls = manualStore.calls.length;
    expect(await outcomes(manual, [created!])).toEqual(['stale']);
    expect(manualStore.calls.length).toBe(calls);
    expect((await store.rows()).filter((r) => r.latchkey_id === u.id)).toHaveLength(1);

    // Concurrent requests of one new user: one fetch, one row.
    const w = await client.users.create({ email_address: ['burst@example.com'] });
    const burst = requests.length;
    expect(await Promise.all([manual.ensureUser(w.id), manual.ensureUser(w.id), manual.ensureUser(w.id)])).toEqual(['created', 'created', 'created']);
    expect(requests.slice(burst)).toEqual([`GET /v1/users/${w.id}`]);
    expect((await store.rows()).filter((r) => r.latchkey_id === w.id)).toHaveLength(1);

    // Latchkey has no such user: nothing to create.
    expect(await manual.ensureUser('user_doesnotexist')).toBe('not_found');
    const d = await client.users.create({ email_address: ['deleted-early@example.com'] });
    await client.users.delete(d.id);
    expect(await manual.ensureUser(d.id)).toBe('not_found');
    expect(await store.row(d.id)).toBeUndefined();
  });

  it('dbId write-back: the row id lands in public_metadata.dbId, once, and the next token carries it', async () => {
    await client.instance.update({ session_claims: { dbId: '{{user.public_metadata.dbId}}', role: '{{user.public_metadata.role}}' } });
    liveEmails.add('live@example.com');
    const u = await client.users.create({ email_address: ['live@example.com'], first_name: 'Live' });
    const row = await waitFor('the row', () => store.row(u.id));
    const withDbId = await waitFor('the dbId write-back', async () => {
      const now = await client.users.get(u.id);
      return now.public_metadata.dbId === row.id ? now : undefined;
    });
    expect(withDbId.public_metadata).toEqual({ role: 'user', dbId: row.id });
    // The write-back's own user.updated comes back, is applied, and writes nothing more: no loop.
    const results = await waitFor('the write-back echo', () => {
      const mine = liveResults.filter((r) => r.userId === u.id);
      return mine.length >= 2 ? mine : undefined;
    });
    expect(results.map((r) => [r.type, r.result.status, r.result.outcome])).toEqual([
      ['user.created', 200, 'applied'], ['user.updated', 200, 'applied'],
    ]);
    expect((await store.row(u.id))!.version).toBe(withDbId.updated_at);
    const feed = (await client.events.list({ limit: 500 })).data.filter((e) => e.data.id === u.id);
    expect(feed.map((e) => e.type)).toEqual(['user.created', 'user.updated']);

    const session = await client.sessions.create({ user_id: u.id });
    const claims = decodeJwt((await client.sessions.createToken(session.id)).jwt).payload;
    expect(claims.dbId).toBe(row.id);
    expect(claims.role).toBe('user');

    // Latchkey replays the old user.created (same svix-id) after the newer state: acknowledged, nothing changes.
    await client.webhookMessages.replay(results[0]!.svixId);
    const replay = await waitFor('the replayed delivery', () => {
      const mine = liveResults.filter((r) => r.userId === u.id);
      return mine.length >= 3 ? mine[2] : undefined;
    });
    expect(replay).toMatchObject({ svixId: results[0]!.svixId, type: 'user.created', result: { status: 200, outcome: 'duplicate' } });
    expect(await store.row(u.id)).toMatchObject({ id: row.id, first_name: 'Live', version: withDbId.updated_at, deleted_at: null });

    // ensureUser writes it back too, before it returns: the very next token carries it.
    const early = await client.users.create({ email_address: ['live-ensure@example.com'] });
    expect(await liveSync.ensureUser(early.id)).toBe('created');
    const earlyRow = (await store.row(early.id))!;
    expect((await client.users.get(early.id)).public_metadata.dbId).toBe(earlyRow.id);
    const s2 = await client.sessions.create({ user_id: early.id });
    expect(decodeJwt((await client.sessions.createToken(s2.id)).jwt).payload.dbId).toBe(earlyRow.id);
  });

  it('reconcile({since}) replays the feed into an empty database and converges; later runs pick up from the cursor', async () => {
    // Only one database may write dbId back: the live route stops here (two would overwrite each other's ids forever).
    liveEmails.clear();
    liveIds.clear();
    const fresh = await newStore(1000);
    const patches: string[] = [];
    const counting = createLatchkeyClient({
      secretKey: server.secretKey,
      apiUrl: server.url,
      fetch: (input, init) => {
        if (init?.method === 'PATCH') patches.push(new URL(String(input)).pathname);
        return fetch(input, init);
      },
    });
    try {
      const rebuild = createUserSync({ client: counting, webhookSecret: undefined, store: fresh });
      const expectConverged = async () => {
        const users = await client.users.list({ limit: 500 });
        for (const u of users) {
          const row = await fresh.row(u.id);
          expect(row, u.id).toMatchObject({
            email: primaryEmail(u), first_name: u.first_name, role: u.public_metadata.role ?? null, version: u.updated_at, deleted_at: null,
          });
          expect(u.public_metadata.dbId, u.id).toBe(row!.id);
        }
        const deleted = (await client.events.list({ types: ['user.deleted'], limit: 500 })).data;
        for (const e of deleted) {
          const version = (e.data as { updated_at: number }).updated_at;
          expect(await fresh.row(e.data.id), e.data.id).toMatchObject({ version, deleted_at: version });
        }
        return users;
      };

      // The new database has new ids: each live user gets exactly one write-back, however many events it has.
      let r = await rebuild.reconcile({ since: 0 });
      expect(r.applied).toBeGreaterThan(10);
      // The write-backs of the last page are events after it: runs repeat until nothing is left to apply.
      let runs = 1;
      while (r.applied > 0) {
        r = await rebuild.reconcile({ since: r.cursor });
        if (++runs > 5) throw new Error('reconcile did not settle');
      }
      const users = await expectConverged();
      expect(users.length).toBeGreaterThan(5);
      for (const u of users) expect(patches.filter((p) => p === `/v1/users/${u.id}/metadata`), u.id).toHaveLength(1);
      const settled = r.cursor;
      expect(await rebuild.reconcile({ since: settled })).toEqual({ cursor: settled, applied: 0, stale: 0 });

      // Changes after the cursor: a rename, a role, a delete, a new user.
      const [first, second] = users;
      await client.users.update(first!.id, { first_name: 'Renamed' });
      await client.users.setRole(first!.id, 'admin');
      await client.users.delete(second!.id);
      await client.users.create({ email_address: ['after-cursor@example.com'], first_name: 'After' });
      r = await rebuild.reconcile({ since: settled });
      expect(r.applied).toBeGreaterThanOrEqual(4);
      while (r.applied > 0) r = await rebuild.reconcile({ since: r.cursor });
      await expectConverged();
      expect(await fresh.row(first!.id)).toMatchObject({ first_name: 'Renamed', role: 'admin' });
      expect((await fresh.row(second!.id))!.deleted_at).not.toBeNull();
    } finally {
      await fresh.close();
    }
  });

  it('handleRequest answers seed 002: 500 Missing webhook secret, 400 Missing svix headers, 400 Invalid webhook signature', async () => {
    const u = await client.users.create({ email_address: ['refused@example.com'] });
    const [d] = await delivered(u.id, 1);
    const ts = Number(d!.headers['svix-timestamp']) * 1000;
    const strip = (h: Record<string, string>, ...names: string[]) => Object.fromEntries(Object.entries(h).filter(([k]) => !names.includes(k)));
    const svixHeaders = ['svix-id', 'svix-timestamp', 'svix-signature', 'webhook-id', 'webhook-timestamp', 'webhook-signature'];

    const noSecret = createUserSync({ client, webhookSecret: undefined, store });
    expect(await noSecret.handleRequest(asRequest(d!))).toMatchObject({ status: 500, body: { error: 'Missing webhook secret' } });
    expect((await noSecret.handleRequest(asRequest(d!))).body).toEqual({ error: 'Missing webhook secret' });
    expect((await createUserSync({ client, webhookSecret: '', store }).handleWebhook(d!.raw, d!.headers)).status).toBe(500);

    for (const name of ['svix-id', 'svix-timestamp', 'svix-signature']) {
      const headers = strip(d!.headers, name, name.replace('svix-', 'webhook-'));
      const r = await manual.handleRequest(asRequest({ body: d!.raw, headers }));
      expect(r, name).toMatchObject({ status: 400, body: { error: 'Missing svix headers' }, reason: 'missing_headers' });
    }
    expect((await manual.handleRequest(asRequest({ body: d!.raw, headers: strip(d!.headers, ...svixHeaders) }))).body)
      .toEqual({ error: 'Missing svix headers' });

    const tampered = d!.body.replace('refused@example.com', 'refuzed@example.com');
    expect(await manual.handleRequest(asRequest({ body: tampered, headers: d!.headers })))
      .toMatchObject({ status: 400, body: { error: 'Invalid webhook signature' }, reason: 'invalid_signature' });
    const otherSecret = (await client.webhookEndpoints.create({ url: capture.url, enabled: false })).secret;
    const wrong = createUserSync({ client, webhookSecret: otherSecret, store });
    expect(await wrong.handleRequest(asRequest(d!))).toMatchObject({ status: 400, body: { error: 'Invalid webhook signature' } });
    const later = createUserSync({ client, webhookSecret: captureSecret, store, now: () => ts + 10 * 60_000 });
    expect(await later.handleRequest(asRequest(d!))).toMatchObject({ status: 400, body: { error: 'Invalid webhook signature' }, reason: 'timestamp' });
    // Nothing was written or claimed by any refusal.
    expect(await store.row(u.id)).toBeUndefined();

    const ok = await manual.handleRequest(asRequest(d!));
    expect(ok).toMatchObject({ status: 200, body: { success: true }, outcome: 'applied' });
    expect(ok.event).toEqual(eventOf(d!));
    expect(await store.row(u.id)).toMatchObject({ email: 'refused@example.com', version: u.updated_at });
  });

  it('a delivery whose processing failed is released, so Latchkey\'s retry is applied rather than dropped', async () => {
    const u = await client.users.create({ email_address: ['flaky@example.com'] });
    const [d] = await delivered(u.id, 1);
    let fail = true;
    const flaky: UserStore = {
      ...spy(store),
      upsert: async (user, version) => {
        if (fail) {
          fail = false;
          throw new Error('database is down');
        }
        return store.upsert(user, version);
      },
    };
    const sync = createUserSync({ client, webhookSecret: captureSecret, store: flaky, writeBackDbId: false });
    await expect(sync.handleWebhook(d!.raw, d!.headers)).rejects.toThrow('database is down');
    expect(await store.row(u.id)).toBeUndefined();
    expect(await outcomes(sync, [d!, d!])).toEqual(['applied', 'duplicate']);
    expect(await store.row(u.id)).toMatchObject({ email: 'flaky@example.com', version: u.updated_at });
  });
});
