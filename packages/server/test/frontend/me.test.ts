import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeFor } from '../support/dev-outbox.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/** /v1/me: the signed-in user's own account, as a native client. */
describe.each(dialects())('/v1/me (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  async function signedIn(email: string, password = 'a sturdy long password') {
    await server.api('/v1/users', { method: 'POST', json: { email_address: [email], password, first_name: 'Mia' } });
    const res = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' }, body: JSON.stringify({ identifier: email, password }),
    });
    const token = res.headers.get('latchkey-client-token')!;
    const sid = (await res.json()).response.created_session_id as string;
    const call = async (method: string, path: string, json?: unknown) => {
      const r = await fetch(`${server.url}${path}`, {
        method, headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
        body: json === undefined ? undefined : JSON.stringify(json),
      });
      return { status: r.status, body: await r.json() };
    };
    return { call, sid };
  }

  it('reads and updates the profile; private_metadata never reaches the end user', async () => {
    const { call } = await signedIn('me@example.com');
    const me = (await call('GET', '/v1/me')).body;
    expect(me).toMatchObject({ object: 'user', first_name: 'Mia' });
    await server.api(`/v1/users/${me.id}/metadata`, { method: 'PATCH', json: { private_metadata: { stripe: 'cus_secret' } } });
    expect((await call('GET', '/v1/me')).body).not.toHaveProperty('private_metadata');
    const client = (await call('GET', '/v1/client')).body;
    expect(JSON.stringify(client)).not.toContain('cus_secret');
    const updated = await call('PATCH', '/v1/me', { first_name: 'Mina', username: 'Mina_K', unsafe_metadata: { theme: 'dark' } });
    expect(updated.body).toMatchObject({ first_name: 'Mina', username: 'mina_k', unsafe_metadata: { theme: 'dark' } });
    expect((await call('PATCH', '/v1/me', { public_metadata: { role: 'admin' } })).status).toBe(422);
    expect((await fetch(`${server.url}/v1/me`)).status).toBe(401);
  });

  it('a field the instance requires, or the only identifier that signs in, cannot be removed; nothing changes', async () => {
    const { call } = await signedIn('keep@example.com');
    await call('PATCH', '/v1/me', { username: 'keeper', last_name: 'Stays' });
    const settings = { sign_up_required_fields: ['first_name'], sign_in_identifiers: ['username'] };
    expect((await server.api('/v1/instance', { method: 'PATCH', json: settings })).status).toBe(200);
    try {
      for (const [field, value] of [['first_name', null], ['first_name', ''], ['username', null]] as const) {
        const refused = await call('PATCH', '/v1/me', { [field]: value });
        expect(refused.status, `${field} = ${JSON.stringify(value)}`).toBe(422);
        expect(refused.body.errors[0]).toMatchObject({ code: 'form_param_value_invalid', meta: { param_name: field } });
      }
      expect((await call('GET', '/v1/me')).body).toMatchObject({ first_name: 'Mia', username: 'keeper' });
      // What is not required may go.
      expect((await call('PATCH', '/v1/me', { last_name: null })).body).toMatchObject({ last_name: null, first_name: 'Mia' });
    } finally {
      await server.api('/v1/instance', { method: 'PATCH', json: { sign_up_required_fields: [], sign_in_identifiers: ['email_address', 'username'] } });
    }
  });

  it('changes the password with the current one, optionally signing out other sessions', async () => {
    const first = await signedIn('pw@example.com');
    const second = await (async () => {
      const res = await fetch(`${server.url}/v1/client/sign_ins`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' },
        body: JSON.stringify({ identifier: 'pw@example.com', password: 'a sturdy long password' }),
      });
      return (await res.json()).response.created_session_id as string;
    })();
    const wrong = await first.call('POST', '/v1/me/change_password', { current_password: 'nope', new_password: 'another sturdy passphrase' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors[0].meta.param_name).toBe('current_password');
    const weak = await first.call('POST', '/v1/me/change_password', { current_password: 'a sturdy long password', new_password: 'password1' });
    expect(weak.body.errors[0].meta.param_name).toBe('new_password');
    const ok = await first.call('POST', '/v1/me/change_password', {
      current_password: 'a sturdy long password', new_password: 'another sturdy passphrase', sign_out_of_other_sessions: true,
    });
    expect(ok.status).toBe(200);
    expect((await (await server.api(`/v1/sessions/${second}`)).json()).status).toBe('revoked');
    expect((await (await server.api(`/v1/sessions/${first.sid}`)).json()).status).toBe('active');
  });

  it('lists sessions on other devices and revokes one; another user\'s session is not found', async () => {
    const a = await signedIn('devices@example.com');
    const b = await signedIn('devices@example.com'.replace('devices', 'devices2'));
    const other = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' },
      body: JSON.stringify({ identifier: 'devices@example.com', password: 'a sturdy long password' }),
    });
    const otherSid = (await other.json()).response.created_session_id;
    const list = await a.call('GET', '/v1/me/sessions');
    expect(list.body.data.map((x: { id: string; current: boolean }) => [x.id, x.current]).sort()).toEqual([[a.sid, true], [otherSid, false]].sort());
    expect((await a.call('POST', `/v1/me/sessions/${otherSid}/revoke`, {})).body.status).toBe('revoked');
    expect((await a.call('POST', `/v1/me/sessions/${b.sid}/revoke`, {})).status).toBe(404);
  });

  it('adds, verifies, makes primary and removes email addresses', async () => {
    const { call } = await signedIn('first@example.com');
    const added = await call('POST', '/v1/me/email_addresses', { email_address: 'second@example.com' });
    expect(added.status).toBe(200);
    const id = added.body.email_address_id;
    expect((await call('POST', `/v1/me/email_addresses/${id}/make_primary`, {})).body.errors[0].code).toBe('email_address_not_verified');
    const code = await codeFor(server, 'second@example.com', 'verification_code');
    const verified = await call('POST', `/v1/me/email_addresses/${id}/attempt_verification`, { code });
    expect(verified.body.email_addresses.find((e: { id: string }) => e.id === id).verification.status).toBe('verified');
    const primary = await call('POST', `/v1/me/email_addresses/${id}/make_primary`, {});
    expect(primary.body.primary_email_address_id).toBe(id);
    const firstId = primary.body.email_addresses.find((e: { email_address: string }) => e.email_address === 'first@example.com').id;
    expect((await call('DELETE', `/v1/me/email_addresses/${id}`)).body.errors[0].code).toBe('primary_email_address_undeletable');
    const removed = await call('DELETE', `/v1/me/email_addresses/${firstId}`);
    expect(removed.body.email_addresses.map((e: { email_address: string }) => e.email_address)).toEqual(['second@example.com']);
    expect((await call('POST', '/v1/me/email_addresses', { email_address: 'SECOND@example.com' })).body.errors[0].code).toBe('form_identifier_exists');
  });

  it('acts as the session GET /v1/client shows active: ending the active one of two falls back to the other', async () => {
    const password = 'a sturdy long password';
    for (const email of ['carol@example.com', 'dave@example.com']) await server.api('/v1/users', { method: 'POST', json: { email_address: [email], password } });
    const carol = await nativeCall(server, 'POST', '/v1/client/sign_ins', { identifier: 'carol@example.com', password });
    const dave = await nativeCall(server, 'POST', '/v1/client/sign_ins', { identifier: 'dave@example.com', password }, carol.token);
    const token = dave.token!;
    expect((await nativeCall(server, 'GET', '/v1/me', undefined, token)).body.email_addresses[0].email_address).toBe('dave@example.com');
    const ended = await nativeCall(server, 'POST', `/v1/client/sessions/${dave.body.response.created_session_id}/end`, {}, token);
    expect(ended.body.client.last_active_session_id).toBe(carol.body.response.created_session_id);
    const me = await nativeCall(server, 'GET', '/v1/me', undefined, token);
    expect(me.status).toBe(200);
    expect(me.body.email_addresses[0].email_address).toBe('carol@example.com');
  });

  it('refuses a user locked through the Backend API, as the token endpoint does (403 user_locked), until unlocked', async () => {
    // (A ban revokes the sessions, so /v1/me answers 401 then.)
    const { call, sid } = await signedIn('suspended@example.com');
    const id = (await call('GET', '/v1/me')).body.id as string;
    expect((await server.api(`/v1/users/${id}/lock`, { method: 'POST' })).status).toBe(200);
    const refused = await call('PATCH', '/v1/me', { first_name: 'Sneaky' });
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0].code).toBe('user_locked');
    expect((await call('GET', '/v1/me')).status).toBe(403);
    expect((await call('POST', `/v1/client/sessions/${sid}/tokens`, {})).status).toBe(403);
    expect((await server.api(`/v1/users/${id}/unlock`, { method: 'POST' })).status).toBe(200);
    expect((await call('GET', '/v1/me')).body.first_name).toBe('Mia');
  });

  it('deletes the own account when allowed', async () => {
    const { call } = await signedIn('leaving@example.com');
    const me = (await call('GET', '/v1/me')).body;
    await server.api(`/v1/users/${me.id}`, { method: 'PATCH', json: { delete_self_enabled: false } });
    expect((await call('DELETE', '/v1/me')).status).toBe(403);
    await server.api(`/v1/users/${me.id}`, { method: 'PATCH', json: { delete_self_enabled: true } });
    await server.api('/v1/instance', { method: 'PATCH', json: { allow_self_delete: false } });
    expect((await call('DELETE', '/v1/me')).status).toBe(403);
    await server.api('/v1/instance', { method: 'PATCH', json: { allow_self_delete: true } });
    expect((await call('DELETE', '/v1/me')).body).toEqual({ object: 'user', id: me.id, deleted: true });
    expect((await server.api(`/v1/users/${me.id}`)).status).toBe(404);
    expect((await call('GET', '/v1/me')).status).toBe(401);
  });
});
