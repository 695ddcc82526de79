import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeFor as codeFromOutbox } from '../support/dev-outbox.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/** Passwordless sign-in and password reset by email code, read from the development outbox. */
describe.each(dialects())('email-code sign-in and password reset (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    // Every call comes from one address: room for this suite's calls under the per-IP sign-in bucket.
    server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":100,"durationSec":60}}' } });
  });
  afterAll(() => server?.close());

  const native = (path: string, json: unknown, token?: string) => nativeCall(server, 'POST', path, json, token);

  const codeFor = (to: string, kind: string) => codeFromOutbox(server, to, kind);

  const withoutIdentifier = (body: { response: Record<string, unknown> }) => {
    const { identifier: _i, ...rest } = body.response;
    return rest;
  };

  it('signs in with an emailed code; unknown identifiers get the same answers', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['coder@example.com'] } });
    const known = await native('/v1/client/sign_ins/email_code', { identifier: 'coder@example.com' });
    const unknown = await native('/v1/client/sign_ins/email_code', { identifier: 'ghost@example.com' });
    expect(known.status).toBe(200);
    expect(unknown.status).toBe(200);
    expect(withoutIdentifier(unknown.body)).toEqual(withoutIdentifier(known.body));

    const wrongKnown = await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'coder@example.com', code: '000000' }, known.token!);
    const wrongUnknown = await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'ghost@example.com', code: '000000' }, unknown.token!);
    // (A 1-in-a-million chance that 000000 is the real code would fail this; rerun.)
    expect(wrongKnown.status).toBe(422);
    expect(wrongUnknown.status).toBe(wrongKnown.status);
    expect(wrongUnknown.body.errors).toEqual(wrongKnown.body.errors);

    // A second request inside the cool-down is refused alike.
    const againKnown = await native('/v1/client/sign_ins/email_code', { identifier: 'coder@example.com' }, known.token!);
    const againUnknown = await native('/v1/client/sign_ins/email_code', { identifier: 'ghost@example.com' }, unknown.token!);
    expect(againKnown.status).toBe(429);
    expect(againUnknown.status).toBe(429);

    const code = await codeFor('coder@example.com', 'sign_in');
    const done = await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'CODER@example.com', code }, known.token!);
    expect(done.status).toBe(200);
    const sid = done.body.response.created_session_id;
    expect(done.body.client.sessions.map((s: { id: string }) => s.id)).toEqual([sid]);
    // The code is spent (asked with the client's new token: the sign-in replaced the old one).
    expect(done.token).not.toBe(known.token);
    expect((await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'coder@example.com', code }, done.token!)).status).toBe(422);
    expect(await server.db.selectFrom('dev_emails').select('to_address').where('to_address', 'like', 'ghost%').execute()).toEqual([]);
  });

  it('resets a password by code: weak passwords refused first, other sessions revoked, the new password works', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['forgot@example.com'], password: 'my old long password' } });
    const old = await native('/v1/client/sign_ins', { identifier: 'forgot@example.com', password: 'my old long password' });
    const oldSid = old.body.response.created_session_id;

    const known = await native('/v1/client/password_resets', { identifier: 'forgot@example.com' });
    const unknown = await native('/v1/client/password_resets', { identifier: 'nobody-here@example.com' });
    expect(unknown.status).toBe(known.status);
    expect(withoutIdentifier(unknown.body)).toEqual(withoutIdentifier(known.body));

    const code = await codeFor('forgot@example.com', 'reset_password');
    const weak = await native('/v1/client/password_resets/attempt', { identifier: 'forgot@example.com', code, password: 'password1' }, known.token!);
    expect(weak.status).toBe(422);
    expect(weak.body.errors[0].meta.param_name).toBe('password');

    const reset = await native('/v1/client/password_resets/attempt', { identifier: 'forgot@example.com', code, password: 'a brand new long passphrase' }, known.token!);
    expect(reset.status).toBe(200);
    expect((await (await server.api(`/v1/sessions/${oldSid}`)).json()).status).toBe('revoked');
    expect((await native('/v1/client/sign_ins', { identifier: 'forgot@example.com', password: 'my old long password' })).status).toBe(422);
    expect((await native('/v1/client/sign_ins', { identifier: 'forgot@example.com', password: 'a brand new long passphrase' })).status).toBe(200);
  });

  it('a code proves only the identifier it was asked with: under the account\'s other one it answers as for an unknown identifier', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['two-names@example.com'], username: 'two_names', password: 'my old long password' } });
    for (const [purpose, path, kind] of [['sign_in', '/v1/client/sign_ins/email_code', 'sign_in'], ['reset', '/v1/client/password_resets', 'reset_password']] as const) {
      const asked = await native(path, { identifier: 'two-names@example.com' });
      expect(asked.status).toBe(200);
      const code = await codeFor('two-names@example.com', kind);
      const attempt = (identifier: string, c: string) => native(`${path}/attempt`,
        { identifier, code: c, ...(purpose === 'reset' ? { password: 'a brand new long passphrase' } : {}) }, asked.token!);
      // Before: a wrong code under the username said form_code_incorrect (a code is live
      // for this account), where an unknown identifier says verification_expired.
      const wrongOther = await attempt('two_names', '000000');
      const wrongUnknown = await attempt('nobody_by_that_name', '000000');
      expect(wrongOther.status).toBe(422);
      expect(wrongOther.body.errors).toEqual(wrongUnknown.body.errors);
      expect(wrongOther.body.errors[0].code).toBe('verification_expired');
      // The right code under the other identifier does not sign in either, and costs the code nothing.
      expect((await attempt('two_names', code)).body.errors[0].code).toBe('verification_expired');
      const done = await attempt(' Two-Names@Example.com', code);
      expect(done.status, purpose).toBe(200);
    }
  });

  it('asking under one identifier does not void the code asked under the account\'s other one (that would link them)', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['linked@example.com'], username: 'linked_name' } });
    const byEmail = await native('/v1/client/sign_ins/email_code', { identifier: 'linked@example.com' });
    const emailCode = await codeFor('linked@example.com', 'sign_in');
    const byName = await native('/v1/client/sign_ins/email_code', { identifier: 'linked_name' });
    expect(byName.status).toBe(200);
    // As for two unrelated identifiers: the email's code is still live.
    const notIt = emailCode === '000000' ? '111111' : '000000';
    const wrong = await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'linked@example.com', code: notIt }, byEmail.token!);
    expect(wrong.body.errors[0].code).toBe('form_code_incorrect');
    const done = await native('/v1/client/sign_ins/email_code/attempt', { identifier: 'linked@example.com', code: emailCode }, byEmail.token!);
    expect(done.status).toBe(200);
  });

  it('a banned user\'s reset is refused before anything changes', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['banned-reset@example.com'], password: 'my old long password' } })).json();
    await server.api(`/v1/users/${user.id}/ban`, { method: 'POST' });
    const started = await native('/v1/client/password_resets', { identifier: 'banned-reset@example.com' });
    const code = await codeFor('banned-reset@example.com', 'reset_password');
    const before = await server.db.selectFrom('users').select(['password_digest', 'updated_at']).where('id', '=', user.id).executeTakeFirstOrThrow();
    const res = await native('/v1/client/password_resets/attempt', { identifier: 'banned-reset@example.com', code, password: 'a brand new long passphrase' }, started.token!);
    expect(res.status).toBe(403);
    expect(await server.db.selectFrom('users').select(['password_digest', 'updated_at']).where('id', '=', user.id).executeTakeFirstOrThrow()).toEqual(before);
  });
});
