import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { codeFor } from '../support/dev-outbox.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, snapshot, startServer, type DialectName, type TestServer } from '../support/server.js';

/** A server on a manual clock that locks an account out after 3 wrong passwords for 15 minutes, and a native password sign-in on it. */
function lockoutServer(dialect: DialectName) {
  const clock = new ManualClock(Date.now());
  const ctx = { clock, server: undefined as unknown as TestServer, signIn: (identifier: string, password: string) =>
    fetch(`${ctx.server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' }, body: JSON.stringify({ identifier, password }),
    }) };
  beforeAll(async () => {
    ctx.server = await startServer(dialect, { clock });
    await ctx.server.api('/v1/instance', { method: 'PATCH', json: { lockout_max_attempts: 3, lockout_minutes: 15 } });
  });
  afterAll(() => ctx.server?.close());
  return ctx;
}

/** Lockout, rate limits and password strength on the Frontend API, on the injected clock. */
describe.each(dialects())('Frontend API abuse protection (%s)', (dialect) => {
  const ctx = lockoutServer(dialect);
  const { clock, signIn } = ctx;
  let server: TestServer;
  beforeAll(() => {
    server = ctx.server;
  });

  it('locks after N wrong passwords: the right one is refused while locked and accepted after M minutes', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['lock@example.com'], password: 'the right password!' } })).json();
    for (let i = 0; i < 3; i++) expect((await signIn('lock@example.com', `wrong ${i}`)).status).toBe(422);
    const locked = await signIn('lock@example.com', 'the right password!');
    expect(locked.status).toBe(403);
    const body = await locked.json();
    expect(body.errors[0]).toMatchObject({ code: 'user_locked', meta: { lockout_expires_in_seconds: 900 } });
    const shown = await (await server.api(`/v1/users/${user.id}`)).json();
    expect(shown).toMatchObject({ locked: true, lockout_expires_in_seconds: 900 });

    clock.advance(14 * 60_000);
    expect((await signIn('lock@example.com', 'the right password!')).status).toBe(403);
    clock.advance(60_000);
    expect((await (await server.api(`/v1/users/${user.id}`)).json()).locked).toBe(false);
    const ok = await signIn('lock@example.com', 'the right password!');
    expect(ok.status).toBe(200);
    const row = await server.db.selectFrom('users').select(['failed_attempts', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_attempts: 0, locked_until: null });
  });

  it('a lockout refuses a new session through the Backend API too, changing nothing; sessions already open keep getting tokens', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['lockapi@example.com'], password: 'the right password!' } })).json();
    const open = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    for (let i = 0; i < 3; i++) await signIn('lockapi@example.com', 'nope');
    const before = await snapshot(server.db);
    const refused = await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } });
    expect(refused.status).toBe(403);
    expect((await refused.json()).errors[0]).toMatchObject({ code: 'user_locked', meta: { lockout_expires_in_seconds: 900 } });
    expect(await snapshot(server.db)).toBe(before);
    // Ten wrong guesses must not sign the owner out everywhere: the lockout guards the ways in only.
    expect((await server.api(`/v1/sessions/${open.id}/tokens`, { method: 'POST', json: {} })).status).toBe(200);
    clock.advance(15 * 60_000);
    expect((await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).status).toBe(200);
  });

  it('the Backend API unlock lifts a lockout', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['unlock@example.com'], password: 'the right password!' } })).json();
    for (let i = 0; i < 3; i++) await signIn('unlock@example.com', 'nope');
    expect((await signIn('unlock@example.com', 'the right password!')).status).toBe(403);
    await server.api(`/v1/users/${user.id}/unlock`, { method: 'POST' });
    expect((await signIn('unlock@example.com', 'the right password!')).status).toBe(200);
  });

  it('refuses weak passwords at sign-up with a reason, creating nothing', async () => {
    for (const password of ['password', 'qwertyuiop', 'weakling1@example.com']) {
      const res = await fetch(`${server.url}/v1/client/sign_ups`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' },
        body: JSON.stringify({ email_address: 'weakling1@example.com', password }),
      });
      expect(res.status, password).toBe(422);
      const err = (await res.json()).errors[0];
      expect(err.meta.param_name).toBe('password');
      expect(err.long_message.length).toBeGreaterThan(10);
    }
    expect(await server.db.selectFrom('sign_ups').selectAll().execute()).toEqual([]);
  });

  it('a failed sign-in stores no client and hands out no cookie or client token; a successful one does both once', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['noclient@example.com'], password: 'the right password!' } });
    const clients = async () => (await server.db.selectFrom('clients').select('id').execute()).length;
    const before = await clients();
    for (const [identifier, password] of [['noclient@example.com', 'wrong password!'], ['nobody-here@example.com', 'whatever it is']]) {
      for (const native of [true, false]) {
        const res = await fetch(`${server.url}/v1/client/sign_ins`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(native ? { 'latchkey-native': '1' } : { origin: new URL(server.url).origin }) },
          body: JSON.stringify({ identifier, password }),
        });
        expect(res.status).toBe(422);
        expect(res.headers.get('latchkey-client-token')).toBeNull();
        expect(res.headers.get('set-cookie')).toBeNull();
      }
    }
    expect(await clients()).toBe(before);
    const ok = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'content-type': 'application/json', origin: new URL(server.url).origin },
      body: JSON.stringify({ identifier: 'noclient@example.com', password: 'the right password!' }),
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('set-cookie')).toMatch(/^__client=[^;]+;.*HttpOnly/i);
    const body = await ok.json();
    expect(await clients()).toBe(before + 1);
    expect(body.client.sessions.map((x: { id: string }) => x.id)).toEqual([body.response.created_session_id]);
    expect(body.client.last_active_session_id).toBe(body.response.created_session_id);
    // The answer shows the client as stored: the same as a later GET /v1/client.
    const cookie = ok.headers.get('set-cookie')!.split(';')[0]!;
    const later = await (await fetch(`${server.url}/v1/client`, { headers: { cookie } })).json();
    expect(later.response).toEqual(body.client);

    const native = await signIn('noclient@example.com', 'the right password!');
    expect(native.status).toBe(200);
    const token = native.headers.get('latchkey-client-token');
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(native.headers.get('set-cookie')).toBeNull();
    const mine = await (await fetch(`${server.url}/v1/client`, { headers: { authorization: `Bearer ${token}` } })).json();
    expect(mine.response.sessions.map((x: { id: string }) => x.id)).toEqual([(await native.json()).response.created_session_id]);
    expect(await clients()).toBe(before + 2);
  });

  it('a wrong email code or reset code stores no client either', async () => {
    const clients = async () => (await server.db.selectFrom('clients').select('id').execute()).length;
    const before = await clients();
    for (const [path, json] of [
      ['/v1/client/sign_ins/email_code/attempt', { identifier: 'noclient@example.com', code: '000000' }],
      ['/v1/client/password_resets/attempt', { identifier: 'noclient@example.com', code: '000000', password: 'a brand new long passphrase' }],
    ] as const) {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' }, body: JSON.stringify(json) });
      expect(res.status).toBe(422);
      expect(res.headers.get('latchkey-client-token')).toBeNull();
    }
    expect(await clients()).toBe(before);
  });

  it('rate-limits sign-in per identifier with 429 and Retry-After', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 12; i++) last = await signIn('flood@example.com', 'whatever');
    expect(last!.status).toBe(429);
    expect(Number(last!.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await last!.json()).errors[0].code).toBe('too_many_requests');
  });
});

// Its own server, so its bursts do not spend the per-IP sign-in budget of the suite above.
describe.each(dialects())('lockout under parallel guesses (%s)', (dialect) => {
  const ctx = lockoutServer(dialect);
  const { clock, signIn } = ctx;
  let server: TestServer;
  beforeAll(() => {
    server = ctx.server;
  });

  it('guesses sent in parallel check no more passwords than the lockout allows, and a locked account stays locked', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['race@example.com'], username: 'racer', password: 'the right password!' } })).json();
    // Two spellings of the identifier, so the per-identifier rate limit is not what stops them.
    const guesses = Array.from({ length: 9 }, (_, i) => signIn(i % 2 ? 'racer' : 'RACE@example.com', `wrong ${i}`));
    const statuses = await Promise.all(guesses.map(async (r) => (await r).status));
    expect(statuses.filter((st) => st === 422)).toHaveLength(3);
    expect(statuses.filter((st) => st === 403)).toHaveLength(6);
    const audits = await server.db.selectFrom('audit_logs').select(['type', 'data']).where('target_id', '=', user.id).execute();
    const reasons = audits.filter((a) => a.type === 'user.sign_in_failed').map((a) => (typeof a.data === "string" ? JSON.parse(a.data) : a.data).reason);
    expect(reasons.filter((r) => r === 'wrong_password')).toHaveLength(3);
    expect(audits.filter((a) => a.type === 'user.locked_out')).toHaveLength(1);
    expect((await signIn('race@example.com', 'the right password!')).status).toBe(403);
    const row = await server.db.selectFrom('users').select(['failed_attempts', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ failed_attempts: 3, locked_until: clock.now() + 15 * 60_000 });
  });

  it('the right password sent beside wrong guesses signs in once and clears the count', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['mixed@example.com'], password: 'the right password!' } })).json();
    const [wrong, right] = await Promise.all([signIn('mixed@example.com', 'wrong'), signIn('mixed@example.com', 'the right password!')]);
    expect([wrong.status, right.status]).toEqual([422, 200]);
    const row = await server.db.selectFrom('users').select(['failed_attempts', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
    // The wrong guess may have been counted before or after the success reset the count.
    expect(row.locked_until).toBeNull();
    expect(row.failed_attempts).toBeLessThanOrEqual(1);
  });
});

describe.each(dialects())('sign-up email codes: expiry, attempts and resend cool-down (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
  });
  afterAll(() => server?.close());

  const post = (path: string, json: unknown, token?: string) => nativeCall(server, 'POST', path, json, token);
  const latestCode = (to: string) => codeFor(server, to, 'verification_code');
  const start = (email: string) => post('/v1/client/sign_ups', { email_address: email, password: 'a long and lovely passphrase' });

  it('a code expires after 10 minutes', async () => {
    const s = await start('expire@example.com');
    const code = await latestCode('expire@example.com');
    clock.advance(10 * 60_000);
    const res = await post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code }, s.token!);
    expect(res.body.errors[0].code).toBe('verification_expired');
  });

  it('five wrong codes kill the code, even the right one after', async () => {
    const s = await start('attempts@example.com');
    const code = await latestCode('attempts@example.com');
    const wrong = code === '123456' ? '654321' : '123456';
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code: wrong }, s.token!);
      remaining.push(r.body.errors[0].meta.attempts_remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const right = await post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code }, s.token!);
    expect(right.body.errors[0].code).toBe('verification_failed');
  });

  it('after 10 wrong tries any code is refused, even a new one and the right one (default limits)', async () => {
    const email = 'ten-tries@example.com';
    const s = await start(email);
    const attempt = (code: string) => post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code }, s.token!);
    for (let round = 0; round < 2; round++) {
      const code = await latestCode(email);
      const wrong = code === '123456' ? '654321' : '123456';
      for (let i = 0; i < 5; i++) expect((await attempt(wrong)).status).toBe(422);
      clock.advance(30_000);
      expect((await post(`/v1/client/sign_ups/${s.body.response.id}/prepare_verification`, {}, s.token!)).status).toBe(200);
    }
    const fresh = await attempt(await latestCode(email));
    expect(fresh.status).toBe(429);
    expect(fresh.body.errors[0].code).toBe('too_many_requests');
    expect(Number(fresh.retryAfter)).toBeGreaterThan(0);
    const users = await (await server.api(`/v1/users?email_address=${encodeURIComponent(email)}`)).json();
    expect(users).toEqual([]);
  });

  it('resends sent together after the cool-down send one code; the others wait', async () => {
    const s = await start('together@example.com');
    clock.advance(31_000);
    const sent = await Promise.all(Array.from({ length: 5 }, () => post(`/v1/client/sign_ups/${s.body.response.id}/prepare_verification`, {}, s.token!)));
    expect(sent.map((r) => r.status).sort()).toEqual([200, 429, 429, 429, 429]);
    const live = await server.db.selectFrom('email_codes').select('id').where('purpose', '=', 'sign_up')
      .where('subject_id', '=', s.body.response.id).where('consumed_at', 'is', null).execute();
    expect(live).toHaveLength(1);
  });

  it('resend waits 30 s; the new code replaces the old one', async () => {
    const s = await start('resend@example.com');
    const first = await latestCode('resend@example.com');
    const early = await post(`/v1/client/sign_ups/${s.body.response.id}/prepare_verification`, {}, s.token!);
    expect(early.status).toBe(429);
    expect(Number(early.retryAfter)).toBe(30);
    clock.advance(30_000);
    expect((await post(`/v1/client/sign_ups/${s.body.response.id}/prepare_verification`, {}, s.token!)).status).toBe(200);
    const second = await latestCode('resend@example.com');
    if (second !== first) {
      const old = await post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code: first }, s.token!);
      expect(old.status).toBe(422);
    }
    const ok = await post(`/v1/client/sign_ups/${s.body.response.id}/attempt_verification`, { code: second }, s.token!);
    expect(ok.body.response.status).toBe('complete');
  });
});

describe.each(dialects())('rate limits from LATCHKEY_RATE_LIMITS (%s)', (dialect) => {
  it('a tighter per-IP sign-up bucket refuses the third call', async () => {
    const server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: '{"signUpPerIp":{"points":2,"durationSec":60}}' } });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/v1/client/sign_ups`, {
          method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' },
          body: JSON.stringify({ email_address: `rl${i}@example.com`, password: 'a long and lovely passphrase' }),
        });
        statuses.push(res.status);
      }
      expect(statuses).toEqual([200, 200, 429]);
    } finally {
      await server.close();
    }
  });
});
