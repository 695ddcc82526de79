import { createHash } from 'node:crypto';
import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyAuditRetention } from '../../src/audit/audit-log.js';
import { ManualClock } from '../../src/clock/clock.js';
import { runCli, serverEnv } from '../support/cli.js';
import { codeFor } from '../support/dev-outbox.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * The audit log (issue 5) over HTTP: each audited event appears exactly once
 * with its actor and target; a failed transaction leaves no entry. Read back
 * through GET /v1/audit_logs and its export.
 */

// ---------------------------------------------------------------- helpers

/** A User-Agent no other request sends, to find it recorded on the entries. */
const UA = 'LatchkeyAuditSuite/1.0 (audit-log.test)';
const LOOPBACK = ['127.0.0.1', '::ffff:127.0.0.1'];
/** Plenty of sign-in/sign-up points: these suites sign in many times from one address. */
const ROOMY_LIMITS = JSON.stringify({
  signInPerIp: { points: 10_000, durationSec: 60 }, signInPerIdentifier: { points: 10_000, durationSec: 60 }, signUpPerIp: { points: 10_000, durationSec: 60 },
});

interface Entry {
  object: 'audit_log';
  id: string;
  sequence: number;
  type: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
  user_agent: string | null;
  data: Record<string, unknown>;
  created_at: number;
}

interface Page {
  object: 'list';
  data: Entry[];
  has_more: boolean;
  next_after?: number;
  next_before?: number | null;
}

type Params = Record<string, string | number | string[] | undefined>;

function qs(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) q.append(k, String(one));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** One page of GET /v1/audit_logs (asserting 200). */
async function page(server: TestServer, params: Params = {}): Promise<Page> {
  const res = await server.api(`/v1/audit_logs${qs(params)}`);
  const body = await res.json();
  expect(res.status, JSON.stringify(body).slice(0, 300)).toBe(200);
  return body as Page;
}

/** Every entry matching `params`, oldest first, paging with `after`. */
async function audit(server: TestServer, params: Params = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  let after = 0;
  for (;;) {
    const p = await page(server, { ...params, order: 'asc', limit: 500, after });
    out.push(...p.data);
    if (!p.has_more) return out;
    after = p.next_after!;
  }
}

/** The entries of `type` (for `targetId` if given), asserting there is exactly one. */
async function one(server: TestServer, type: string, targetId?: string): Promise<Entry> {
  const found = await audit(server, { types: type, target_id: targetId });
  expect(found.map((e) => e.type), `${type} for ${targetId ?? 'any target'}`).toEqual([type]);
  return found[0]!;
}

/** The 422 error of a refused call, with the param it names. */
async function refused(res: Response): Promise<{ code: string; param: unknown }> {
  const body = await res.json();
  expect(res.status, JSON.stringify(body).slice(0, 300)).toBe(422);
  return { code: body.errors[0].code, param: body.errors[0].meta?.param_name };
}

/** A native client (Bearer client token) with the suite's User-Agent. */
async function native(server: TestServer, method: string, path: string, json?: unknown, token?: string) {
  const headers: Record<string, string> = { 'latchkey-native': '1', 'user-agent': UA };
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
  return { status: res.status, body: await res.json(), token: res.headers.get('latchkey-client-token') ?? token };
}

/** Sign-up by email code to completion: the new user's id, session and client token. */
async function signUp(server: TestServer, email: string, password: string) {
  const started = await native(server, 'POST', '/v1/client/sign_ups', { email_address: email, password });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  const code = await codeFor(server, email, 'verification_code');
  const done = await native(server, 'POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code }, started.token!);
  expect(done.status, JSON.stringify(done.body)).toBe(200);
  return { userId: done.body.response.created_user_id as string, sid: done.body.response.created_session_id as string, token: done.token! };
}

/** Password sign-in as a native client. */
async function signIn(server: TestServer, identifier: string, password: string) {
  const r = await native(server, 'POST', '/v1/client/sign_ins', { identifier, password });
  return { ...r, sid: r.body.response?.created_session_id as string | undefined };
}

/** A user made through the Backend API. */
async function createUser(server: TestServer, email: string, password?: string): Promise<string> {
  const res = await server.api('/v1/users', { method: 'POST', json: { email_address: [email], ...(password ? { password } : {}) } });
  const body = await res.json();
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.id as string;
}

/** The id ("ak_…") of the server's secret key: the actor of every Backend API change. */
async function secretKeyId(server: TestServer): Promise<string> {
  const rows = await server.db.selectFrom('secret_keys').select('id').execute();
  expect(rows).toHaveLength(1);
  return rows[0]!.id;
}

const expectFromTheSuite = (e: Entry) => {
  expect(LOOPBACK, `ip of ${e.type}`).toContain(e.ip);
  expect(e.user_agent, `user_agent of ${e.type}`).toBe(UA);
};

// ---------------------------------------------------------------- auth events

describe.each(dialects())('audit log: auth events (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock, env: { LATCHKEY_RATE_LIMITS: ROOMY_LIMITS } });
    const res = await server.api('/v1/instance', { method: 'PATCH', json: { lockout_max_attempts: 3, lockout_minutes: 15 } });
    expect(res.status).toBe(200);
  });
  afterAll(() => server?.close());

  it('sign-up completion: user.signed_up once, by the new user, with ip and user agent; no user.created', async () => {
    const { userId } = await signUp(server, 'newcomer@example.com', 'a long and lovely passphrase');
    const e = await one(server, 'user.signed_up', userId);
    expect(e).toMatchObject({ object: 'audit_log', actor: { type: 'user', id: userId }, target: { type: 'user', id: userId }, data: { role: null } });
    expect(e.id).toMatch(/^aud_/);
    expectFromTheSuite(e);
    expect(await audit(server, { types: 'user.created', target_id: userId })).toEqual([]);
  });

  it('password sign-in: user.signed_in once with strategy password and the session id', async () => {
    const userId = await createUser(server, 'pw-in@example.com', 'the right password!');
    const { status, sid } = await signIn(server, 'pw-in@example.com', 'the right password!');
    expect(status).toBe(200);
    const e = await one(server, 'user.signed_in', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId }, data: { strategy: 'password', session_id: sid } });
    expectFromTheSuite(e);
  });

  it('email-code sign-in: user.signed_in once with strategy email_code', async () => {
    const userId = await createUser(server, 'code-in@example.com');
    const asked = await native(server, 'POST', '/v1/client/sign_ins/email_code', { identifier: 'code-in@example.com' });
    expect(asked.status).toBe(200);
    const code = await codeFor(server, 'code-in@example.com', 'sign_in');
    const done = await native(server, 'POST', '/v1/client/sign_ins/email_code/attempt', { identifier: 'code-in@example.com', code }, asked.token!);
    expect(done.status).toBe(200);
    const e = await one(server, 'user.signed_in', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId },
      data: { strategy: 'email_code', session_id: done.body.response.created_session_id } });
    expectFromTheSuite(e);
  });

  it('a wrong password: user.sign_in_failed once, reason wrong_password, targeting the user', async () => {
    const userId = await createUser(server, 'typo@example.com', 'the right password!');
    expect((await signIn(server, 'typo@example.com', 'not the password')).status).toBe(422);
    const e = await one(server, 'user.sign_in_failed', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId },
      data: { identifier: 'typo@example.com', strategy: 'password', reason: 'wrong_password' } });
    expectFromTheSuite(e);
    expect(JSON.stringify(e)).not.toContain('not the password');
    expect(await audit(server, { types: 'user.signed_in', target_id: userId })).toEqual([]);
  });

  it('an unknown identifier: user.sign_in_failed once, actor user with a null id, no target, only a digest of what was typed', async () => {
    // What was typed may be a pasted password: the entry keeps its SHA-256 (trimmed, lower-cased), never the text.
    const typed = '  Nobody-At-All@example.com ';
    const digest = createHash('sha256').update('nobody-at-all@example.com').digest('hex');
    expect((await signIn(server, typed, 'whatever it is')).status).toBe(422);
    const failed = (await audit(server, { types: 'user.sign_in_failed' })).filter((e) => e.data.identifier_sha256 === digest);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ actor: { type: 'user', id: null }, target: null,
      data: { identifier_sha256: digest, strategy: 'password', reason: 'unknown_identifier' } });
    expect(JSON.stringify(failed[0])).not.toContain('nobody-at-all');
    expectFromTheSuite(failed[0]!);
    // Filtering by the null actor's target finds nothing: the entry names no user.
    expect((await audit(server, { types: 'user.sign_in_failed', target_type: 'user' })).some((e) => e.data.identifier_sha256 === digest)).toBe(false);
  });

  it('lockout after N wrong passwords: N failures, user.locked_out once by the system, then locked_out refusals', async () => {
    const userId = await createUser(server, 'locky@example.com', 'the right password!');
    for (let i = 0; i < 3; i++) expect((await signIn(server, 'locky@example.com', `wrong ${i}`)).status).toBe(422);
    const lockedAt = clock.now();
    expect((await signIn(server, 'locky@example.com', 'the right password!')).status).toBe(403);
    expect((await signIn(server, 'locky@example.com', 'wrong again')).status).toBe(403);

    const e = await one(server, 'user.locked_out', userId);
    expect(e).toMatchObject({ actor: { type: 'system', id: null }, target: { type: 'user', id: userId },
      data: { failed_attempts: 3, until: lockedAt + 15 * 60_000 } });
    const failures = await audit(server, { types: 'user.sign_in_failed', target_id: userId });
    expect(failures.map((f) => f.data.reason)).toEqual(['wrong_password', 'wrong_password', 'wrong_password', 'locked_out', 'locked_out']);
    for (const f of failures) expect(f.actor).toEqual({ type: 'user', id: userId });
    // The lockout is written with the third failure, in its transaction.
    const all = await audit(server, { target_id: userId });
    expect(all.map((x) => x.type)).toEqual(['user.created', 'user.sign_in_failed', 'user.sign_in_failed', 'user.sign_in_failed', 'user.locked_out',
      'user.sign_in_failed', 'user.sign_in_failed']);
    expect(await audit(server, { types: 'user.signed_in', target_id: userId })).toEqual([]);
  });

  it('sign-out: user.signed_out once by the user, with the session id', async () => {
    const userId = await createUser(server, 'leaver@example.com', 'the right password!');
    const { sid, token } = await signIn(server, 'leaver@example.com', 'the right password!');
    const out = await native(server, 'POST', `/v1/client/sessions/${sid}/end`, {}, token!);
    expect(out.status).toBe(200);
    // Ending it again changes nothing and writes nothing.
    await native(server, 'POST', `/v1/client/sessions/${sid}/end`, {}, token!);
    const e = await one(server, 'user.signed_out', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId }, data: { session_id: sid } });
    expectFromTheSuite(e);
  });

  it('a token refused for a revoked session: session.revoked by the key, then session.token_refused once', async () => {
    const keyId = await secretKeyId(server);
    const userId = await createUser(server, 'revoked@example.com', 'the right password!');
    const { sid, token } = await signIn(server, 'revoked@example.com', 'the right password!');
    expect((await native(server, 'POST', `/v1/client/sessions/${sid}/tokens`, {}, token!)).status).toBe(200);
    expect((await server.api(`/v1/sessions/${sid}/revoke`, { method: 'POST', json: {} })).status).toBe(200);
    const tokenRes = await native(server, 'POST', `/v1/client/sessions/${sid}/tokens`, {}, token!);
    expect(tokenRes.status).toBe(422);
    expect(tokenRes.body.errors[0].code).toBe('session_not_active');

    const revoked = await one(server, 'session.revoked', userId);
    expect(revoked).toMatchObject({ actor: { type: 'secret_key', id: keyId }, target: { type: 'user', id: userId }, data: { session_id: sid } });
    const e = await one(server, 'session.token_refused', userId);
    expect(e).toMatchObject({ target: { type: 'user', id: userId }, data: { session_id: sid, reason: 'session_not_active', status: 'revoked' } });
    expectFromTheSuite(e);

    // Minting through the Backend API is refused too, and audited as the key's.
    expect((await server.api(`/v1/sessions/${sid}/tokens`, { method: 'POST', json: {} })).status).toBe(422);
    const both = await audit(server, { types: 'session.token_refused', target_id: userId });
    expect(both).toHaveLength(2);
    expect(both[1]).toMatchObject({ actor: { type: 'secret_key', id: keyId }, data: { session_id: sid, reason: 'session_not_active' } });

    // The end user asks for the Frontend API token, and the session names them: the actor is that user
    // (a null id is only for a sign-in with an identifier that names nobody).
    expect(e.actor).toEqual({ type: 'user', id: userId });
  });

  it('password change via /v1/me/change_password: user.password_changed once by the user, no password in it', async () => {
    const userId = await createUser(server, 'changer@example.com', 'the old long password');
    const { token } = await signIn(server, 'changer@example.com', 'the old long password');
    const res = await native(server, 'POST', '/v1/me/change_password',
      { current_password: 'the old long password', new_password: 'Brand-New-Passphrase-4711' }, token!);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const e = await one(server, 'user.password_changed', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId } });
    expect(e.data.fields).toContain('password');
    expectFromTheSuite(e);
    const text = JSON.stringify(e);
    expect(text).not.toContain('Brand-New-Passphrase-4711');
    expect(text).not.toContain('the old long password');
    // Not counted as an administrative update.
    expect(await audit(server, { types: 'user.updated', target_id: userId })).toEqual([]);
  });

  it('password change signing out the other sessions: user.password_changed records sessions_revoked (docs/audit-log.md)', async () => {
    const userId = await createUser(server, 'changer2@example.com', 'the old long password');
    const first = await signIn(server, 'changer2@example.com', 'the old long password');
    const other = await signIn(server, 'changer2@example.com', 'the old long password');
    const res = await native(server, 'POST', '/v1/me/change_password',
      { current_password: 'the old long password', new_password: 'Brand-New-Passphrase-4712', sign_out_of_other_sessions: true }, first.token!);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await (await server.api(`/v1/sessions/${other.sid}`)).json()).status).toBe('revoked');
    expect((await (await server.api(`/v1/sessions/${first.sid}`)).json()).status).toBe('active');
    const e = await one(server, 'user.password_changed', userId);
    expect(e.actor).toEqual({ type: 'user', id: userId });
    // As the reset does: the revocation is part of the change, in its transaction and its entry.
    expect(e.data.sessions_revoked).toBe(1);
  });

  it('password reset: user.password_reset once by the user, then signed in with the reset strategy', async () => {
    const userId = await createUser(server, 'forgetful@example.com', 'my old long password');
    const old = await signIn(server, 'forgetful@example.com', 'my old long password');
    expect(old.status).toBe(200);
    const asked = await native(server, 'POST', '/v1/client/password_resets', { identifier: 'forgetful@example.com' });
    expect(asked.status).toBe(200);
    const code = await codeFor(server, 'forgetful@example.com', 'reset_password');
    const done = await native(server, 'POST', '/v1/client/password_resets/attempt',
      { identifier: 'forgetful@example.com', code, password: 'Reset-Passphrase-0815-xyz' }, asked.token!);
    expect(done.status, JSON.stringify(done.body)).toBe(200);
    const e = await one(server, 'user.password_reset', userId);
    expect(e).toMatchObject({ actor: { type: 'user', id: userId }, target: { type: 'user', id: userId } });
    expect(e.data.fields).toContain('password');
    expect(e.data.sessions_revoked).toBe(1);
    expect(JSON.stringify(e)).not.toContain('Reset-Passphrase-0815-xyz');
    expectFromTheSuite(e);
    const signedIn = await audit(server, { types: 'user.signed_in', target_id: userId });
    expect(signedIn.map((x) => x.data)).toEqual([
      { strategy: 'password', session_id: old.sid },
      { strategy: 'reset_password_email_code', session_id: done.body.response.created_session_id },
    ]);
    expect(await audit(server, { types: 'user.updated', target_id: userId })).toEqual([]);
  });
});

// ---------------------------------------------------------------- administrative changes

describe.each(dialects())('audit log: administrative changes by the secret key (%s)', (dialect) => {
  let server: TestServer;
  let keyId: string;

  beforeAll(async () => {
    server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: ROOMY_LIMITS } });
    keyId = await secretKeyId(server);
    expect(keyId).toMatch(/^ak_/);
  });
  afterAll(() => server?.close());

  /** The Backend API with the suite's User-Agent. */
  const api = (path: string, method = 'GET', json?: unknown) =>
    server.api(path, { method, headers: { 'user-agent': UA }, ...(json === undefined ? {} : { json }) });
  const ok = async (res: Response) => {
    const body = await res.json();
    expect(res.status, JSON.stringify(body).slice(0, 300)).toBe(200);
    return body;
  };
  /** Exactly one entry of `type` for the target, made by the secret key from this suite. */
  const byKey = async (type: string, targetId: string) => {
    const e = await one(server, type, targetId);
    expect(e.actor).toEqual({ type: 'secret_key', id: keyId });
    expectFromTheSuite(e);
    return e;
  };

  it('user lifecycle: created, updated (field names only), metadata, role, ban, lock, sessions, deleted', async () => {
    await ok(await api('/v1/roles', 'POST', { key: 'editor', name: 'Editor', permissions: ['posts:edit'] }));
    const role = await byKey('role.created', 'editor');
    expect(role.target).toEqual({ type: 'role', id: 'editor' });

    const user = await ok(await api('/v1/users', 'POST', { email_address: ['admin-made@example.com'], first_name: 'Ada' }));
    const created = await byKey('user.created', user.id);
    expect(created.target).toEqual({ type: 'user', id: user.id });

    await ok(await api(`/v1/users/${user.id}`, 'PATCH', { first_name: 'Adeline', password: 'Hunter2-Is-Not-A-Password-9971' }));
    const updated = await byKey('user.updated', user.id);
    expect([...(updated.data.fields as string[])].sort()).toEqual(['first_name', 'password']);
    expect(JSON.stringify(updated)).not.toContain('Hunter2-Is-Not-A-Password-9971');
    expect(JSON.stringify(updated)).not.toContain('Adeline');

    await ok(await api(`/v1/users/${user.id}/metadata`, 'PATCH', { private_metadata: { stripe: 'cus_123' } }));
    const meta = await byKey('user.metadata_updated', user.id);
    expect(meta.data).toEqual({ mode: 'merge', documents: ['private_metadata'] });

    await ok(await api(`/v1/users/${user.id}/role`, 'POST', { role: 'editor' }));
    const roleChanged = await byKey('user.role_changed', user.id);
    expect(roleChanged.data).toEqual({ from: null, to: 'editor' });

    await ok(await api(`/v1/users/${user.id}/ban`, 'POST', { reason: 'spam' }));
    expect((await byKey('user.banned', user.id)).data).toEqual({ reason: 'spam', until: null, sessions_revoked: 0 });
    await ok(await api(`/v1/users/${user.id}/unban`, 'POST'));
    await byKey('user.unbanned', user.id);
    await ok(await api(`/v1/users/${user.id}/lock`, 'POST'));
    await byKey('user.locked', user.id);
    await ok(await api(`/v1/users/${user.id}/unlock`, 'POST'));
    await byKey('user.unlocked', user.id);

    const session = await ok(await api('/v1/sessions', 'POST', { user_id: user.id }));
    expect((await byKey('session.created', user.id)).data).toEqual({ session_id: session.id });
    await ok(await api(`/v1/sessions/${session.id}/revoke`, 'POST', {}));
    expect((await byKey('session.revoked', user.id)).data).toEqual({ session_id: session.id });

    await ok(await api(`/v1/users/${user.id}`, 'DELETE'));
    await byKey('user.deleted', user.id);

    // Everything about this user, in order, and nothing else.
    expect((await audit(server, { target_id: user.id })).map((e) => e.type)).toEqual([
      'user.created', 'user.updated', 'user.metadata_updated', 'user.role_changed', 'user.banned', 'user.unbanned',
      'user.locked', 'user.unlocked', 'session.created', 'session.revoked', 'user.deleted',
    ]);
  });

  it('a role set through public_metadata is audited as user.updated plus user.role_changed', async () => {
    await ok(await api('/v1/roles', 'POST', { key: 'viewer', name: 'Viewer' }));
    const id = await createUser(server, 'meta-role@example.com');
    await ok(await api(`/v1/users/${id}`, 'PATCH', { public_metadata: { role: 'viewer' } }));
    expect((await byKey('user.updated', id)).data).toEqual({ fields: ['public_metadata'] });
    expect((await byKey('user.role_changed', id)).data).toEqual({ from: null, to: 'viewer' });
    // Writing the same role again is an update but not a role change.
    await ok(await api(`/v1/users/${id}/metadata`, 'PATCH', { public_metadata: { role: 'viewer', plan: 'pro' } }));
    expect(await audit(server, { types: 'user.role_changed', target_id: id })).toHaveLength(1);
  });

  it('instance.updated names the changed settings', async () => {
    const before = await audit(server, { types: 'instance.updated' });
    await ok(await api('/v1/instance', 'PATCH', { lockout_minutes: 42, allow_self_delete: false }));
    const after = await audit(server, { types: 'instance.updated' });
    expect(after).toHaveLength(before.length + 1);
    const e = after.at(-1)!;
    expect(e).toMatchObject({ actor: { type: 'secret_key', id: keyId }, target: { type: 'instance', id: 'instance' } });
    expect([...(e.data.fields as string[])].sort()).toEqual(['allow_self_delete', 'lockout_minutes']);
    expectFromTheSuite(e);
  });

  it('roles: created, updated (fields), deleted', async () => {
    await ok(await api('/v1/roles', 'POST', { key: 'auditor', name: 'Auditor', permissions: ['logs:read'] }));
    expect((await byKey('role.created', 'auditor')).data).toEqual({ permissions: ['logs:read'] });
    await ok(await api('/v1/roles/auditor', 'PATCH', { name: 'Chief auditor' }));
    expect((await byKey('role.updated', 'auditor')).data).toEqual({ fields: ['name'] });
    await ok(await api('/v1/roles/auditor', 'DELETE'));
    const deleted = await byKey('role.deleted', 'auditor');
    expect(deleted.target).toEqual({ type: 'role', id: 'auditor' });
  });

  it('JWT templates: created, updated (fields), deleted', async () => {
    const t = await ok(await api('/v1/jwt_templates', 'POST', { name: 'audited', claims: { email: '{{user.primary_email_address}}' } }));
    const created = await byKey('jwt_template.created', t.id);
    expect(created).toMatchObject({ target: { type: 'jwt_template', id: t.id }, data: { name: 'audited' } });
    await ok(await api(`/v1/jwt_templates/${t.id}`, 'PATCH', { lifetime: 120 }));
    expect((await byKey('jwt_template.updated', t.id)).data).toEqual({ fields: ['lifetime'] });
    await ok(await api(`/v1/jwt_templates/${t.id}`, 'DELETE'));
    await byKey('jwt_template.deleted', t.id);
  });

  it('webhook endpoints: created by the key', async () => {
    const ep = await ok(await api('/v1/webhook_endpoints', 'POST', { url: 'http://127.0.0.1:9/hooks', events: ['user.created'] }));
    const e = await byKey('webhook_endpoint.created', ep.id);
    expect(e.target).toEqual({ type: 'webhook_endpoint', id: ep.id });
    expect(JSON.stringify(e)).not.toContain(ep.secret ?? 'whsec_');
  });

  it('every Backend API entry names this key', async () => {
    const byKeyType = await audit(server, { actor_type: 'secret_key' });
    expect(byKeyType.length).toBeGreaterThan(20);
    expect(new Set(byKeyType.map((e) => e.actor.id))).toEqual(new Set([keyId]));
    expect(await audit(server, { actor_id: keyId })).toEqual(byKeyType);
  });
});

// ---------------------------------------------------------------- refusals and no-op updates

describe.each(dialects())('audit log: a failed change leaves no entry (%s)', (dialect) => {
  let server: TestServer;
  let userId: string;

  beforeAll(async () => {
    server = await startServer(dialect);
    expect((await server.api('/v1/roles', { method: 'POST', json: { key: 'member', name: 'Member' } })).status).toBe(200);
    userId = await createUser(server, 'taken@example.com');
    expect((await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: 'member' } })).status).toBe(200);
  });
  afterAll(() => server?.close());

  /** Runs `act` and asserts the whole log, and the user's row, are as before. */
  async function leavesNoTrace(act: () => Promise<void>) {
    const before = await audit(server);
    const row = () => server.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirstOrThrow();
    const userBefore = await row();
    await act();
    expect(await audit(server)).toEqual(before);
    expect(await row()).toEqual(userBefore);
  }

  it('POST /v1/users with a taken email: 422 and no user.created', async () => {
    const created = (await audit(server, { types: 'user.created' })).length;
    await leavesNoTrace(async () => {
      const r = await refused(await server.api('/v1/users', { method: 'POST', json: { email_address: ['TAKEN@example.com'], first_name: 'Dup' } }));
      expect(r).toEqual({ code: 'form_identifier_exists', param: 'email_address' });
    });
    expect(await audit(server, { types: 'user.created' })).toHaveLength(created);
  });

  it('PATCH …/metadata naming an unknown role: 422 and no user.metadata_updated', async () => {
    await leavesNoTrace(async () => {
      const r = await refused(await server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { role: 'overlord' }, private_metadata: { x: 1 } } }));
      expect(r).toEqual({ code: 'role_unknown', param: 'public_metadata.role' });
    });
    expect(await audit(server, { types: 'user.metadata_updated' })).toEqual([]);
  });

  it('PATCH /v1/users/{id} with other fields and an unknown role: 422, nothing changes, no user.updated', async () => {
    await leavesNoTrace(async () => {
      const r = await refused(await server.api(`/v1/users/${userId}`, { method: 'PATCH', json: { first_name: 'Changed', public_metadata: { role: 'overlord' } } }));
      expect(r.code).toBe('role_unknown');
    });
    expect(await audit(server, { types: 'user.updated' })).toEqual([]);
  });

  it('POST /v1/users/{id}/role with an unknown role: 422 and no user.role_changed', async () => {
    const changes = (await audit(server, { types: 'user.role_changed' })).length;
    await leavesNoTrace(async () => {
      expect(await refused(await server.api(`/v1/users/${userId}/role`, { method: 'POST', json: { role: 'overlord' } })))
        .toEqual({ code: 'role_unknown', param: 'role' });
    });
    expect(await audit(server, { types: 'user.role_changed' })).toHaveLength(changes);
    expect(changes).toBe(1);
  });

  it('DELETE of a role in use: 422 role_in_use and no role.deleted', async () => {
    await leavesNoTrace(async () => {
      expect((await refused(await server.api('/v1/roles/member', { method: 'DELETE' }))).code).toBe('role_in_use');
    });
    expect(await audit(server, { types: 'role.deleted' })).toEqual([]);
  });

  it('POST /v1/roles with a taken key, PATCH /v1/instance naming an unknown role: no entries', async () => {
    await leavesNoTrace(async () => {
      expect(await refused(await server.api('/v1/roles', { method: 'POST', json: { key: 'member', name: 'Again' } })))
        .toEqual({ code: 'form_identifier_exists', param: 'key' });
      expect(await refused(await server.api('/v1/instance', { method: 'PATCH', json: { default_role: 'overlord' } })))
        .toEqual({ code: 'role_unknown', param: 'default_role' });
    });
    expect(await audit(server, { types: 'role.created' })).toHaveLength(1);
  });

  it('an update that changes nothing writes nothing', async () => {
    const current = await (await server.api('/v1/instance')).json();
    await leavesNoTrace(async () => {
      const res = await server.api('/v1/instance', { method: 'PATCH', json: { lockout_minutes: current.lockout_minutes } });
      expect(res.status).toBe(200);
    });
    expect(await audit(server, { types: 'instance.updated' })).toEqual([]);
    // And a real change right after is audited once, so the check above could fail.
    expect((await server.api('/v1/instance', { method: 'PATCH', json: { lockout_minutes: current.lockout_minutes + 1 } })).status).toBe(200);
    expect((await one(server, 'instance.updated')).data).toEqual({ fields: ['lockout_minutes'] });
  });
});

// ---------------------------------------------------------------- query API

describe.each(dialects())('audit log: GET /v1/audit_logs filters and paging (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  let keyId: string;
  let userId: string;
  /** Times at which the dataset's entries were written, a second apart. */
  const t: number[] = [];
  let all: Entry[];

  beforeAll(async () => {
    server = await startServer(dialect, { clock, env: { LATCHKEY_RATE_LIMITS: ROOMY_LIMITS } });
    keyId = await secretKeyId(server);
    const step = async (fn: () => Promise<unknown>) => {
      clock.advance(1000);
      t.push(clock.now());
      await fn();
    };
    await step(() => server.api('/v1/instance', { method: 'PATCH', json: { lockout_max_attempts: 2 } })); // t0 instance.updated
    await step(() => server.api('/v1/roles', { method: 'POST', json: { key: 'alpha', name: 'Alpha' } })); // t1 role.created
    await step(async () => { userId = await createUser(server, 'q@example.com', 'the right password!'); }); // t2 user.created
    await step(() => signIn(server, 'q@example.com', 'the right password!')); // t3 user.signed_in
    await step(() => signIn(server, 'q@example.com', 'wrong one')); // t4 user.sign_in_failed
    await step(() => signIn(server, 'q@example.com', 'wrong two')); // t5 user.sign_in_failed + user.locked_out
    await step(() => server.api('/v1/roles', { method: 'POST', json: { key: 'beta', name: 'Beta' } })); // t6 role.created
    await step(() => server.api(`/v1/users/${userId}/unlock`, { method: 'POST' })); // t7 user.unlocked
    await step(() => server.api('/v1/roles/beta', { method: 'PATCH', json: { name: 'Beta 2' } })); // t8 role.updated
    all = await audit(server);
  });
  afterAll(() => server?.close());

  const types = (list: Entry[]) => list.map((e) => e.type);

  it('the dataset: every entry in order, sequences strictly increasing, at the injected times', () => {
    expect(types(all)).toEqual(['instance.updated', 'role.created', 'user.created', 'user.signed_in', 'user.sign_in_failed',
      'user.sign_in_failed', 'user.locked_out', 'role.created', 'user.unlocked', 'role.updated']);
    expect(all.map((e) => e.created_at)).toEqual([t[0], t[1], t[2], t[3], t[4], t[5], t[5], t[6], t[7], t[8]]);
    for (let i = 1; i < all.length; i++) expect(all[i]!.sequence).toBeGreaterThan(all[i - 1]!.sequence);
    expect(new Set(all.map((e) => e.id)).size).toBe(all.length);
  });

  it('filters by actor_type and actor_id', async () => {
    expect(types(await audit(server, { actor_type: 'secret_key' }))).toEqual(['instance.updated', 'role.created', 'user.created', 'role.created', 'user.unlocked', 'role.updated']);
    expect(types(await audit(server, { actor_type: 'user' }))).toEqual(['user.signed_in', 'user.sign_in_failed', 'user.sign_in_failed']);
    expect(types(await audit(server, { actor_type: 'system' }))).toEqual(['user.locked_out']);
    expect(await audit(server, { actor_type: 'operator' })).toEqual([]);
    expect(types(await audit(server, { actor_id: userId }))).toEqual(['user.signed_in', 'user.sign_in_failed', 'user.sign_in_failed']);
    expect(await audit(server, { actor_id: keyId })).toEqual(await audit(server, { actor_type: 'secret_key' }));
    expect(await audit(server, { actor_id: 'ak_nobody' })).toEqual([]);
  });

  it('filters by target_id and target_type', async () => {
    expect(types(await audit(server, { target_id: userId }))).toEqual(['user.created', 'user.signed_in', 'user.sign_in_failed',
      'user.sign_in_failed', 'user.locked_out', 'user.unlocked']);
    expect(types(await audit(server, { target_id: 'beta' }))).toEqual(['role.created', 'role.updated']);
    expect((await audit(server, { target_type: 'role' })).map((e) => [e.type, e.target!.id])).toEqual([
      ['role.created', 'alpha'], ['role.created', 'beta'], ['role.updated', 'beta']]);
    expect(types(await audit(server, { target_type: 'instance' }))).toEqual(['instance.updated']);
    expect(types(await audit(server, { target_type: 'user', actor_type: 'secret_key' }))).toEqual(['user.created', 'user.unlocked']);
  });

  it('filters by types, as a comma list or repeated', async () => {
    const comma = await audit(server, { types: 'role.created,user.locked_out' });
    expect(types(comma)).toEqual(['role.created', 'user.locked_out', 'role.created']);
    expect(await audit(server, { types: ['role.created', 'user.locked_out'] })).toEqual(comma);
    expect(await audit(server, { 'types[]': ['role.created', 'user.locked_out'] })).toEqual(comma);
    expect(await audit(server, { types: 'no.such_type' })).toEqual([]);
  });

  it('filters by created_after / created_before (exclusive)', async () => {
    expect(types(await audit(server, { created_after: t[5] }))).toEqual(['role.created', 'user.unlocked', 'role.updated']);
    expect(types(await audit(server, { created_before: t[2] }))).toEqual(['instance.updated', 'role.created']);
    expect(types(await audit(server, { created_after: t[3], created_before: t[6] }))).toEqual(['user.sign_in_failed', 'user.sign_in_failed', 'user.locked_out']);
    expect(types(await audit(server, { created_after: t[4] - 1, created_before: t[4] + 1 }))).toEqual(['user.sign_in_failed']);
    expect(await audit(server, { created_after: t[8] })).toEqual([]);
    expect(await audit(server, { created_after: t[5], created_before: t[5] })).toEqual([]);
  });

  it('asc: pages through everything with after/next_after, without gaps or duplicates', async () => {
    const seen: Entry[] = [];
    let after: number | undefined;
    let pages = 0;
    for (;;) {
      const p = await page(server, { order: 'asc', limit: 3, ...(after === undefined ? {} : { after }) });
      pages++;
      expect(p.data.length).toBeLessThanOrEqual(3);
      expect(p.next_after).toBe(p.data.at(-1)?.sequence ?? after ?? 0);
      expect(p).not.toHaveProperty('next_before');
      seen.push(...p.data);
      if (!p.has_more) break;
      after = p.next_after;
    }
    expect(pages).toBe(Math.ceil(all.length / 3));
    expect(seen).toEqual(all);
    // The default order is asc; the default limit is 100.
    const dflt = await page(server);
    expect(dflt.data).toEqual(all);
    expect(dflt.has_more).toBe(false);
    // Past the end: empty, the cursor stays.
    const end = await page(server, { after: all.at(-1)!.sequence });
    expect(end).toEqual({ object: 'list', data: [], has_more: false, next_after: all.at(-1)!.sequence });
  });

  it('desc: pages newest first with before/next_before', async () => {
    const seen: Entry[] = [];
    let before: number | undefined;
    for (;;) {
      const p = await page(server, { order: 'desc', limit: 4, ...(before === undefined ? {} : { before }) });
      expect(p.next_before).toBe(p.data.at(-1)?.sequence ?? before ?? null);
      expect(p).not.toHaveProperty('next_after');
      seen.push(...p.data);
      if (!p.has_more) break;
      before = p.next_before!;
    }
    expect(seen).toEqual([...all].reverse());
    // Filters apply while paging too.
    const roles = await page(server, { order: 'desc', limit: 1, target_type: 'role' });
    expect(roles.data.map((e) => e.type)).toEqual(['role.updated']);
    expect(roles.has_more).toBe(true);
    const next = await page(server, { order: 'desc', limit: 5, target_type: 'role', before: roles.next_before! });
    expect(next.data.map((e) => [e.type, e.target!.id])).toEqual([['role.created', 'beta'], ['role.created', 'alpha']]);
    expect(next.has_more).toBe(false);
  });

  it('limit is 1 to 500', async () => {
    const p1 = await page(server, { limit: 1 });
    expect(p1.data).toEqual([all[0]]);
    expect(p1.has_more).toBe(true);
    expect((await page(server, { limit: 500 })).data).toEqual(all);
    for (const limit of ['0', '501', '-1', '2.5', 'ten']) {
      expect((await refused(await server.api(`/v1/audit_logs?limit=${limit}`))).param, limit).toBe('limit');
    }
  });

  it('bad values are refused with 422 naming the param', async () => {
    const cases: [string, string][] = [
      ['order=sideways', 'order'],
      ['created_after=abc', 'created_after'],
      ['created_before=-5', 'created_before'],
      ['after=x', 'after'],
      ['before=1.5', 'before'],
      ['actor_type=alien', 'actor_type'],
      ['frobnicate=1', 'frobnicate'],
    ];
    for (const [query, param] of cases) {
      const res = await server.api(`/v1/audit_logs?${query}`);
      expect((await refused(res)).param, query).toBe(param);
    }
    expect((await refused(await server.api('/v1/audit_logs/export?order=asc'))).param).toBe('order');
    expect((await refused(await server.api('/v1/audit_logs/export?created_after=soon'))).param).toBe('created_after');
  });

  it('needs the secret key', async () => {
    expect((await fetch(`${server.url}/v1/audit_logs`)).status).toBe(401);
    expect((await fetch(`${server.url}/v1/audit_logs/export`)).status).toBe(401);
  });
});

// ---------------------------------------------------------------- export

describe.each(dialects())('audit log: GET /v1/audit_logs/export (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
    for (const key of ['one', 'two', 'three']) {
      expect((await server.api('/v1/roles', { method: 'POST', json: { key, name: key } })).status).toBe(200);
    }
    await createUser(server, 'exported@example.com');
  });
  afterAll(() => server?.close());

  async function exported(params: Params = {}): Promise<Entry[]> {
    const res = await server.api(`/v1/audit_logs/export${qs(params)}`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/x-ndjson/);
    const text = await res.text();
    if (text === '') return [];
    expect(text.endsWith('\n')).toBe(true);
    return text.slice(0, -1).split('\n').map((line) => JSON.parse(line) as Entry);
  }

  it('one JSON entry per line, oldest first, equal to the asc list for the same filters', async () => {
    const everything = await exported();
    expect(everything.length).toBeGreaterThanOrEqual(4);
    expect(everything).toEqual(await audit(server));
    expect(everything[0]).toMatchObject({ object: 'audit_log', type: 'role.created', target: { type: 'role', id: 'one' } });
    const roles = await exported({ types: 'role.created', target_type: 'role' });
    expect(roles.map((e) => e.target!.id)).toEqual(['one', 'two', 'three']);
    expect(roles).toEqual(await audit(server, { types: 'role.created', target_type: 'role' }));
    expect(await exported({ after: roles[0]!.sequence, types: 'role.created' })).toEqual(roles.slice(1));
    expect(await exported({ types: 'no.such_type' })).toEqual([]);
  });

  it('pages internally past 1000 entries without gaps or duplicates', async () => {
    const now = Date.now();
    const rows = Array.from({ length: 2345 }, (_, i) => ({
      id: `aud_bulk${String(i).padStart(6, '0')}`, type: 'test.bulk', actor_type: 'system', actor_id: null, target_type: 'bulk', target_id: `b${i}`,
      ip: null, user_agent: null, data: JSON.stringify({ i }), created_at: now,
    }));
    for (let i = 0; i < rows.length; i += 500) await server.db.insertInto('audit_logs').values(rows.slice(i, i + 500)).execute();
    const lines = await exported({ types: 'test.bulk' });
    expect(lines).toHaveLength(2345);
    expect(lines.map((e) => e.data.i)).toEqual(rows.map((_, i) => i));
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.sequence).toBeGreaterThan(lines[i - 1]!.sequence);
    expect(lines).toEqual(await audit(server, { types: 'test.bulk' }));
    // The whole log too: the API entries first, then the bulk.
    const whole = await exported();
    expect(whole).toHaveLength(2345 + 4);
    expect(whole).toEqual(await audit(server));
  });
});

// ---------------------------------------------------------------- retention

describe.each(dialects())('audit log: retention (%s)', (dialect) => {
  let server: TestServer;
  const DAY = 24 * 3_600_000;

  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  const row = (id: string, type: string, createdAt: number) => ({
    id, type, actor_type: 'system', actor_id: null, target_type: null, target_id: null, ip: null, user_agent: null, data: '{}', created_at: createdAt,
  });

  it('removes entries older than the retention, in batches, and keeps the rest', async () => {
    const now = Date.now();
    expect((await server.api('/v1/roles', { method: 'POST', json: { key: 'kept', name: 'Kept' } })).status).toBe(200);
    const old = Array.from({ length: 1200 }, (_, i) => row(`aud_old${i}`, 'test.old', now - 400 * DAY + i));
    for (let i = 0; i < old.length; i += 400) await server.db.insertInto('audit_logs').values(old.slice(i, i + 400)).execute();
    await server.db.insertInto('audit_logs').values([row('aud_edge', 'test.edge', now - 365 * DAY + 60_000), row('aud_recent', 'test.recent', now - DAY)]).execute();

    expect(await applyAuditRetention(server.db, now, 365)).toBe(1200);
    expect((await audit(server)).map((e) => e.type)).toEqual(['role.created', 'test.edge', 'test.recent']);
    // Again: nothing left to remove.
    expect(await applyAuditRetention(server.db, now, 365)).toBe(0);

    // With a shorter retention the one near the edge goes; with `now` far ahead, everything.
    expect(await applyAuditRetention(server.db, now, 30)).toBe(1);
    expect((await audit(server)).map((e) => e.type)).toEqual(['role.created', 'test.recent']);
    expect(await applyAuditRetention(server.db, now + 1000 * DAY, 365)).toBe(2);
    expect(await audit(server)).toEqual([]);
  });
});

// ---------------------------------------------------------------- operator (CLI)

describe.each(dialects())('audit log: the operator through the CLI (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  it('keys rotate: signing_key.rotated once, by the operator, without ip or user agent; the CLI export agrees', async () => {
    const oldKid = (await server.db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').executeTakeFirstOrThrow()).kid;
    const run = await runCli(['keys', 'rotate'], serverEnv(server), 20_000);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const newKid = /New signing key (\S+) is active/.exec(run.stdout)![1]!;

    let operator: string | null;
    try {
      operator = userInfo().username;
    } catch {
      operator = null;
    }
    const e = await one(server, 'signing_key.rotated');
    expect(e).toMatchObject({ actor: { type: 'operator', id: operator }, target: { type: 'signing_key', id: newKid },
      ip: null, user_agent: null, data: { retired: [oldKid] } });
    expect(await audit(server, { actor_type: 'operator' })).toEqual([e]);

    const cliExport = await runCli(['audit-logs', 'export', '--types', 'signing_key.rotated'], serverEnv(server), 20_000);
    expect(cliExport.code).toBe(0);
    expect(cliExport.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([e]);
  });
});
