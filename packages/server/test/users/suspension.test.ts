import { createClerkClient } from '@clerk/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { expectErrorShape, type ErrorBody } from '../support/errors.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/**
 * Suspension (POST /v1/users/{id}/ban with an optional reason and end): every
 * session is revoked at once, every way in is refused with 403 user_banned and
 * meta {reason, suspended_until}, the ban lifts itself at `until` (at once for
 * the checks, and in the stored state by the maintenance job), and a lock stays
 * a different thing. Time moves only on the injected clock.
 */

const HOUR = 3_600_000;
const PASSWORD = 'a long and lovely passphrase';

interface FeedEvent {
  sequence: number;
  type: string;
  data: Record<string, unknown> & { id: string };
}
interface AuditEntry {
  object: 'audit_log';
  sequence: number;
  type: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
  data: Record<string, unknown>;
  created_at: number;
}

/** Calls shared by both servers of this file. */
function helpers(get: () => TestServer) {
  /** A native client (Bearer client token): password sign-in, then its session's tokens. */
  const frontend = async (method: string, path: string, json?: unknown, token?: string) => {
    const res = await fetch(`${get().url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'latchkey-native': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: res.status, body: await res.json(), token: res.headers.get('latchkey-client-token') ?? token };
  };
  const signIn = (identifier: string, password = PASSWORD, token?: string) => frontend('POST', '/v1/client/sign_ins', { identifier, password }, token);
  const createUser = async (email: string, extra: Record<string, unknown> = {}) => {
    const res = await get().api('/v1/users', { method: 'POST', json: { email_address: [email], password: PASSWORD, ...extra } });
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    return body as { id: string } & Record<string, unknown>;
  };
  const getUser = async (id: string) => (await get().api(`/v1/users/${id}`)).json();
  const post = async (path: string, json?: unknown) => {
    const res = await get().api(path, { method: 'POST', ...(json === undefined ? {} : { json }) });
    return { status: res.status, body: await res.json() };
  };
  const events = async (after: number, types = ''): Promise<FeedEvent[]> => {
    const out: FeedEvent[] = [];
    for (;;) {
      const page = await (await get().api(`/v1/events?after=${after}&limit=500${types ? `&types=${types}` : ''}`)).json();
      out.push(...page.data);
      after = page.next_after;
      if (!page.has_more) return out;
    }
  };
  const lastSequence = async () => (await events(0)).at(-1)?.sequence ?? 0;
  const audit = async (userId: string, types: string): Promise<AuditEntry[]> =>
    (await (await get().api(`/v1/audit_logs?target_id=${userId}&types=${types}&limit=500`)).json()).data;
  const sessionStatuses = async (userId: string) =>
    Object.fromEntries(((await (await get().api(`/v1/sessions?user_id=${userId}&limit=500`)).json()) as { id: string; status: string }[])
      .map((s) => [s.id, s.status]));
  return { frontend, signIn, createUser, getUser, post, events, lastSequence, audit, sessionStatuses };
}

const firstError = (body: ErrorBody, what: string) => {
  expectErrorShape(body, what);
  return body.errors[0]!;
};

describe.each(dialects())('suspension: ban with reason and until (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  const h = helpers(() => server);

  beforeAll(async () => {
    // The maintenance job stays out of the way here (an hour): what these tests see is the checks themselves.
    // Many sign-ins from one address in this file: a roomier per-IP bucket keeps 429s out of it.
    server = await startServer(dialect, {
      clock, maintenanceIntervalMs: HOUR, env: { LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":1000,"durationSec":60}}' },
    });
  });
  afterAll(() => server?.close());

  it('revokes every session at once; sign-in, tokens and new sessions are refused with the reason and end; lifts itself at until', async () => {
    const user = await h.createUser('spammer@example.com', { first_name: 'Sam' });
    // Two Frontend sign-ins (two clients) and a Backend session.
    const a = await h.signIn('spammer@example.com');
    expect(a.status, JSON.stringify(a.body)).toBe(200);
    const b = await h.signIn('spammer@example.com');
    expect(b.status).toBe(200);
    const backend = await h.post('/v1/sessions', { user_id: user.id });
    expect(backend.status).toBe(200);
    const sids = [a.body.response.created_session_id, b.body.response.created_session_id, backend.body.id] as string[];
    expect((await h.frontend('POST', `/v1/client/sessions/${sids[0]}/tokens`, {}, a.token!)).status).toBe(200);
    expect(await h.sessionStatuses(user.id)).toEqual(Object.fromEntries(sids.map((s) => [s, 'active'])));
    const since = await h.lastSequence();

    const until = clock.now() + HOUR;
    const banned = await h.post(`/v1/users/${user.id}/ban`, { reason: 'spam', until });
    expect(banned.status, JSON.stringify(banned.body)).toBe(200);
    expect(banned.body).toMatchObject({ object: 'user', id: user.id, banned: true, ban_reason: 'spam', banned_until: until, locked: false });

    // Sessions: all revoked, each with its session.revoked event after the user.updated of the ban.
    expect(await h.sessionStatuses(user.id)).toEqual(Object.fromEntries(sids.map((s) => [s, 'revoked'])));
    const after = await h.events(since);
    expect(after.map((e) => e.type)).toEqual(['user.updated', 'session.revoked', 'session.revoked', 'session.revoked']);
    expect(after[0]!.data).toMatchObject({ id: user.id, banned: true, ban_reason: 'spam', banned_until: until });
    expect(after.slice(1).map((e) => e.data.id).sort()).toEqual([...sids].sort());
    for (const e of after.slice(1)) expect(e.data).toMatchObject({ object: 'session', status: 'revoked', user_id: user.id });

    // Audited by the secret key that did it.
    const [entry] = await h.audit(user.id, 'user.banned');
    expect(entry).toMatchObject({
      type: 'user.banned', actor: { type: 'secret_key', id: expect.stringMatching(/^ak_/) }, target: { type: 'user', id: user.id },
      data: { reason: 'spam', until, sessions_revoked: 3 },
    });

    // The Frontend session can no longer get a token, and the refresh tells the client why.
    const refusedToken = await h.frontend('POST', `/v1/client/sessions/${sids[0]}/tokens`, {}, a.token!);
    expect(refusedToken.status).toBe(403);
    expect(firstError(refusedToken.body, 'token')).toMatchObject({ code: 'user_banned', meta: { reason: 'spam', suspended_until: until } });

    // Password sign-in: the right password learns why and until when; a wrong one learns nothing.
    const meta = { reason: 'spam', suspended_until: until };
    const refusedSignIn = await h.signIn('spammer@example.com', PASSWORD, a.token!);
    expect(refusedSignIn.status).toBe(403);
    expect(firstError(refusedSignIn.body, 'sign-in')).toMatchObject({ code: 'user_banned', meta });
    expect(refusedSignIn.body.errors[0].long_message).toContain('spam');
    const wrong = await h.signIn('spammer@example.com', 'not the password at all');
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors[0].code).not.toBe('user_banned');
    const failures = await h.audit(user.id, 'user.sign_in_failed');
    expect(failures.map((f) => f.data.reason)).toContain('user_banned');

    // Email-code sign-in too.
    const requested = await h.frontend('POST', '/v1/client/sign_ins/email_code', { identifier: 'spammer@example.com' }, a.token!);
    expect(requested.status).toBe(200);
    // The code is mailed after the answer: wait for it to reach the development outbox.
    const mail = await waitFor('the sign-in code in the dev outbox', async () =>
      (await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent('spammer@example.com')}`)).json()).data[0]);
    const code = /\b(\d{6})\b/.exec(mail.body)![1];
    const byCode = await h.frontend('POST', '/v1/client/sign_ins/email_code/attempt', { identifier: 'spammer@example.com', code }, a.token!);
    expect(byCode.status).toBe(403);
    expect(byCode.body.errors[0]).toMatchObject({ code: 'user_banned', meta });

    // Backend: a fresh session is refused.
    const fresh = await h.post('/v1/sessions', { user_id: user.id });
    expect(fresh.status).toBe(403);
    expect(firstError(fresh.body, 'POST /v1/sessions')).toMatchObject({ code: 'user_banned', meta });

    // A session that is active while its user is banned (one that slipped through, here set so in the
    // database) gets no token from either API, session token or template, with the same answer.
    await server.db.updateTable('sessions').set({ status: 'active' }).where('id', '=', sids[0]!).execute();
    for (const path of [`/v1/sessions/${sids[0]}/tokens`, `/v1/sessions/${sids[0]}/tokens/convex`]) {
      const mint = await h.post(path, {});
      expect(mint.status, path).toBe(403);
      expect(firstError(mint.body, path)).toMatchObject({ code: 'user_banned', meta });
    }
    const viaFrontend = await h.frontend('POST', `/v1/client/sessions/${sids[0]}/tokens`, {}, a.token!);
    expect(viaFrontend.status).toBe(403);
    expect(viaFrontend.body.errors[0]).toMatchObject({ code: 'user_banned', meta });
    const tokenRefusals = await h.audit(user.id, 'session.token_refused');
    // The three here, and the Frontend refresh of the revoked session right after the ban.
    expect(tokenRefusals.filter((r) => r.data.reason === 'user_banned').length).toBe(4);
    await server.db.updateTable('sessions').set({ status: 'revoked' }).where('id', '=', sids[0]!).execute();

    // The user shows the ban.
    expect(await h.getUser(user.id)).toMatchObject({ banned: true, ban_reason: 'spam', banned_until: until });

    // One millisecond before until it still holds.
    clock.set(until - 1);
    expect((await h.signIn('spammer@example.com')).status).toBe(403);

    // At until it lifts itself, before any job has cleared the stored ban.
    clock.set(until);
    expect(await h.getUser(user.id)).toMatchObject({ banned: false, ban_reason: null, banned_until: null });
    const back = await h.signIn('spammer@example.com');
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    const sid = back.body.response.created_session_id as string;
    expect((await h.frontend('POST', `/v1/client/sessions/${sid}/tokens`, {}, back.token!)).status).toBe(200);
    expect((await h.post('/v1/sessions', { user_id: user.id })).status).toBe(200);
    const row = await server.db.selectFrom('users').select(['banned', 'ban_reason', 'banned_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ banned: 1, ban_reason: 'spam', banned_until: until });
  });

  it('refuses bad input with 422 naming the parameter, changing nothing', async () => {
    const user = await h.createUser('careful@example.com');
    const signedIn = await h.signIn('careful@example.com');
    expect(signedIn.status).toBe(200);
    const before = await snapshot(server.db);
    const now = clock.now();
    const cases: [unknown, string, string][] = [
      [{ until: now - 1 }, 'until', 'form_param_format_invalid'],
      [{ until: now }, 'until', 'form_param_format_invalid'],
      [{ reason: 'spam', until: now - HOUR }, 'until', 'form_param_format_invalid'],
      [{ until: now + 1.5 }, 'until', 'form_param_format_invalid'],
      [{ until: String(now + HOUR) }, 'until', 'form_param_format_invalid'],
      [{ until: null }, 'until', 'form_param_format_invalid'],
      [{ reason: 'x'.repeat(501) }, 'reason', 'form_param_format_invalid'],
      [{ reason: '   ' }, 'reason', 'form_param_format_invalid'],
      [{ reason: 42 }, 'reason', 'form_param_format_invalid'],
      [{ reason: 'spam', duration: 3600 }, 'duration', 'form_param_unknown'],
    ];
    for (const [json, param, code] of cases) {
      const res = await h.post(`/v1/users/${user.id}/ban`, json);
      const what = JSON.stringify(json).slice(0, 80);
      expect(res.status, what).toBe(422);
      const err = firstError(res.body, what);
      expect(err.meta.param_name, what).toBe(param);
      expect(err.code, what).toBe(code);
    }
    // Not a JSON object: 400.
    const notJson = await server.api(`/v1/users/${user.id}/ban`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '["spam"]' });
    expect(notJson.status).toBe(400);
    // An unknown user: 404.
    const missing = await h.post('/v1/users/user_2nobodyAtAllHere000000000/ban', { reason: 'spam' });
    expect(missing.status).toBe(404);
    expect(missing.body.errors[0].code).toBe('resource_not_found');

    expect(await snapshot(server.db)).toBe(before);
    expect(await h.getUser(user.id)).toMatchObject({ banned: false, ban_reason: null, banned_until: null });

    // A reason of exactly 500 characters is fine.
    const ok = await h.post(`/v1/users/${user.id}/ban`, { reason: 'y'.repeat(500) });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ banned: true, ban_reason: 'y'.repeat(500), banned_until: null });
    expect((await h.post(`/v1/users/${user.id}/unban`)).status).toBe(200);
  });

  it('@clerk/backend bans with no body: reason and end null; unban clears it and sign-in works again', async () => {
    const clerk = createClerkClient({ secretKey: server.secretKey, apiUrl: server.url });
    const user = await h.createUser('sdk@example.com');
    const s = await h.signIn('sdk@example.com');
    expect(s.status).toBe(200);

    const banned = await clerk.users.banUser(user.id);
    expect(banned.banned).toBe(true);
    expect(await h.getUser(user.id)).toMatchObject({ banned: true, ban_reason: null, banned_until: null });
    expect(Object.values(await h.sessionStatuses(user.id))).toEqual(['revoked']);
    const refused = await h.signIn('sdk@example.com');
    expect(refused.status).toBe(403);
    expect(refused.body.errors[0]).toMatchObject({ code: 'user_banned', meta: { reason: null, suspended_until: null } });
    const [entry] = await h.audit(user.id, 'user.banned');
    expect(entry!.data).toEqual({ reason: null, until: null, sessions_revoked: 1 });
    // No end: a day later it still holds.
    clock.advance(24 * HOUR);
    expect((await h.signIn('sdk@example.com')).status).toBe(403);

    // Re-banning replaces the reason and end.
    const until = clock.now() + HOUR;
    const again = await h.post(`/v1/users/${user.id}/ban`, { reason: 'chargebacks', until });
    expect(again.body).toMatchObject({ banned: true, ban_reason: 'chargebacks', banned_until: until });
    expect((await h.signIn('sdk@example.com')).body.errors[0].meta).toEqual({ reason: 'chargebacks', suspended_until: until });

    const unbanned = await clerk.users.unbanUser(user.id);
    expect(unbanned.banned).toBe(false);
    expect(await h.getUser(user.id)).toMatchObject({ banned: false, ban_reason: null, banned_until: null });
    const row = await server.db.selectFrom('users').select(['banned', 'ban_reason', 'banned_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ banned: 0, ban_reason: null, banned_until: null });
    const [lifted] = await h.audit(user.id, 'user.unbanned');
    expect(lifted).toMatchObject({ actor: { type: 'secret_key', id: expect.stringMatching(/^ak_/) }, target: { type: 'user', id: user.id } });
    expect((await h.signIn('sdk@example.com')).status).toBe(200);

    // A bare POST with no body and no content-type bans the same way.
    const bare = await fetch(`${server.url}/v1/users/${user.id}/ban`, { method: 'POST', headers: { authorization: `Bearer ${server.secretKey}` } });
    expect(bare.status).toBe(200);
    expect(await bare.json()).toMatchObject({ banned: true, ban_reason: null, banned_until: null });
    expect((await h.signIn('sdk@example.com')).body.errors[0]).toMatchObject({ code: 'user_banned', meta: { reason: null, suspended_until: null } });
    expect((await h.post(`/v1/users/${user.id}/unban`)).body).toMatchObject({ banned: false, ban_reason: null, banned_until: null });
  });

  it('a lock is not a ban: sign-in refused with user_locked, sessions kept', async () => {
    const user = await h.createUser('locked@example.com');
    const s = await h.signIn('locked@example.com');
    expect(s.status).toBe(200);
    const sid = s.body.response.created_session_id as string;
    const since = await h.lastSequence();

    const locked = await h.post(`/v1/users/${user.id}/lock`);
    expect(locked.status).toBe(200);
    expect(locked.body).toMatchObject({ locked: true, banned: false, ban_reason: null, banned_until: null });
    expect(await h.sessionStatuses(user.id)).toEqual({ [sid]: 'active' });
    expect((await h.events(since, 'session.revoked')).length).toBe(0);

    const refused = await h.signIn('locked@example.com');
    expect(refused.status).toBe(403);
    expect(firstError(refused.body, 'locked sign-in')).toMatchObject({ code: 'user_locked' });
    expect(refused.body.errors[0].code).not.toBe('user_banned');
    // The kept session gets no token while locked, and is still active after.
    const token = await h.frontend('POST', `/v1/client/sessions/${sid}/tokens`, {}, s.token!);
    expect(token.status).toBe(403);
    expect(token.body.errors[0].code).toBe('user_locked');
    expect(await h.sessionStatuses(user.id)).toEqual({ [sid]: 'active' });

    expect((await h.post(`/v1/users/${user.id}/unlock`)).status).toBe(200);
    expect((await h.frontend('POST', `/v1/client/sessions/${sid}/tokens`, {}, s.token!)).status).toBe(200);
    expect((await h.signIn('locked@example.com')).status).toBe(200);
  });
});

describe.each(dialects())('suspension: the maintenance job lifts bans that reached their end (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  const h = helpers(() => server);

  beforeAll(async () => {
    server = await startServer(dialect, { clock, maintenanceIntervalMs: 50 });
  });
  afterAll(() => server?.close());

  it('clears the stored ban, emits user.updated and audits user.unbanned by the system; other bans stay', async () => {
    const expiring = await h.createUser('expiring@example.com');
    const forever = await h.createUser('forever@example.com');
    const later = await h.createUser('later@example.com');
    const until = clock.now() + HOUR;
    expect((await h.post(`/v1/users/${expiring.id}/ban`, { reason: 'spam', until })).status).toBe(200);
    expect((await h.post(`/v1/users/${forever.id}/ban`, { reason: 'fraud' })).status).toBe(200);
    expect((await h.post(`/v1/users/${later.id}/ban`, { reason: 'abuse', until: until + 2 * HOUR })).status).toBe(200);
    const since = await h.lastSequence();
    expect((await h.signIn('expiring@example.com')).status).toBe(403);

    clock.advance(HOUR + 1_000);
    const [entry] = await waitFor('the job to audit user.unbanned', async () => {
      const found = await h.audit(expiring.id, 'user.unbanned');
      return found.length ? found : undefined;
    });
    expect(entry).toMatchObject({
      type: 'user.unbanned', actor: { type: 'system', id: null }, target: { type: 'user', id: expiring.id }, ip: null,
      data: { expired_at: until },
    });
    await waitFor('GET user banned false', async () => {
      const u = await h.getUser(expiring.id);
      return u.banned === false && u.ban_reason === null ? u : undefined;
    });
    const row = await server.db.selectFrom('users').select(['banned', 'ban_reason', 'banned_until']).where('id', '=', expiring.id).executeTakeFirstOrThrow();
    expect(row).toEqual({ banned: 0, ban_reason: null, banned_until: null });

    const updates = (await h.events(since, 'user.updated')).filter((e) => e.data.id === expiring.id);
    expect(updates.length).toBe(1);
    expect(updates[0]!.data).toMatchObject({ banned: false, ban_reason: null, banned_until: null });
    // Exactly once, though the job keeps running.
    expect((await h.audit(expiring.id, 'user.unbanned')).length).toBe(1);

    expect((await h.signIn('expiring@example.com')).status).toBe(200);
    // The ban without an end and the one ending later were left alone in the same pass.
    for (const [u, reason] of [[forever, 'fraud'], [later, 'abuse']] as const) {
      expect(await h.getUser(u.id)).toMatchObject({ banned: true, ban_reason: reason });
      expect(await h.audit(u.id, 'user.unbanned')).toEqual([]);
    }
    expect((await h.events(since, 'user.updated')).filter((e) => e.data.id !== expiring.id)).toEqual([]);
  });
});
