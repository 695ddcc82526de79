import { createClerkClient } from '@clerk/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';

/**
 * @clerk/backend does not export its resource classes, so "it deserialised into
 * the SDK's class" is checked by the class's name (`class _User`): raw JSON would
 * be a plain Object, and would lack getters such as `primaryEmailAddress`.
 */
function expectClass(value: unknown, name: 'User' | 'Session' | 'Token') {
  expect((value as object).constructor.name).toBe(`_${name}`);
}

/** The real @clerk/backend Backend API client, pointed at Latchkey by apiUrl alone. */
describe.each(dialects())('@clerk/backend client against Latchkey (%s)', (dialect) => {
  let server: TestServer;
  let clerk: ReturnType<typeof createClerkClient>;

  beforeAll(async () => {
    server = await startServer(dialect);
    clerk = createClerkClient({ secretKey: server.secretKey, apiUrl: server.url });
    // public_metadata.role must name a role in Latchkey's catalog. The catalog is Latchkey's own API (the SDK has
    // no call for it), so the roles these tests use are created with a plain fetch and the secret key.
    for (const [key, name] of [['admin', 'Admin'], ['user', 'User']]) {
      const res = await server.api('/v1/roles', { method: 'POST', json: { key, name } });
      expect(res.status).toBe(200);
    }
  });
  afterAll(() => server?.close());

  it('creates, reads and lists users as SDK classes, with totalCount', async () => {
    const created = await clerk.users.createUser({
      emailAddress: ['ada@example.com'],
      password: 'a long enough password',
      firstName: 'Ada',
      lastName: 'Lovelace',
      username: 'ada_l',
      externalId: 'ext-ada',
      publicMetadata: { role: 'admin' },
      skipPasswordChecks: false,
    });
    expectClass(created, 'User');
    expect(created.id).toMatch(/^user_[0-9A-Za-z]{27}$/);
    expect(created.primaryEmailAddress?.emailAddress).toBe('ada@example.com');
    expect(created.emailAddresses[0]?.verification?.status).toBe('verified');
    expect(created.passwordEnabled).toBe(true);
    expect(created.externalId).toBe('ext-ada');

    await clerk.users.createUser({ emailAddress: ['bob@example.com'], firstName: 'Bob', skipPasswordRequirement: true });

    const got = await clerk.users.getUser(created.id);
    expectClass(got, 'User');
    expect(got.username).toBe('ada_l');
    expect(got.publicMetadata).toEqual({ role: 'admin' });

    const list = await clerk.users.getUserList({ limit: 1, orderBy: '+created_at' });
    expect(list.totalCount).toBe(2);
    expect(list.data).toHaveLength(1);
    expectClass(list.data[0], 'User');
    expect(list.data[0]!.id).toBe(created.id);

    const byEmail = await clerk.users.getUserList({ emailAddress: ['BOB@example.com'] });
    expect(byEmail.totalCount).toBe(1);
    expect(byEmail.data[0]!.firstName).toBe('Bob');

    const byQuery = await clerk.users.getUserList({ query: 'lovel' });
    expect(byQuery.data.map((u) => u.id)).toEqual([created.id]);

    const byExternal = await clerk.users.getUserList({ externalId: ['ext-ada'] });
    expect(byExternal.data.map((u) => u.id)).toEqual([created.id]);
  });

  it('merges metadata deeply, deletes keys given null, and replaces with PUT', async () => {
    const u = await clerk.users.createUser({ emailAddress: ['meta@example.com'], publicMetadata: { role: 'user', prefs: { theme: 'dark', lang: 'en' } } });
    const merged = await clerk.users.updateUserMetadata(u.id, {
      publicMetadata: { prefs: { lang: null, size: 'xl' }, dbId: 42 } as never,
      privateMetadata: { stripe: 'cus_1' },
    });
    expectClass(merged, 'User');
    expect(merged.publicMetadata).toEqual({ role: 'user', prefs: { theme: 'dark', size: 'xl' }, dbId: 42 });
    expect(merged.privateMetadata).toEqual({ stripe: 'cus_1' });
    const deleted = await clerk.users.updateUserMetadata(u.id, { publicMetadata: { role: null } as never });
    expect(deleted.publicMetadata).toEqual({ prefs: { theme: 'dark', size: 'xl' }, dbId: 42 });
    const replaced = await clerk.users.replaceUserMetadata(u.id, { publicMetadata: { only: true } });
    expect(replaced.publicMetadata).toEqual({ only: true });
    expect(replaced.privateMetadata).toEqual({ stripe: 'cus_1' });
    expect(replaced.updatedAt).toBeGreaterThan(u.updatedAt);
    // replaceUserMetadata documents null for a whole document; it is emptied, and stays an object.
    const cleared = await clerk.users.replaceUserMetadata(u.id, { privateMetadata: null as never });
    expect(cleared.privateMetadata).toEqual({});
    expect(cleared.publicMetadata).toEqual({ only: true });
  });

  it('lists a user\'s email addresses and phone numbers in the order they were given, read back as created', async () => {
    for (let n = 0; n < 5; n++) {
      const emails = ['c', 'a', 'b'].map((x) => `order-${n}-${x}@example.com`);
      const phones = ['+1555555061', '+1555555060', '+1555555062'].map((p) => `${p}${n}`);
      const u = await clerk.users.createUser({ emailAddress: emails, phoneNumber: phones });
      const got = await clerk.users.getUser(u.id);
      expect(got.emailAddresses.map((e) => e.emailAddress)).toEqual(emails);
      expect(got.phoneNumbers.map((p) => p.phoneNumber)).toEqual(phones);
      expect(got.primaryEmailAddress?.emailAddress).toBe(emails[0]);
    }
  });

  it('refuses a weak password as Clerk does, creating or changing nothing; skipPasswordChecks takes it', async () => {
    const before = await snapshot(server.db);
    const weak = await clerk.users.createUser({ emailAddress: ['weakling@example.com'], password: 'weakling123' })
      .then(() => undefined, (e: unknown) => e as { status: number; errors: { code: string; meta?: { paramName?: string } }[] });
    expect(weak?.status).toBe(422);
    expect(weak?.errors[0]).toMatchObject({ code: 'form_password_not_strong_enough', meta: { paramName: 'password' } });
    expect(await snapshot(server.db)).toBe(before);

    const u = await clerk.users.createUser({ emailAddress: ['weakling@example.com'], password: 'weakling123', skipPasswordChecks: true });
    expect(u.passwordEnabled).toBe(true);
    const changed = await clerk.users.updateUser(u.id, { password: 'password1' })
      .then(() => undefined, (e: unknown) => e as { status: number; errors: { code: string }[] });
    expect(changed?.errors[0]?.code).toBe('form_password_not_strong_enough');
    expect((await clerk.users.updateUser(u.id, { password: 'a long and unguessable passphrase' })).passwordEnabled).toBe(true);
  });

  it('makes only a verified email address or phone number primary', async () => {
    const u = await clerk.users.createUser({
      emailAddress: ['prim-v@example.com', 'prim-r@example.com'], emailAddressIdentificationStatus: ['verified', 'reserved'],
      phoneNumber: ['+15555550401', '+15555550402'], phoneNumberIdentificationStatus: ['verified', 'reserved'],
    } as never);
    const reservedEmail = u.emailAddresses.find((e) => e.emailAddress === 'prim-r@example.com')!;
    const reservedPhone = u.phoneNumbers.find((p) => p.phoneNumber === '+15555550402')!;
    const before = await snapshot(server.db);
    for (const [params, param] of [
      [{ primaryEmailAddressID: reservedEmail.id }, 'primary_email_address_id'],
      [{ primaryPhoneNumberID: reservedPhone.id }, 'primary_phone_number_id'],
    ] as const) {
      const err = await clerk.users.updateUser(u.id, params).then(() => undefined, (e: unknown) => e as { status: number; errors: { meta?: { paramName?: string }; code: string }[] });
      expect(err?.status).toBe(422);
      expect(err?.errors[0]).toMatchObject({ meta: { paramName: param } });
      expect(err?.errors[0]?.code).toMatch(/_not_verified$/);
    }
    expect(await snapshot(server.db)).toBe(before);
    const other = u.emailAddresses.find((e) => e.emailAddress === 'prim-v@example.com')!;
    expect((await clerk.users.updateUser(u.id, { primaryEmailAddressID: other.id })).primaryEmailAddressId).toBe(other.id);
  });

  it('creates sessions, mints tokens, lists and revokes sessions; ban revokes all', async () => {
    const u = await clerk.users.createUser({ emailAddress: ['sess@example.com'] });
    const s1 = await clerk.sessions.createSession({ userId: u.id });
    expectClass(s1, 'Session');
    expect(s1.id).toMatch(/^sess_/);
    expect(s1.status).toBe('active');
    const s2 = await clerk.sessions.createSession({ userId: u.id });

    const token = await clerk.sessions.getToken(s1.id, undefined, 120);
    expectClass(token, 'Token');
    const [, payload] = token.jwt.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    expect(claims).toMatchObject({ sub: u.id, sid: s1.id, iss: server.url, v: 2, sts: 'active', fva: [-1, -1] });
    expect(claims.exp - claims.iat).toBe(120);

    const list = await clerk.sessions.getSessionList({ userId: u.id });
    expect(list.totalCount).toBe(2);
    for (const s of list.data) expectClass(s, 'Session');

    const revoked = await clerk.sessions.revokeSession(s1.id);
    expectClass(revoked, 'Session');
    expect(revoked.status).toBe('revoked');
    await expect(clerk.sessions.getToken(s1.id)).rejects.toMatchObject({ status: 422, errors: [{ code: 'session_not_active' }] });
    expect((await clerk.sessions.getSession(s2.id)).status).toBe('active');

    const banned = await clerk.users.banUser(u.id);
    expectClass(banned, 'User');
    expect(banned.banned).toBe(true);
    expect((await clerk.sessions.getSession(s2.id)).status).toBe('revoked');
    await expect(clerk.sessions.createSession({ userId: u.id })).rejects.toMatchObject({ status: 403 });
    const unbanned = await clerk.users.unbanUser(u.id);
    expect(unbanned.banned).toBe(false);

    const locked = await clerk.users.lockUser(u.id);
    expect(locked.locked).toBe(true);
    expect((await clerk.users.unlockUser(u.id)).locked).toBe(false);
  });

  it('deletes a user: DeletedObject, then 404; the tombstone keeps id and external_id only', async () => {
    const u = await clerk.users.createUser({ emailAddress: ['gone@example.com'], externalId: 'ext-gone', firstName: 'Gone', publicMetadata: { a: 1 } });
    const s = await clerk.sessions.createSession({ userId: u.id });
    const res = await clerk.users.deleteUser(u.id);
    expect(res).toMatchObject({ id: u.id, deleted: true, object: 'user' });
    await expect(clerk.users.getUser(u.id)).rejects.toMatchObject({ status: 404, errors: [{ code: 'resource_not_found' }] });
    expect((await clerk.sessions.getSession(s.id)).status).toBe('removed');
    const row = await server.db.selectFrom('users').selectAll().where('id', '=', u.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ external_id: 'ext-gone', first_name: null, public_metadata: '{}', password_digest: null });
    expect(row.deleted_at).toBeTypeOf('number');
    const emails = await server.db.selectFrom('email_addresses').selectAll().where('user_id', '=', u.id).execute();
    expect(emails).toEqual([]);
    // The address is free again.
    const again = await clerk.users.createUser({ emailAddress: ['gone@example.com'], externalId: 'ext-gone' });
    expect(again.id).not.toBe(u.id);
  });

  it('answers errors in the shape the SDK parses', async () => {
    await clerk.users.createUser({ emailAddress: ['dup@example.com'] });
    await expect(clerk.users.createUser({ emailAddress: ['Dup@Example.com'] })).rejects.toMatchObject({
      status: 422,
      errors: [{ code: 'form_identifier_exists', meta: { paramName: 'email_address' } }],
    });
    await expect(clerk.users.createUser({ emailAddress: ['short@example.com'], password: 'short' })).rejects.toMatchObject({
      status: 422,
      errors: [{ code: 'form_password_length_too_short' }],
    });
  });
});
