import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/**
 * DELETE /v1/users/{id} keeps a tombstone (id, external_id, deleted_at) and
 * erases the PII in the same transaction: nothing about the person stays in the
 * users row (ban reason included), in the sign-up that created them, or in the
 * one-time codes sent to them, and user.deleted carries Clerk's deleted-object
 * shape with no PII.
 */

const PASSWORD = 'a long and lovely passphrase';
const EMAIL = 'dana.deleted@example.com';

interface FeedEvent {
  sequence: number;
  type: string;
  data: Record<string, unknown> & { id: string };
}

describe.each(dialects())('user deletion erases the PII everywhere (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  /** A native client (Bearer client token) on the Frontend API. */
  const frontend = async (path: string, json: unknown, token?: string) => {
    const res = await fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'latchkey-native': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(json),
    });
    return { status: res.status, body: await res.json(), token: res.headers.get('latchkey-client-token') ?? token };
  };
  /** The newest code mailed to EMAIL once there are `count` mails (the dev outbox is newest first). */
  const codeNumber = (count: number) => waitFor(`mail #${count} in the dev outbox`, async () => {
    const { data } = await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent(EMAIL)}`)).json();
    return data.length >= count ? /\b(\d{6})\b/.exec(data[0].body)![1]! : undefined;
  });
  const events = async (after: number, types: string): Promise<FeedEvent[]> => {
    const out: FeedEvent[] = [];
    for (;;) {
      const page = await (await server.api(`/v1/events?after=${after}&limit=500&types=${types}`)).json();
      out.push(...page.data);
      after = page.next_after;
      if (!page.has_more) return out;
    }
  };
  const call = async (method: string, path: string, json?: unknown) => {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    return { status: res.status, body: await res.json() };
  };

  it('leaves no sign-up, code, ban reason or metadata behind, and user.deleted is the bare deleted object', async () => {
    // Signed up through the Frontend API, so a completed sign-up row names them.
    const started = await frontend('/v1/client/sign_ups', {
      email_address: EMAIL, password: PASSWORD, first_name: 'Dana', last_name: 'Deletedottir', username: 'dana_deleted',
      unsafe_metadata: { favourite: 'unsafe-secret' },
    });
    expect(started.status, JSON.stringify(started.body)).toBe(200);
    const signUpId = started.body.response.id as string;
    const verified = await frontend(`/v1/client/sign_ups/${signUpId}/attempt_verification`, { code: await codeNumber(1) }, started.token!);
    expect(verified.status, JSON.stringify(verified.body)).toBe(200);
    const userId = verified.body.response.created_user_id as string;
    expect(userId).toMatch(/^user_/);

    // A sign-in code (its subject is the user id), metadata, an external id and a ban with a reason.
    expect((await frontend('/v1/client/sign_ins/email_code', { identifier: EMAIL })).status).toBe(200);
    await codeNumber(2);
    const patched = await call('PATCH', `/v1/users/${userId}`, {
      external_id: 'ext-dana', public_metadata: { role_note: 'public-secret' }, private_metadata: { ssn: 'private-secret' },
    });
    expect(patched.status, JSON.stringify(patched.body)).toBe(200);
    const until = Date.now() + 3_600_000;
    const banned = await call('POST', `/v1/users/${userId}/ban`, { reason: 'Dana Deletedottir harassed dana.deleted@example.com', until });
    expect(banned.status, JSON.stringify(banned.body)).toBe(200);
    const emailIds = (await server.db.selectFrom('email_addresses').select('id').where('user_id', '=', userId).execute()).map((r) => r.id);
    expect(emailIds).toHaveLength(1);
    expect(await server.db.selectFrom('sign_ups').select('id').where('created_user_id', '=', userId).execute()).toHaveLength(1);
    const subjects = [userId, signUpId, ...emailIds];
    expect((await server.db.selectFrom('email_codes').select('id').where('subject_id', 'in', subjects).execute()).length).toBeGreaterThan(0);
    const since = (await events(0, 'user.created')).at(-1)!.sequence;

    const deleted = await call('DELETE', `/v1/users/${userId}`);
    expect(deleted.status, JSON.stringify(deleted.body)).toBe(200);
    expect(deleted.body).toEqual({ object: 'user', id: userId, deleted: true });
    expect((await server.api(`/v1/users/${userId}`)).status).toBe(404);

    // The tombstone: id, external_id, deleted_at; no PII, no ban (reason, until) and no lock.
    const row = await server.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    expect.soft(row).toMatchObject({
      id: userId, external_id: 'ext-dana', deleted_at: expect.any(Number),
      username: null, first_name: null, last_name: null, image_url: null, password_digest: null, password_hasher: null,
      public_metadata: '{}', private_metadata: '{}', unsafe_metadata: '{}',
      ban_reason: null, banned_until: null, banned: 0, locked: 0, locked_until: null,
    });

    // The sign-up that created the user is gone, and with it the email, names, username and unsafe metadata.
    expect.soft(await server.db.selectFrom('sign_ups').select('id').where('created_user_id', '=', userId).execute()).toEqual([]);
    expect.soft(await server.db.selectFrom('sign_ups').select('id')
      .where((eb) => eb.or([eb('email_address', '=', EMAIL), eb('first_name', '=', 'Dana'), eb('username', '=', 'dana_deleted'), eb('id', '=', signUpId)]))
      .execute()).toEqual([]);
    // So are the one-time codes sent to them (sign-up, sign-in).
    expect.soft(await server.db.selectFrom('email_codes').select('id').where('subject_id', 'in', subjects).execute()).toEqual([]);

    // user.deleted: Clerk's deleted object (plus Latchkey's external_id and version), no metadata, no PII.
    const [event, ...more] = await events(since, 'user.deleted');
    expect(more).toEqual([]);
    expect.soft(event!.data).toEqual({ object: 'user', id: userId, deleted: true, external_id: 'ext-dana', updated_at: row.updated_at });
    const stored = await server.db.selectFrom('events').select('data').where('type', '=', 'user.deleted').where('user_id', '=', userId).executeTakeFirstOrThrow();
    for (const pii of ['public-secret', 'private-secret', 'unsafe-secret', 'Dana', 'dana.deleted', 'harassed', 'metadata']) {
      expect.soft(stored.data, pii).not.toContain(pii);
    }
  });
});
