import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkConvexToken } from '../src/testing/index.js';
import { api } from './convex/_generated/api.js';
import { newConvex, startLatchkey, type Latchkey } from './support.js';

/**
 * Must show: a real "convex" template token passes the oracle of what Convex
 * checks, and the identity it yields is what the functions see: ensureUser
 * makes the row from it, getMyProfile returns it.
 */
describe('a real "convex" token drives the functions', () => {
  let lk: Latchkey;
  let userId: string;

  beforeAll(async () => {
    lk = await startLatchkey();
    const user = await lk.api<{ id: string }>('/v1/users', 'POST', {
      email_address: ['ada@example.com'], first_name: 'Ada', last_name: 'Lovelace',
    });
    userId = user.id;
  });
  afterAll(() => lk?.close());

  it('passes checkConvexToken with aud "convex", and the identity carries the profile claims', async () => {
    const session = await lk.api<{ id: string }>('/v1/sessions', 'POST', { user_id: userId });
    const { jwt } = await lk.api<{ jwt: string }>(`/v1/sessions/${session.id}/tokens/convex`, 'POST', {});
    const { identity, payload, header } = await checkConvexToken(jwt, { domain: lk.server.url });
    expect(header.alg).toBe('RS256');
    expect(payload.aud).toBe('convex');
    expect(identity).toEqual({
      subject: userId, issuer: lk.server.url, tokenIdentifier: `${lk.server.url}|${userId}`,
      name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace',
      email: 'ada@example.com', emailVerified: true, phoneNumberVerified: false,
      role: 'user', // the community preset's default role, a custom claim passed through as it is
    });
  });

  it('ensureUser makes the row from the identity before any webhook; getMyProfile returns it; a second call changes nothing', async () => {
    const t = newConvex();
    const asAda = t.withIdentity(await lk.identityOf(userId));
    expect(await asAda.query(api.users.getMyProfile, {})).toBeNull();

    const made = await asAda.mutation(api.users.ensureUser, {});
    expect(made).toMatchObject({
      latchkeyId: userId, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', role: 'user', updatedAt: 0,
    });
    expect(made).not.toHaveProperty('imageUrl');
    expect(made).not.toHaveProperty('deletedAt');

    const profile = await asAda.query(api.users.getMyProfile, {});
    expect(profile).toEqual(made);
    expect(await asAda.mutation(api.users.ensureUser, {})).toEqual(made);
    expect(await t.query(api.users.all, {})).toHaveLength(1);
  });

  it('the synced row from the webhook is what getMyProfile returns', async () => {
    const t = newConvex();
    const created = await lk.api<{ id: string; updated_at: number }>('/v1/users', 'POST', {
      email_address: ['grace@example.com'], first_name: 'Grace', public_metadata: { role: 'admin' },
    });
    const [delivery] = await lk.deliveriesOf(created.id, 1);
    process.env.LATCHKEY_WEBHOOK_SECRET = lk.secret;
    try {
      const res = await t.fetch('/latchkey-webhook', { method: 'POST', headers: delivery!.headers, body: delivery!.body });
      expect(res.status).toBe(200);
    } finally {
      delete process.env.LATCHKEY_WEBHOOK_SECRET;
    }
    const asGrace = t.withIdentity(await lk.identityOf(created.id));
    expect(await asGrace.query(api.users.getMyProfile, {})).toMatchObject({
      latchkeyId: created.id, email: 'grace@example.com', firstName: 'Grace', role: 'admin', updatedAt: created.updated_at,
    });
    // ensureUser finds it and leaves it as it is.
    expect(await asGrace.mutation(api.users.ensureUser, {})).toMatchObject({ role: 'admin', updatedAt: created.updated_at });
  });
});
