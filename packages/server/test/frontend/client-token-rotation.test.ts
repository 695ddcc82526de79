import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { activeSessionsOf, findClientByToken, hashClientToken, sessionRowOf } from '../../src/frontend/clients.js';
import { verifySignUp } from '../../src/frontend/sign-ups.js';
import { codeFor as codeFromOutbox } from '../support/dev-outbox.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

const PASSWORD = 'a rotation test password';

/**
 * Session fixation: a sign-in on an existing client gives that client a new
 * token, so a token planted in (or learned from) the browser before the sign-in
 * never reaches the session it opens. A failed sign-in changes nothing.
 */
describe.each(dialects())('client token rotation on sign-in (%s)', (dialect) => {
  let server: TestServer;
  beforeAll(async () => {
    // Every call comes from one address: room for this suite's calls under the per-IP sign-in bucket.
    server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":200,"durationSec":60}}' } });
  });
  afterAll(() => server?.close());

  const user = (email: string, password: string | null = PASSWORD) =>
    server.api('/v1/users', { method: 'POST', json: { email_address: [email], ...(password ? { password } : {}) } });

  /** A browser request carrying `cookie` (the `__client=...` pair), from the app's own origin. */
  async function browser(method: string, path: string, cookie: string | undefined, json?: unknown) {
    const headers: Record<string, string> = { origin: server.url };
    if (cookie) headers.cookie = cookie;
    if (json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    const set = res.headers.getSetCookie().find((c) => c.startsWith('__client=') && !c.startsWith('__client=;'));
    return { status: res.status, body: await res.json(), cookie: set?.split(';')[0] };
  }

  /** A native request with `Bearer token` (or, without one, the latchkey-native header). */
  async function native(method: string, path: string, token: string | undefined, json?: unknown) {
    const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : { 'latchkey-native': '1' };
    if (json !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${server.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    return { status: res.status, body: await res.json(), token: res.headers.get('latchkey-client-token') ?? undefined, setCookie: res.headers.get('set-cookie') };
  }

  const codeFor = (to: string, kind: string) => codeFromOutbox(server, to, kind);

  /** The sessions of the client in an answer (`client`, or `response` for GET /v1/client). */
  const sessionIds = (body: { response: { sessions?: { id: string }[] }; client?: { sessions: { id: string }[] } }) =>
    (body.client ?? body.response as { sessions: { id: string }[] }).sessions.map((s) => s.id).sort();

  it('browser: a password sign-in on a planted cookie sets a new cookie; the planted one no longer finds the client', async () => {
    await user('fixed@example.com');
    // The attacker's client: any code request hands one out.
    const planted = (await browser('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: 'attacker@example.com' })).cookie!;
    expect(planted).toMatch(/^__client=.+/);

    const signIn = await browser('POST', '/v1/client/sign_ins', planted, { identifier: 'fixed@example.com', password: PASSWORD });
    expect(signIn.status).toBe(200);
    const sid = signIn.body.response.created_session_id as string;
    expect(signIn.cookie).toMatch(/^__client=.+/);
    expect(signIn.cookie).not.toBe(planted);

    const stale = await browser('GET', '/v1/client', planted);
    expect(stale.status).toBe(401);
    expect(stale.body.errors[0].code).toBe('client_missing');
    expect((await browser('POST', `/v1/client/sessions/${sid}/tokens`, planted, {})).status).toBe(401);

    const fresh = await browser('GET', '/v1/client', signIn.cookie);
    expect(fresh.status).toBe(200);
    expect(fresh.body.response.last_active_session_id).toBe(sid);
    expect((await browser('POST', `/v1/client/sessions/${sid}/tokens`, signIn.cookie, {})).status).toBe(200);
  });

  it('native: an email-code sign-in on a Bearer token returns a new one in latchkey-client-token; the old one is refused', async () => {
    await user('native-code@example.com', null);
    const started = await native('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: 'native-code@example.com' });
    const old = started.token!;
    const code = await codeFor('native-code@example.com', 'sign_in');

    const done = await native('POST', '/v1/client/sign_ins/email_code/attempt', old, { identifier: 'native-code@example.com', code });
    expect(done.status).toBe(200);
    expect(done.setCookie).toBeNull();
    expect(done.token).toBeDefined();
    expect(done.token).not.toBe(old);
    const sid = done.body.response.created_session_id as string;

    const stale = await native('GET', '/v1/client', old);
    expect(stale.status).toBe(401);
    expect(stale.body.errors[0].code).toBe('client_invalid');
    const fresh = await native('GET', '/v1/client', done.token);
    expect(fresh.status).toBe(200);
    expect(sessionIds(fresh.body)).toEqual([sid]);
    expect((await native('POST', `/v1/client/sessions/${sid}/tokens`, done.token, {})).status).toBe(200);
  });

  it('a second sign-in on the same client rotates again and keeps the first session on it', async () => {
    await user('multi-a@example.com');
    await user('multi-b@example.com');
    const first = await native('POST', '/v1/client/sign_ins', undefined, { identifier: 'multi-a@example.com', password: PASSWORD });
    const second = await native('POST', '/v1/client/sign_ins', first.token, { identifier: 'multi-b@example.com', password: PASSWORD });
    expect(second.status).toBe(200);
    expect(second.token).not.toBe(first.token);
    expect((await native('GET', '/v1/client', first.token)).status).toBe(401);
    const client = await native('GET', '/v1/client', second.token);
    expect(sessionIds(client.body)).toEqual([first.body.response.created_session_id, second.body.response.created_session_id].sort());
  });

  it('a password reset and a sign-up verification rotate the token too', async () => {
    await user('reset-rotate@example.com');
    const asked = await native('POST', '/v1/client/password_resets', undefined, { identifier: 'reset-rotate@example.com' });
    const code = await codeFor('reset-rotate@example.com', 'reset_password');
    const reset = await native('POST', '/v1/client/password_resets/attempt', asked.token,
      { identifier: 'reset-rotate@example.com', code, password: 'a brand new rotation passphrase' });
    expect(reset.status).toBe(200);
    expect(reset.token).toBeDefined();
    expect(reset.token).not.toBe(asked.token);
    expect((await native('GET', '/v1/client', asked.token)).status).toBe(401);
    expect((await native('GET', '/v1/client', reset.token)).status).toBe(200);

    const started = await native('POST', '/v1/client/sign_ups', undefined, { email_address: 'signup-rotate@example.com', password: PASSWORD });
    const signUpCode = await codeFor('signup-rotate@example.com', 'verification_code');
    const verified = await native('POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, started.token, { code: signUpCode });
    expect(verified.status).toBe(200);
    expect(verified.body.response.status).toBe('complete');
    expect(verified.token).toBeDefined();
    expect(verified.token).not.toBe(started.token);
    expect((await native('GET', '/v1/client', started.token)).status).toBe(401);
    const client = await native('GET', '/v1/client', verified.token);
    expect(sessionIds(client.body)).toEqual([verified.body.response.created_session_id]);
    // Replaying the completed verification answers the same and re-keys nothing.
    const replay = await native('POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, verified.token, { code: signUpCode });
    expect(replay.status).toBe(200);
    expect(replay.token).toBeUndefined();
    expect((await native('GET', '/v1/client', verified.token)).status).toBe(200);
  });

  it('of two sign-ins racing on one planted client, the later cannot take the earlier one\'s session', async () => {
    // The attacker plants a client token in the victim's browser, then signs in to
    // their own account with it while the victim signs in: both requests find the
    // client before either re-keys it (the password check sits in between).
    await user('race-victim@example.com');
    await user('race-attacker@example.com');
    for (let round = 0; round < 3; round++) {
      const planted = (await browser('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: 'race-nobody@example.com' })).cookie!;
      const results = await Promise.all(['race-victim@example.com', 'race-attacker@example.com'].map((identifier) =>
        browser('POST', '/v1/client/sign_ins', planted, { identifier, password: PASSWORD })));
      // Both succeed, and each holds exactly its own session under its own new cookie
      // (the later one on a new client), in the answer and afterwards.
      for (const r of results) {
        expect(r.status).toBe(200);
        const sid = r.body.response.created_session_id;
        expect(sessionIds(r.body)).toEqual([sid]);
        const client = await browser('GET', '/v1/client', r.cookie);
        expect(client.status).toBe(200);
        expect(sessionIds(client.body)).toEqual([sid]);
        expect(client.body.response.id).toBe(r.body.client.id);
      }
      expect(results[0]!.body.client.id).not.toBe(results[1]!.body.client.id);
      expect((await browser('GET', '/v1/client', planted)).status).toBe(401);
    }
  });

  it('reads through a token a sign-in has since replaced see the client as it was, never the new session', async () => {
    // A request found its client by the old token just before a sign-in re-keyed
    // the client and added its session: what the request reads next must not show
    // it (or let it act as) the new session.
    await user('stale-a@example.com');
    await user('stale-b@example.com');
    const first = await native('POST', '/v1/client/sign_ins', undefined, { identifier: 'stale-a@example.com', password: PASSWORD });
    const asFound = await findClientByToken(server.db, first.token!);
    const second = await native('POST', '/v1/client/sign_ins', first.token, { identifier: 'stale-b@example.com', password: PASSWORD });
    const newSid = second.body.response.created_session_id as string;
    const now = Date.now();
    expect(await activeSessionsOf(server.db, now, asFound!)).toEqual([]);
    expect(await sessionRowOf(server.db, asFound!, newSid)).toBeUndefined();
    const current = (await findClientByToken(server.db, second.token!))!;
    expect(current.id).toBe(asFound!.id);
    expect((await activeSessionsOf(server.db, now, current)).map((r) => r.id).sort())
      .toEqual([first.body.response.created_session_id, newSid].sort());
    expect((await sessionRowOf(server.db, current, newSid))?.id).toBe(newSid);
  });

  it('over HTTP: /v1/me and GET /v1/client on a planted token, racing the victim\'s sign-in, never show or change the victim', async () => {
    await user('flood-victim@example.com');
    const calls = [['PATCH', '/v1/me', { first_name: 'Pwned' }], ['GET', '/v1/me'], ['GET', '/v1/client']] as const;
    const answers: { path: string; status: number; body: { response?: { sessions: unknown[] } } }[] = [];
    for (let round = 0; round < 5; round++) {
      const planted = (await browser('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: `flood-nobody${round}@example.com` })).cookie!;
      let done = false;
      const victim = browser('POST', '/v1/client/sign_ins', planted, { identifier: 'flood-victim@example.com', password: PASSWORD })
        .finally(() => { done = true; });
      const attacker = async () => {
        for (let i = 0, after = 0; !done || after < 3; i++) {
          if (done) after++;
          const [method, path, json] = calls[i % calls.length]!;
          answers.push({ path, ...await browser(method, path, planted, json) });
        }
      };
      const [signedIn] = await Promise.all([victim, ...Array.from({ length: 6 }, attacker)]);
      expect(signedIn.status).toBe(200);
    }
    // The planted client had no session before the sign-in and loses its token with it.
    expect(answers.filter((a) => a.path === '/v1/me').map((a) => a.status)).not.toContain(200);
    for (const a of answers.filter((x) => x.path === '/v1/client' && x.status === 200)) expect(a.body.response!.sessions).toEqual([]);
    const victimRow = await server.db.selectFrom('users').innerJoin('email_addresses', 'email_addresses.user_id', 'users.id')
      .select('users.first_name').where('email_addresses.email_address', '=', 'flood-victim@example.com').executeTakeFirstOrThrow();
    expect(victimRow.first_name).toBeNull();
  });

  it('a sign-up verification that loses the re-key race completes on a new client, and its sign-up goes with it', async () => {
    const started = await browser('POST', '/v1/client/sign_ups', undefined, { email_address: 'late-signup@example.com', password: PASSWORD });
    const signUpId = started.body.response.id as string;
    const code = await codeFor('late-signup@example.com', 'verification_code');
    // What the verification request holds once it found its client (requireClient, rekeyForSignIn) ...
    const asFound = (await findClientByToken(server.db, started.cookie!.slice('__client='.length)))!;
    const newToken = 'the-verification-request-new-token';
    const ref = { existing: asFound.id, tokenHash: hashClientToken(newToken), previousHash: asFound.token_hash! };
    // ... when another tab's sign-in on the same client commits first.
    await user('other-tab@example.com');
    const otherTab = await browser('POST', '/v1/client/sign_ins', started.cookie, { identifier: 'other-tab@example.com', password: PASSWORD });
    expect(otherTab.status).toBe(200);

    const { signUp, signedIn } = await verifySignUp(server.lk.services, ref, signUpId, code);
    const clientId = signedIn!.session.client_id;
    expect(clientId).not.toBe(asFound.id);
    expect(signUp.client_id).toBe(clientId);
    expect((await server.db.selectFrom('sign_ups').select('client_id').where('id', '=', signUpId).executeTakeFirstOrThrow()).client_id).toBe(clientId);
    const mine = await browser('GET', '/v1/client', `__client=${newToken}`);
    expect(mine.body.response.id).toBe(clientId);
    expect(sessionIds(mine.body)).toEqual([signedIn!.session.id]);
    // The completed sign-up answers its own client, and no longer the other tab's.
    expect((await browser('POST', `/v1/client/sign_ups/${signUpId}/prepare_verification`, `__client=${newToken}`, {})).status).toBe(200);
    expect((await browser('POST', `/v1/client/sign_ups/${signUpId}/prepare_verification`, otherTab.cookie, {})).status).toBe(404);
  });

  it('over HTTP: answers to writes on a planted token, racing the victim\'s sign-in, never list the victim\'s session', async () => {
    await user('reply-victim@example.com');
    const leaks: unknown[] = [];
    for (let round = 0; round < 5; round++) {
      const planted = (await browser('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: `reply-nobody${round}@example.com` })).cookie!;
      let done = false;
      const victim = browser('POST', '/v1/client/sign_ins', planted, { identifier: 'reply-victim@example.com', password: PASSWORD })
        .finally(() => { done = true; });
      const attacker = async (a: number) => {
        for (let i = 0, after = 0; !done || after < 3; i++) {
          if (done) after++;
          const r = await browser('POST', '/v1/client/sign_ups', planted, { email_address: `probe-${round}-${a}-${i}@example.com`, password: PASSWORD });
          if (r.status === 200 && r.body.client.sessions.length) leaks.push(r.body.client.sessions);
        }
      };
      await Promise.all([victim, ...Array.from({ length: 6 }, (_, a) => attacker(a))]);
    }
    expect(leaks).toEqual([]);
  });

  it('over HTTP: switching to the planted client\'s own session, racing the victim\'s sign-in, never makes the victim act as its owner', async () => {
    await user('touch-victim@example.com');
    await user('touch-attacker@example.com');
    for (let round = 0; round < 5; round++) {
      const mine = await browser('POST', '/v1/client/sign_ins', undefined, { identifier: 'touch-attacker@example.com', password: PASSWORD });
      const planted = mine.cookie!;
      let done = false;
      const victim = browser('POST', '/v1/client/sign_ins', planted, { identifier: 'touch-victim@example.com', password: PASSWORD })
        .finally(() => { done = true; });
      const attacker = async () => {
        for (let after = 0; !done || after < 3;) {
          if (done) after++;
          await browser('POST', `/v1/client/sessions/${mine.body.response.created_session_id}/touch`, planted, {});
        }
      };
      const [signedIn] = await Promise.all([victim, ...Array.from({ length: 6 }, attacker)]);
      const client = await browser('GET', '/v1/client', signedIn.cookie);
      expect(client.body.response.last_active_session_id, `round ${round}`).toBe(signedIn.body.response.created_session_id);
    }
  });

  it('a failed sign-in on an existing client keeps its token and hands out none', async () => {
    await user('wrong-pw@example.com');
    const planted = (await browser('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: 'someone@example.com' })).cookie!;
    const refused = await browser('POST', '/v1/client/sign_ins', planted, { identifier: 'wrong-pw@example.com', password: 'not the password at all' });
    expect(refused.status).toBe(422);
    expect(refused.cookie).toBeUndefined();
    expect((await browser('GET', '/v1/client', planted)).status).toBe(200);

    const started = await native('POST', '/v1/client/sign_ins/email_code', undefined, { identifier: 'someone-else@example.com' });
    const wrong = await native('POST', '/v1/client/sign_ins', started.token, { identifier: 'wrong-pw@example.com', password: 'not the password at all' });
    expect(wrong.status).toBe(422);
    expect(wrong.token).toBeUndefined();
    expect(wrong.setCookie).toBeNull();
    expect((await native('GET', '/v1/client', started.token)).status).toBe(200);
  });
});
