import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/** Instance settings as the Frontend API applies them, and session activity on the injected clock. */
describe.each(dialects())('Frontend API and instance settings (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['set@example.com'], username: 'setter', password: 'a sturdy long password' } });
  });
  afterAll(() => server?.close());

  const settings = (json: Record<string, unknown>) => server.api('/v1/instance', { method: 'PATCH', json });
  const post = (path: string, json: unknown, token?: string) => nativeCall(server, 'POST', path, json, token);
  const signIn = (identifier: string) => post('/v1/client/sign_ins', { identifier, password: 'a sturdy long password' });

  it('sign_in_identifiers and first_factors decide how users may sign in', async () => {
    expect((await signIn('setter')).status).toBe(200);
    await settings({ sign_in_identifiers: ['email_address'] });
    expect((await signIn('setter')).status).toBe(422);
    expect((await signIn('set@example.com')).status).toBe(200);
    await settings({ first_factors: ['email_code'] });
    const refused = await signIn('set@example.com');
    expect(refused.body.errors[0].code).toBe('strategy_for_user_invalid');
    await settings({ first_factors: ['password'] });
    expect((await post('/v1/client/sign_ins/email_code', { identifier: 'set@example.com' })).body.errors[0].code).toBe('strategy_for_user_invalid');
    await settings({ first_factors: ['password', 'email_code'], sign_in_identifiers: ['email_address', 'username'] });
  });

  it('sign_up_required_fields and password_min_strength shape sign-up', async () => {
    await settings({ sign_up_required_fields: ['first_name', 'username'] });
    const missing = await post('/v1/client/sign_ups', { email_address: 'new@example.com', password: 'an entirely sturdy passphrase', first_name: 'N' });
    expect(missing.status).toBe(422);
    expect(missing.body.errors[0]).toMatchObject({ code: 'form_param_missing', meta: { param_name: 'username' } });
    // A taken username is refused before any code is sent.
    const takenName = await post('/v1/client/sign_ups', { email_address: 'other@example.com', password: 'an entirely sturdy passphrase', first_name: 'N', username: 'SETTER' });
    expect(takenName.body.errors[0]).toMatchObject({ code: 'form_identifier_exists', meta: { param_name: 'username' } });
    await settings({ sign_up_required_fields: [], password_min_strength: 0 });
    expect((await post('/v1/client/sign_ups', { email_address: 'new@example.com', password: 'password' })).status).toBe(200);
    await settings({ password_min_strength: 3 });
  });

  it('token requests keep a session alive past the inactivity timeout; a longer gap abandons it', async () => {
    await settings({ session_inactivity_timeout: 600 });
    const signedIn = await signIn('set@example.com');
    const sid = signedIn.body.response.created_session_id;
    const token = () => post(`/v1/client/sessions/${sid}/tokens`, {}, signedIn.token!);
    for (let i = 0; i < 4; i++) {
      clock.advance(5 * 60_000);
      expect((await token()).status, `refresh ${i}`).toBe(200);
    }
    // 20 minutes after sign-in, still active: activity moved abandon_at.
    const live = await (await server.api(`/v1/sessions/${sid}`)).json();
    expect(live.status).toBe('active');
    expect(live.abandon_at).toBe(live.last_active_at + 600_000);
    clock.advance(601_000);
    expect((await token()).status).toBe(422);
    expect((await (await server.api(`/v1/sessions/${sid}`)).json()).status).toBe('abandoned');
    await settings({ session_inactivity_timeout: 0 });
  });

  it('a signed-in session\'s tokens carry the first factor\'s age in minutes (fva); a Backend API session has none', async () => {
    const signedIn = await signIn('set@example.com');
    const sid = signedIn.body.response.created_session_id;
    const fva = async (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).fva;
    const mint = async () => (await post(`/v1/client/sessions/${sid}/tokens`, {}, signedIn.token!)).body.jwt as string;
    expect(await fva(await mint())).toEqual([0, -1]);
    clock.advance(5 * 60_000 + 59_000);
    expect(await fva(await mint())).toEqual([5, -1]);
    expect(await fva((await (await server.api(`/v1/sessions/${sid}/tokens`, { method: 'POST', json: {} })).json()).jwt)).toEqual([5, -1]);
    // Proving the password again (a password change needs the current one) starts the age again.
    const changed = await post('/v1/me/change_password', { current_password: 'a sturdy long password', new_password: 'a sturdy long password, renewed' }, signedIn.token!);
    expect(changed.status, JSON.stringify(changed.body)).toBe(200);
    expect(await fva(await mint())).toEqual([0, -1]);
    await post('/v1/me/change_password', { current_password: 'a sturdy long password, renewed', new_password: 'a sturdy long password' }, signedIn.token!);
    const user = (await (await server.api('/v1/users?email_address=set@example.com')).json())[0];
    const opened = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    expect(await fva((await (await server.api(`/v1/sessions/${opened.id}/tokens`, { method: 'POST', json: {} })).json()).jwt)).toEqual([-1, -1]);
  });

  it('an inactivity timeout shorter than the 30 s write interval still keeps a session in use alive', async () => {
    await settings({ session_inactivity_timeout: 4 });
    try {
      const signedIn = await signIn('set@example.com');
      const sid = signedIn.body.response.created_session_id;
      const token = () => post(`/v1/client/sessions/${sid}/tokens`, {}, signedIn.token!);
      for (let i = 0; i < 8; i++) {
        clock.advance(1_500);
        expect((await token()).status, `refresh ${i} at ${(i + 1) * 1.5} s`).toBe(200);
      }
      clock.advance(4_001);
      expect((await token()).status).toBe(422);
    } finally {
      await settings({ session_inactivity_timeout: 0 });
    }
  });
});

describe.each(dialects())('instance settings from the environment (%s)', (dialect) => {
  it('LATCHKEY_INSTANCE_SETTINGS is applied at start, over what is stored', async () => {
    const server = await startServer(dialect, { env: { LATCHKEY_INSTANCE_SETTINGS: '{"first_factors":["email_code"],"lockout_minutes":5}' } });
    try {
      const instance = await (await server.api('/v1/instance')).json();
      expect(instance).toMatchObject({ first_factors: ['email_code'], lockout_minutes: 5, lockout_max_attempts: 10 });
    } finally {
      await server.close();
    }
  });
});
