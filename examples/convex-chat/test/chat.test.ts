import { convexTest } from 'convex-test';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { api } from '../convex/_generated/api';
import type { Id } from '../convex/_generated/dataModel';
import schema from '../convex/schema';
import { modules } from '../convex/test.setup';
import { deliveryHeaders, mint, refusal, signedInUser, startWorld, type SignedInUser, type World } from './support.js';

/**
 * Seed 001 on Convex with Latchkey: two users with real "convex" template tokens
 * from a running Latchkey, each token verified by the Convex oracle, the identity
 * it yields driving convex-test. A's profile arrives by a real signed webhook
 * delivery, B's by ensureUser. Then seed 001's access-control list: A's chats and
 * messages are A's alone; B sees only B's own and every attempt on A's is refused
 * with the documented error.
 */

const NOT_AUTHENTICATED = { code: 'UNAUTHENTICATED', message: 'Not authenticated' };
const USER_NOT_FOUND = { code: 'USER_NOT_FOUND', message: 'User not found' };
const FORBIDDEN = { code: 'FORBIDDEN', message: 'Access denied' };
const NOT_FOUND = { code: 'NOT_FOUND', message: 'Chat not found' };

const ADA = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' };
const GRACE = { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' };

/** A fresh in-memory deployment of convex/ (schema and functions). */
const newConvex = () => convexTest(schema, modules);
type T = ReturnType<typeof newConvex>;

describe('convex-chat (seed 001) with a running Latchkey', () => {
  let world: World;
  let a: SignedInUser;
  let b: SignedInUser;
  let t: T;

  /** Posts Latchkey's signed delivery to the app's webhook route, as Latchkey would reach the deployment. */
  const deliver = async (type: string, userId: string) => {
    const d = await world.delivery(type, userId);
    const res = await t.fetch('/latchkey-webhook', { method: 'POST', headers: deliveryHeaders(d), body: d.body });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(await res.json()).toEqual({ success: true });
  };

  beforeAll(async () => {
    world = await startWorld();
    // The deployment's environment: `npx convex env set LATCHKEY_WEBHOOK_SECRET whsec_…`.
    process.env.LATCHKEY_WEBHOOK_SECRET = world.secret;
    a = await signedInUser(world.server, ADA);
    b = await signedInUser(world.server, GRACE);
  });
  afterAll(async () => {
    delete process.env.LATCHKEY_WEBHOOK_SECRET;
    await world?.close();
  });

  beforeEach(() => {
    t = newConvex();
  });

  describe('tokens and profiles', () => {
    it('a "convex" template token passes the Convex oracle and yields the identity the functions see', () => {
      const iss = world.server.url;
      expect(a.identity).toEqual({
        subject: a.id, issuer: iss, tokenIdentifier: `${iss}|${a.id}`,
        name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', emailVerified: true,
        phoneNumberVerified: false,
      });
      expect(b.identity).toMatchObject({ subject: b.id, issuer: iss, email: 'grace@example.com', givenName: 'Grace', familyName: 'Hopper' });
    });

    it('getMyProfile returns the row a real signed user.created webhook synced', async () => {
      const asA = t.withIdentity(a.identity);
      expect(await asA.query(api.users.getMyProfile, {})).toBeNull();
      await deliver('user.created', a.id);
      expect(await asA.query(api.users.getMyProfile, {})).toMatchObject({
        latchkeyId: a.id, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace',
      });
      // The same delivery again (Latchkey retries until a 2xx) leaves one row.
      await deliver('user.created', a.id);
      expect(await t.run((ctx) => ctx.db.query('users').collect())).toHaveLength(1);
      // B, who has no row yet, still sees none of A's.
      expect(await t.withIdentity(b.identity).query(api.users.getMyProfile, {})).toBeNull();
    });

    it('a profile change in Latchkey reaches getMyProfile through user.updated', async () => {
      await deliver('user.created', a.id);
      const patched = await world.server.api(`/v1/users/${a.id}`, { method: 'PATCH', json: { first_name: 'Augusta Ada' } });
      try {
        expect(patched.status).toBe(200);
        const updatedAt = ((await patched.json()) as { updated_at: number }).updated_at;
        await deliver('user.updated', a.id);
        expect(await t.withIdentity(a.identity).query(api.users.getMyProfile, {})).toMatchObject({
          latchkeyId: a.id, firstName: 'Augusta Ada', lastName: 'Lovelace', updatedAt,
        });
      } finally {
        // Put the name back for the tokens the other tests mint.
        await world.server.api(`/v1/users/${a.id}`, { method: 'PATCH', json: { first_name: 'Ada' } });
      }
    });

    it('ensureUser creates the row from the verified token when the webhook has not arrived yet', async () => {
      const asB = t.withIdentity(b.identity);
      expect(await asB.query(api.users.getMyProfile, {})).toBeNull();
      await asB.mutation(api.users.ensureUser, {});
      const row = await asB.query(api.users.getMyProfile, {});
      expect(row).toMatchObject({ latchkeyId: b.id, email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' });
      // Calling it again (every page load does) keeps one row.
      await asB.mutation(api.users.ensureUser, {});
      expect(await t.run((ctx) => ctx.db.query('users').collect())).toHaveLength(1);
    });

    it('the webhook route refuses a delivery whose signature does not match, and changes nothing', async () => {
      const d = await world.delivery('user.created', a.id);
      const forged = d.body.replace('"ada@example.com"', '"mallory@example.com"');
      expect(forged).not.toBe(d.body);
      const res = await t.fetch('/latchkey-webhook', { method: 'POST', headers: deliveryHeaders(d), body: forged });
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: 'Invalid webhook signature' });
      expect(await t.run((ctx) => ctx.db.query('users').collect())).toEqual([]);
    });
  });

  describe("seed 001's own JWT template (userId, email, firstName, lastName)", () => {
    it('passes the oracle with aud "convex", and its identity drives the same functions', async () => {
      const created = await world.server.api('/v1/jwt_templates', {
        method: 'POST',
        json: {
          name: 'convex-chat',
          aud: 'convex',
          claims: {
            userId: '{{user.id}}', email: '{{user.primary_email_address}}', firstName: '{{user.first_name}}', lastName: '{{user.last_name}}',
          },
        },
      });
      expect(created.status, await created.clone().text()).toBe(200);
      const { identity } = await mint(world.server, a.sessionId, 'convex-chat');
      const iss = world.server.url;
      // Non-standard claims reach the functions as they are; email is a standard one.
      expect(identity).toEqual({
        subject: a.id, issuer: iss, tokenIdentifier: `${iss}|${a.id}`,
        userId: a.id, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace',
      });
      const asA = t.withIdentity(identity);
      // ensureUser reads the OIDC names (given_name, family_name), which this template lacks:
      // the provisional row has the email only, and the webhook fills in the rest.
      await asA.mutation(api.users.ensureUser, {});
      expect(await asA.query(api.users.getMyProfile, {})).toMatchObject({ latchkeyId: a.id, email: 'ada@example.com', updatedAt: 0 });
      expect(await asA.query(api.users.getMyProfile, {})).not.toHaveProperty('firstName');
      await deliver('user.created', a.id);
      expect(await asA.query(api.users.getMyProfile, {})).toMatchObject({ latchkeyId: a.id, firstName: 'Ada', lastName: 'Lovelace' });
      // The same user, whichever template the token came from: chats made with one are listed with the other.
      const id = await asA.mutation(api.chats.createUserChat, { title: 'Made with the seed template' });
      expect((await t.withIdentity(a.identity).query(api.chats.listUserChats, {})).map((c) => c._id)).toEqual([id]);
      await t.withIdentity(b.identity).mutation(api.users.ensureUser, {});
      expect((await refusal(t.withIdentity(b.identity).query(api.chats.get, { id }))).data).toEqual(FORBIDDEN);
    });
  });

  describe('a user deleted in Latchkey', () => {
    it('loses access with a still-valid token once user.deleted arrives; the chats stay refused to others', async () => {
      const d = await signedInUser(world.server, { email: 'dorothy@example.com', firstName: 'Dorothy', lastName: 'Vaughan' });
      const asD = t.withIdentity(d.identity);
      await deliver('user.created', d.id);
      const chat = await asD.mutation(api.chats.createUserChat, { title: 'FORTRAN' });
      const removed = await world.server.api(`/v1/users/${d.id}`, { method: 'DELETE' });
      expect(removed.status).toBe(200);
      await deliver('user.deleted', d.id);
      // The token minted before the deletion is still within its lifetime; the row is a redacted tombstone.
      expect(await asD.query(api.users.getMyProfile, {})).toBeNull();
      expect((await refusal(asD.query(api.chats.listUserChats, {}))).data).toEqual(USER_NOT_FOUND);
      expect((await refusal(asD.mutation(api.chats.createUserChat, { title: 'again' }))).data).toEqual(USER_NOT_FOUND);
      expect((await refusal(asD.mutation(api.users.ensureUser, {}))).data).toEqual(USER_NOT_FOUND);
      const rows = await t.run((ctx) => ctx.db.query('users').withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', d.id)).collect());
      expect(rows).toHaveLength(1);
      expect(rows[0]).not.toHaveProperty('email');
      expect(rows[0]!.deletedAt).toEqual(expect.any(Number));
      // A late user.created (a retry that lost the race) does not bring the user back.
      await deliver('user.created', d.id);
      expect(await asD.query(api.users.getMyProfile, {})).toBeNull();
      // The deleted user's chat is still nobody else's.
      const asA = t.withIdentity(a.identity);
      await asA.mutation(api.users.ensureUser, {});
      expect((await refusal(asA.query(api.chats.get, { id: chat }))).data).toEqual(FORBIDDEN);
    });
  });

  describe("seed 001's access control: B can neither read nor change A's chats", () => {
    let asA: ReturnType<T['withIdentity']>;
    let asB: ReturnType<T['withIdentity']>;
    let first: Id<'chats'>;
    let second: Id<'chats'>;
    let bChat: Id<'chats'>;

    /** What A's data looks like; compared before and after B's attempts. */
    const aState = async () => ({
      chats: await asA.query(api.chats.listUserChats, {}),
      messages: await asA.query(api.chats.listMessages, { chatId: first }),
      allMessages: await t.run((ctx) => ctx.db.query('messages').collect()),
    });

    beforeEach(async () => {
      asA = t.withIdentity(a.identity);
      asB = t.withIdentity(b.identity);
      await deliver('user.created', a.id);
      await asB.mutation(api.users.ensureUser, {});
      first = await asA.mutation(api.chats.createUserChat, { title: 'Analytical engine' });
      second = await asA.mutation(api.chats.createUserChat, { title: '  Bernoulli numbers  ' });
      await asA.mutation(api.chats.sendMessage, { chatId: first, content: 'Note G' });
      await asA.mutation(api.chats.sendMessage, { chatId: first, content: 'The engine weaves algebraic patterns' });
      bChat = await asB.mutation(api.chats.createUserChat, { title: 'COBOL' });
    });

    it('A creates chats and messages and lists them, newest chat first', async () => {
      const chats = await asA.query(api.chats.listUserChats, {});
      expect(chats.map((c) => [c._id, c.title, c.userId])).toEqual([
        [second, 'Bernoulli numbers', a.id],
        [first, 'Analytical engine', a.id],
      ]);
      const messages = await asA.query(api.chats.listMessages, { chatId: first });
      expect(messages.map((m) => [m.content, m.userId, m.chatId])).toEqual([
        ['Note G', a.id, first],
        ['The engine weaves algebraic patterns', a.id, first],
      ]);
      expect(await asA.query(api.chats.get, { id: first })).toMatchObject({ _id: first, title: 'Analytical engine', userId: a.id });
    });

    it('B lists only B\'s own chats', async () => {
      const chats = await asB.query(api.chats.listUserChats, {});
      expect(chats.map((c) => [c._id, c.title, c.userId])).toEqual([[bChat, 'COBOL', b.id]]);
    });

    it("B cannot read A's chat or its messages", async () => {
      const read = await refusal(asB.query(api.chats.get, { id: first }));
      expect(read.data).toEqual(FORBIDDEN);
      // Seed 001's handleConvexError matches on the message text: it still finds "Access denied".
      expect(read.message).toContain('Access denied');
      expect((await refusal(asB.query(api.chats.listMessages, { chatId: first }))).data).toEqual(FORBIDDEN);
    });

    it("B cannot rename, delete or post to A's chat, and A's data is unchanged", async () => {
      const before = await aState();
      expect((await refusal(asB.mutation(api.chats.update, { id: first, title: 'Mine now' }))).data).toEqual(FORBIDDEN);
      expect((await refusal(asB.mutation(api.chats.remove, { id: first }))).data).toEqual(FORBIDDEN);
      expect((await refusal(asB.mutation(api.chats.sendMessage, { chatId: first, content: 'hello from B' }))).data).toEqual(FORBIDDEN);
      expect(await aState()).toEqual(before);
      expect(before.chats.map((c) => c.title)).toEqual(['Bernoulli numbers', 'Analytical engine']);
      expect(before.allMessages).toHaveLength(2);
    });

    it('A renames, posts to and deletes A\'s own chats; a deleted chat is not found', async () => {
      await asA.mutation(api.chats.update, { id: second, title: 'Note G, revised' });
      expect(await asA.query(api.chats.get, { id: second })).toMatchObject({ title: 'Note G, revised' });
      await asA.mutation(api.chats.remove, { id: first });
      expect(await t.run((ctx) => ctx.db.query('messages').collect())).toEqual([]);
      expect((await asA.query(api.chats.listUserChats, {})).map((c) => c._id)).toEqual([second]);
      expect((await refusal(asA.query(api.chats.get, { id: first }))).data).toEqual(NOT_FOUND);
      expect((await refusal(asA.mutation(api.chats.sendMessage, { chatId: first, content: 'still there?' }))).data).toEqual(NOT_FOUND);
      // B's chat was never touched.
      expect((await asB.query(api.chats.listUserChats, {})).map((c) => c._id)).toEqual([bChat]);
    });

    it('empty titles and messages are refused', async () => {
      expect((await refusal(asA.mutation(api.chats.createUserChat, { title: '   ' }))).data)
        .toEqual({ code: 'INVALID_ARGUMENT', message: 'Title must be 1 to 200 characters' });
      expect((await refusal(asA.mutation(api.chats.sendMessage, { chatId: first, content: ' ' }))).data)
        .toEqual({ code: 'INVALID_ARGUMENT', message: 'Message must be 1 to 10000 characters' });
    });

    it('without a token every function answers "Not authenticated", and nothing changes', async () => {
      const before = await aState();
      const calls: Promise<unknown>[] = [
        t.query(api.users.getMyProfile, {}),
        t.query(api.chats.listUserChats, {}),
        t.query(api.chats.get, { id: first }),
        t.query(api.chats.listMessages, { chatId: first }),
        t.mutation(api.chats.createUserChat, { title: 'anonymous' }),
        t.mutation(api.chats.update, { id: first, title: 'anonymous' }),
        t.mutation(api.chats.remove, { id: first }),
        t.mutation(api.chats.sendMessage, { chatId: first, content: 'anonymous' }),
        t.mutation(api.users.ensureUser, {}),
      ];
      for (const call of calls) {
        const r = await refusal(call);
        expect(r.data).toEqual(NOT_AUTHENTICATED);
        expect(r.message).toContain('Not authenticated');
      }
      expect(await aState()).toEqual(before);
      expect(await t.run((ctx) => ctx.db.query('users').collect())).toHaveLength(2);
    });

    it('a valid token whose user has no row yet is told "User not found" until ensureUser runs', async () => {
      const c = await signedInUser(world.server, { email: 'katherine@example.com', firstName: 'Katherine', lastName: 'Johnson' });
      const asC = t.withIdentity(c.identity);
      expect((await refusal(asC.query(api.chats.listUserChats, {}))).data).toEqual(USER_NOT_FOUND);
      expect((await refusal(asC.mutation(api.chats.createUserChat, { title: 'Orbits' }))).data).toEqual(USER_NOT_FOUND);
      await asC.mutation(api.users.ensureUser, {});
      expect(await asC.query(api.chats.listUserChats, {})).toEqual([]);
      // And C, like B, cannot reach A's chat.
      expect((await refusal(asC.query(api.chats.get, { id: first }))).data).toEqual(FORBIDDEN);
    });

    it('a refreshed token (new iat, exp, jti) is the same user: the same chats', async () => {
      const refreshed = await mint(world.server, a.sessionId);
      expect(refreshed.token).not.toBe(a.token);
      // The identity is stable between refreshes (no nbf, no counters), so Convex's query cache holds.
      expect(refreshed.identity).toEqual(a.identity);
      const chats = await t.withIdentity(refreshed.identity).query(api.chats.listUserChats, {});
      expect(chats.map((c) => c._id)).toEqual([second, first]);
    });
  });
});
