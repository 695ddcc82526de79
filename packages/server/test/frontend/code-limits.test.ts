import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * The limits that make 6-digit email codes and a signed-in session safe to
 * offer: guesses counted per address across codes, codes per address, the
 * sign-in code cool-down keyed on what was typed, and current-password checks.
 * Small buckets here so each limit is reached in a few calls.
 */
const LIMITS = {
  signInPerIp: { points: 1000, durationSec: 60 },
  codeAttemptsPerIdentifier: { points: 7, durationSec: 3600 },
  codesSentPerIdentifier: { points: 3, durationSec: 3600 },
  passwordChecksPerUser: { points: 3, durationSec: 600 },
};
const PASSWORD = 'a sturdy long password';

describe.each(dialects())('email-code and password-check limits (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: JSON.stringify(LIMITS) } });
  });
  afterAll(() => server?.close());

  const call = (method: string, path: string, json?: unknown, token?: string) => nativeCall(server, method, path, json, token);

  async function signedIn(email: string, username?: string) {
    await server.api('/v1/users', { method: 'POST', json: { email_address: [email], password: PASSWORD, ...(username ? { username } : {}) } });
    const res = await call('POST', '/v1/client/sign_ins', { identifier: email, password: PASSWORD });
    expect(res.status).toBe(200);
    return (method: string, path: string, json?: unknown) => call(method, path, json, res.token);
  }

  async function mails(to: string): Promise<string[]> {
    const list = await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent(to)}`)).json();
    return list.data.map((m: { body: string }) => /\b(\d{6})\b/.exec(m.body)![1]!);
  }
  const wrong = (code: string) => (code === '123456' ? '654321' : '123456');
  const addressOf = async (me: Awaited<ReturnType<typeof signedIn>>, address: string) =>
    (await me('GET', '/v1/me')).body.email_addresses.find((e: { email_address: string }) => e.email_address === address);

  it('a re-added address gets a new code but no new guesses', async () => {
    const me = await signedIn('guesser@example.com');
    const target = 'taken-over@example.com';
    let added = await me('POST', '/v1/me/email_addresses', { email_address: target });
    expect(added.status).toBe(200);
    const [first] = await mails(target);
    for (let i = 0; i < 5; i++) {
      expect((await me('POST', `/v1/me/email_addresses/${added.body.email_address_id}/attempt_verification`, { code: wrong(first!) })).status).toBe(422);
    }
    // The code is dead; removing the address and adding it again issues a new one...
    expect((await me('DELETE', `/v1/me/email_addresses/${added.body.email_address_id}`)).status).toBe(200);
    added = await me('POST', '/v1/me/email_addresses', { email_address: target });
    expect(added.status).toBe(200);
    const [fresh] = await mails(target);
    const attempt = (code: string) => me('POST', `/v1/me/email_addresses/${added.body.email_address_id}/attempt_verification`, { code });
    expect((await attempt(wrong(fresh!))).status).toBe(422);
    expect((await attempt(wrong(fresh!))).status).toBe(422);
    // ...but the address has had its 7 guesses: even the right code waits, and nothing is verified.
    const refused = await attempt(fresh!);
    expect(refused.status).toBe(429);
    expect(refused.body.errors[0].code).toBe('too_many_requests');
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    expect((await addressOf(me, target)).verification?.status).not.toBe('verified');
  });

  it('an address gets at most so many codes, however often it is added', async () => {
    const me = await signedIn('adder@example.com');
    const target = 'flooded@example.com';
    for (let i = 0; i < 3; i++) {
      const added = await me('POST', '/v1/me/email_addresses', { email_address: target });
      expect(added.status).toBe(200);
      expect((await me('DELETE', `/v1/me/email_addresses/${added.body.email_address_id}`)).status).toBe(200);
    }
    const refused = await me('POST', '/v1/me/email_addresses', { email_address: target });
    expect(refused.status).toBe(429);
    expect(await addressOf(me, target)).toBeUndefined();
    expect(await mails(target)).toHaveLength(3);
  });

  it('sign-in code guesses count past the code, for known and unknown identifiers alike', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['coded@example.com'] } });
    const statuses = async (identifier: string) => {
      const asked = await call('POST', '/v1/client/sign_ins/email_code', { identifier });
      expect(asked.status).toBe(200);
      const out: string[] = [];
      for (let i = 0; i < 8; i++) {
        const res = await call('POST', '/v1/client/sign_ins/email_code/attempt', { identifier, code: '000000' }, asked.token);
        out.push(`${res.status} ${res.body.errors[0].code}`);
      }
      return out;
    };
    const known = await statuses('coded@example.com');
    // (000000 being the real code, a one-in-a-million chance, would fail this; rerun.)
    expect(known).toEqual([
      ...Array(5).fill('422 form_code_incorrect'), '422 verification_failed', '422 verification_failed', '429 too_many_requests',
    ]);
    expect(await statuses('nobody-here@example.com')).toEqual(known);
  });

  it('the sign-in code cool-down follows what was typed, so an account\'s two spellings wait like two unknown identifiers', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['spelt@example.com'], username: 'spelt_twice' } });
    const ask = async (identifier: string) => (await call('POST', '/v1/client/sign_ins/email_code', { identifier })).status;
    expect([await ask('spelt_twice'), await ask('spelt@example.com')]).toEqual([200, 200]);
    expect([await ask('ghost_twice'), await ask('ghost-twice@example.com')]).toEqual([200, 200]);
    // The same spelling again, inside 30 s: refused alike.
    expect([await ask('spelt_twice'), await ask('ghost_twice')]).toEqual([429, 429]);
  });

  it('the cool-down reads the identifier as the lookup does: spaces around it or capitals are not a new spelling', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['padded@example.com'] } });
    const ask = async (identifier: string) => (await call('POST', '/v1/client/sign_ins/email_code', { identifier })).status;
    expect(await ask('padded@example.com')).toBe(200);
    expect([await ask(' padded@example.com'), await ask('  PADDED@example.com '), await ask('padded@example.com')]).toEqual([429, 429, 429]);
    expect(await mails('padded@example.com')).toHaveLength(1);
  });

  it('current-password checks through a session are limited: after 3, the right password waits too', async () => {
    const me = await signedIn('changer@example.com');
    for (let i = 0; i < 3; i++) {
      expect((await me('POST', '/v1/me/change_password', { current_password: `guess ${i}`, new_password: 'a brand new passphrase 42' })).status).toBe(422);
    }
    const refused = await me('POST', '/v1/me/change_password', { current_password: PASSWORD, new_password: 'a brand new passphrase 42' });
    expect(refused.status).toBe(429);
    // Unchanged: the old password still signs in.
    expect((await call('POST', '/v1/client/sign_ins', { identifier: 'changer@example.com', password: PASSWORD })).status).toBe(200);
  });

  it('a sign-up with oversized unsafe_metadata is refused at the start: nothing stored, no code spent or sent', async () => {
    const before = (await server.db.selectFrom('sign_ups').select('id').execute()).length;
    const res = await call('POST', '/v1/client/sign_ups', {
      email_address: 'big-meta@example.com', password: 'a long and lovely passphrase', unsafe_metadata: { blob: 'x'.repeat(9000) },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors[0]).toMatchObject({ code: 'form_param_value_too_large', meta: { param_name: 'unsafe_metadata' } });
    expect((await server.db.selectFrom('sign_ups').select('id').execute()).length).toBe(before);
    expect(await mails('big-meta@example.com')).toEqual([]);
  });
});
