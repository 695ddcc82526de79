import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { codeFor } from '../support/dev-outbox.js';
import { expectErrorShape, type ErrorBody } from '../support/errors.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';

/**
 * The Frontend API refuses bad input with the right status, code and parameter
 * name, as a native client, and a refused request changes nothing: every
 * refusal compares every table (snapshot() plus sign_ups, email_codes and
 * events) before and after. The one thing a refused sign-in does write is its
 * audit entry (user.sign_in_failed): those refusals compare every table but
 * audit_logs and check that exactly that one entry was added. Calls taking a
 * per-IP rate-limit point get a fresh server each, to stay under the limits.
 */

interface Expected {
  status: number;
  code?: string;
  /** meta.param_name values that must all appear among the errors. */
  params?: string[];
  /** A refused sign-in: the one user.sign_in_failed entry it must audit (and nothing else may change). */
  signInFailure?: SignInFailure;
}

/** What a refused sign-in's audit entry must say. */
interface SignInFailure {
  userId: string;
  identifier: string;
  strategy: 'password' | 'email_code';
  /** data.reason: the refusal's error code here. */
  reason: string;
}

interface SendInit {
  json?: unknown;
  body?: string | ReadableStream<Uint8Array>;
  token?: string;
  headers?: Record<string, string>;
}

const MiB = 1024 * 1024;
const PASSWORD = 'a sturdy long password';

/** Every table a Frontend API call could touch (but those in `except`), as one string. */
async function state(server: TestServer, except: Parameters<typeof snapshot>[1] = []): Promise<string> {
  const extra: Record<string, unknown[]> = {};
  for (const t of ['sign_ups', 'email_codes', 'events'] as const) {
    extra[t] = await server.db.selectFrom(t).selectAll().orderBy('id').execute();
  }
  return `${await snapshot(server.db, except)}\n${JSON.stringify(extra)}`;
}

interface AuditEntryJson {
  sequence: number;
  type: string;
  actor: { type: string; id: string | null };
  target: { type: string; id: string } | null;
  ip: string | null;
  data: Record<string, unknown>;
}

/** The sequence of the newest audit entry (0 when there is none), read through the Backend API. */
async function lastAuditSequence(server: TestServer): Promise<number> {
  const res = await server.api('/v1/audit_logs?order=desc&limit=1');
  expect(res.status).toBe(200);
  const list = (await res.json()) as { data: AuditEntryJson[] };
  return list.data[0]?.sequence ?? 0;
}

/** Every audit entry written after `sequence`, of any type, oldest first. */
async function auditSince(server: TestServer, sequence: number): Promise<AuditEntryJson[]> {
  const res = await server.api(`/v1/audit_logs?after=${sequence}&limit=500`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { data: AuditEntryJson[] }).data;
}

/** Asserts that the entries written after `sequence` are exactly one user.sign_in_failed per expected failure, in order. */
async function expectSignInFailures(server: TestServer, sequence: number, failures: SignInFailure[], what: string) {
  const entries = await auditSince(server, sequence);
  expect(entries.map((e) => ({ type: e.type, actor: e.actor, target: e.target, data: e.data })), `${what}: audit entries`).toEqual(
    failures.map((f) => ({
      type: 'user.sign_in_failed',
      actor: { type: 'user', id: f.userId },
      target: { type: 'user', id: f.userId },
      data: { identifier: f.identifier, strategy: f.strategy, reason: f.reason },
    })));
  for (const e of entries) expect(e.ip, `${what}: the entry records the request's address`).toBeTruthy();
}

/** A native-client request: `latchkey-native: 1`, plus the Bearer client token when given. */
async function send(server: TestServer, method: string, path: string, init: SendInit = {}) {
  const headers: Record<string, string> = { 'latchkey-native': '1', ...init.headers };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  let body: SendInit['body'];
  if (init.json !== undefined) body = JSON.stringify(init.json);
  else body = init.body;
  if (body !== undefined && !('content-type' in headers)) headers['content-type'] = 'application/json';
  const res = await fetch(`${server.url}${path}`, {
    method, headers, body, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
  } as RequestInit);
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed as any, token: res.headers.get('latchkey-client-token') };
}

/** Sends a request that must be refused; checks status, code, param names, shape, and that no table changed. */
async function refused(server: TestServer, method: string, path: string, init: SendInit, expected: Expected): Promise<ErrorBody> {
  const shown = init.json !== undefined ? JSON.stringify(init.json) : typeof init.body === 'string' ? init.body : init.body ? '<stream>' : '<no body>';
  const what = `${method} ${path} ${shown.slice(0, 120)}`;
  // A refused sign-in is audited: compare everything else, and check its entry on its own.
  const except = expected.signInFailure ? (['audit_logs'] as const) : [];
  const before = await state(server, [...except]);
  const auditBefore = expected.signInFailure ? await lastAuditSequence(server) : 0;
  const res = await send(server, method, path, init);
  const body = res.body as ErrorBody;
  expect(res.status, `${what} → ${JSON.stringify(body).slice(0, 400)}`).toBe(expected.status);
  expectErrorShape(body, what);
  if (expected.code) expect(body.errors.map((e) => e.code), `${what} → ${JSON.stringify(body).slice(0, 400)}`).toContain(expected.code);
  for (const p of expected.params ?? []) {
    const entry = body.errors.find((e) => e.meta.param_name === p);
    expect(entry, `${what}: no error names ${p} → ${JSON.stringify(body).slice(0, 400)}`).toBeDefined();
    if (expected.code) expect(entry!.code, what).toBe(expected.code);
  }
  expect(res.token, `${what} issued a client token`).toBeNull();
  expect(await state(server, [...except]), `${what} changed the database`).toBe(before);
  if (expected.signInFailure) await expectSignInFailures(server, auditBefore, [expected.signInFailure], what);
  return body;
}

/** A user made through the Backend API, signed in as a native client. */
async function signedIn(server: TestServer, email: string) {
  const created = await server.api('/v1/users', { method: 'POST', json: { email_address: [email], password: PASSWORD } });
  expect(created.status).toBe(200);
  const userId = ((await created.json()) as { id: string }).id;
  const res = await send(server, 'POST', '/v1/client/sign_ins', { json: { identifier: email, password: PASSWORD } });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  expect(res.token).toBeTruthy();
  return { userId, token: res.token!, sid: res.body.response.created_session_id as string };
}

/** A body-taking endpoint and what is wrong with it. */
interface Spec {
  method: string;
  path: () => string;
  /** The Bearer client token, for calls that need an existing client. */
  token?: () => string;
  /** A body the call would accept. */
  ok: Record<string, unknown>;
  required: string[];
  /** Bodies with one wrong field, and that field's name. */
  wrong: [Record<string, unknown>, string][];
  /** Fewer probes, for the sign-up call's 10-per-minute IP limit. */
  frugal?: boolean;
}

const MALFORMED = ['{', 'not json', '{"identifier":"x",}', "{'a': 1}", '{"x":"a\\u0000b"}'];
const NON_OBJECTS = ['[]', '[{"identifier":"x"}]', '"a string"', '42', 'null', 'true'];

/** Registers the bad-input tests of one endpoint; `get` gives the server once it has started. */
function badInput(get: () => TestServer, spec: Spec) {
  const init = (extra: SendInit): SendInit => ({ token: spec.token?.(), ...extra });

  it('malformed JSON → 400 malformed_request', async () => {
    for (const body of spec.frugal ? MALFORMED.slice(0, 1).concat(MALFORMED.slice(-1)) : MALFORMED) {
      await refused(get(), spec.method, spec.path(), init({ body }), { status: 400, code: 'malformed_request' });
    }
  });

  it('a body that is not a JSON object → 400 malformed_request', async () => {
    for (const body of spec.frugal ? [NON_OBJECTS[0]!, NON_OBJECTS[2]!] : NON_OBJECTS) {
      await refused(get(), spec.method, spec.path(), init({ body }), { status: 400, code: 'malformed_request' });
    }
  });

  it('an unknown field → 422 form_param_unknown naming it', async () => {
    await refused(get(), spec.method, spec.path(), init({ json: { ...spec.ok, bogus_field: 1 } }), {
      status: 422, code: 'form_param_unknown', params: ['bogus_field'],
    });
  });

  if (spec.wrong.length) {
    it('a wrongly typed or formatted field → 422 form_param_format_invalid naming it', async () => {
      for (const [body, param] of spec.wrong) {
        await refused(get(), spec.method, spec.path(), init({ json: body }), { status: 422, code: 'form_param_format_invalid', params: [param] });
      }
    });
  }

  if (spec.required.length) {
    it('missing required fields → 422 form_param_missing naming them', async () => {
      await refused(get(), spec.method, spec.path(), init({ json: {} }), { status: 422, code: 'form_param_missing', params: spec.required });
      if (!spec.frugal) {
        // An empty body counts as {}.
        await refused(get(), spec.method, spec.path(), init({}), { status: 422, code: 'form_param_missing', params: spec.required });
        if (spec.required.length > 1) {
          for (const r of spec.required) {
            const { [r]: _omitted, ...rest } = spec.ok;
            await refused(get(), spec.method, spec.path(), init({ json: rest }), { status: 422, code: 'form_param_missing', params: [r] });
          }
        }
      }
    });
  }

  it('a body of many unknown fields → 422 with at most 20 errors, not one per field', async () => {
    const many = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 0]));
    const body = await refused(get(), spec.method, spec.path(), init({ json: { ...spec.ok, ...many } }), {
      status: 422, code: 'form_param_unknown', params: ['k0'],
    });
    expect(body.errors.length).toBeLessThanOrEqual(20);
  });

  it('a body over 1 MiB → 413 request_body_too_large (declared length and chunked)', async () => {
    const huge = JSON.stringify({ ...spec.ok, padding: 'x'.repeat(MiB) });
    await refused(get(), spec.method, spec.path(), init({ body: huge }), { status: 413, code: 'request_body_too_large' });
    const bytes = new TextEncoder().encode(huge);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    await refused(get(), spec.method, spec.path(), init({ body: stream }), { status: 413, code: 'request_body_too_large' });
  });

}

describe.each(dialects())('Frontend API refuses bad input (%s)', (dialect) => {
  /** Starts a fresh server for the enclosing describe block. */
  function freshServer(opts: Parameters<typeof startServer>[1] = {}) {
    const holder: { server?: TestServer } = {};
    beforeAll(async () => {
      holder.server = await startServer(dialect, opts);
    });
    afterAll(() => holder.server?.close());
    return () => holder.server!;
  }

  // Each call that takes a sign-in or sign-up IP point gets its own server.
  describe('POST /v1/client/sign_ups', () => {
    const get = freshServer();
    badInput(get, {
      method: 'POST', path: () => '/v1/client/sign_ups', frugal: true,
      ok: { email_address: 'newcomer@example.com', password: 'a long and lovely passphrase' },
      required: ['email_address', 'password'],
      wrong: [
        [{ email_address: 42, password: 'a long and lovely passphrase' }, 'email_address'],
        [{ email_address: 'newcomer@example.com', password: 'a long and lovely passphrase', unsafe_metadata: 'not an object' }, 'unsafe_metadata'],
      ],
    });
  });

  describe('POST /v1/client/sign_ups with an address list for an address', () => {
    const get = freshServer();
    it('is refused: mail software would send the code to another mailbox than the string shows', async () => {
      for (const email_address of ['anything<victim@example.com>', 'me@example.com,company.com']) {
        await refused(get(), 'POST', '/v1/client/sign_ups', { json: { email_address, password: 'a long and lovely passphrase' } },
          { status: 422, code: 'form_param_format_invalid', params: ['email_address'] });
      }
    });
  });

  describe('POST /v1/client/sign_ins', () => {
    const get = freshServer();
    beforeAll(async () => {
      await get().api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: PASSWORD } });
    });
    badInput(get, {
      method: 'POST', path: () => '/v1/client/sign_ins',
      ok: { identifier: 'known@example.com', password: PASSWORD },
      required: ['identifier', 'password'],
      wrong: [
        [{ identifier: 42, password: PASSWORD }, 'identifier'],
        [{ identifier: 'known@example.com', password: [PASSWORD] }, 'password'],
        [{ identifier: '', password: PASSWORD }, 'identifier'],
      ],
    });
  });

  describe('POST /v1/client/sign_ins/email_code', () => {
    const get = freshServer();
    beforeAll(async () => {
      await get().api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: PASSWORD } });
    });
    badInput(get, {
      method: 'POST', path: () => '/v1/client/sign_ins/email_code',
      ok: { identifier: 'known@example.com' },
      required: ['identifier'],
      wrong: [[{ identifier: { email: 'known@example.com' } }, 'identifier'], [{ identifier: null }, 'identifier']],
    });
  });

  describe('POST /v1/client/sign_ins/email_code/attempt', () => {
    const get = freshServer();
    beforeAll(async () => {
      await get().api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: PASSWORD } });
    });
    badInput(get, {
      method: 'POST', path: () => '/v1/client/sign_ins/email_code/attempt',
      ok: { identifier: 'known@example.com', code: '123456' },
      required: ['identifier', 'code'],
      wrong: [[{ identifier: 'known@example.com', code: 123456 }, 'code'], [{ identifier: true, code: '123456' }, 'identifier']],
    });
  });

  describe('POST /v1/client/password_resets', () => {
    const get = freshServer();
    beforeAll(async () => {
      await get().api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: PASSWORD } });
    });
    badInput(get, {
      method: 'POST', path: () => '/v1/client/password_resets',
      ok: { identifier: 'known@example.com' },
      required: ['identifier'],
      wrong: [[{ identifier: ['known@example.com'] }, 'identifier'], [{ identifier: 'x'.repeat(321) }, 'identifier']],
    });
  });

  describe('POST /v1/client/password_resets/attempt', () => {
    const get = freshServer();
    beforeAll(async () => {
      await get().api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: PASSWORD } });
    });
    badInput(get, {
      method: 'POST', path: () => '/v1/client/password_resets/attempt',
      ok: { identifier: 'known@example.com', code: '123456', password: 'a brand new long passphrase' },
      required: ['identifier', 'code', 'password'],
      wrong: [
        [{ identifier: 'known@example.com', code: '123456', password: 12345678 }, 'password'],
        [{ identifier: 'known@example.com', code: { value: '123456' }, password: 'a brand new long passphrase' }, 'code'],
      ],
    });
  });

  // Calls that need an existing client (and take no rate-limit point): one server.
  describe('calls on an existing client', () => {
    const get = freshServer();
    const ctx = { token: '', sid: '', signUpId: '', signUpToken: '', emailId: '' };

    beforeAll(async () => {
      const server = get();
      const me = await signedIn(server, 'member@example.com');
      ctx.token = me.token;
      ctx.sid = me.sid;
      const started = await send(server, 'POST', '/v1/client/sign_ups', { json: { email_address: 'pending@example.com', password: 'a long and lovely passphrase' } });
      expect(started.status, JSON.stringify(started.body)).toBe(200);
      ctx.signUpId = started.body.response.id;
      ctx.signUpToken = started.token!;
      const user = await send(server, 'GET', '/v1/me', { token: ctx.token });
      expect(user.status).toBe(200);
      ctx.emailId = user.body.primary_email_address_id;
    });

    const empty = (method: string, path: () => string) => ({ method, path, token: () => ctx.token, ok: {}, required: [], wrong: [] });

    describe('POST /sign_ups/{id}/prepare_verification', () => badInput(get, {
      method: 'POST', path: () => `/v1/client/sign_ups/${ctx.signUpId}/prepare_verification`, token: () => ctx.signUpToken,
      ok: { strategy: 'email_code' }, required: [],
      wrong: [[{ strategy: 'phone_code' }, 'strategy'], [{ strategy: 5 }, 'strategy']],
    }));
    describe('POST /sign_ups/{id}/attempt_verification', () => badInput(get, {
      method: 'POST', path: () => `/v1/client/sign_ups/${ctx.signUpId}/attempt_verification`, token: () => ctx.signUpToken,
      ok: { code: '123456' }, required: ['code'],
      wrong: [[{ code: 123456 }, 'code'], [{ code: '1'.repeat(17) }, 'code']],
    }));
    describe('POST /sessions/{sid}/tokens', () => badInput(get, empty('POST', () => `/v1/client/sessions/${ctx.sid}/tokens`)));
    describe('POST /sessions/{sid}/tokens/{template}', () => badInput(get, empty('POST', () => `/v1/client/sessions/${ctx.sid}/tokens/convex`)));
    describe('POST /sessions/{sid}/touch', () => badInput(get, empty('POST', () => `/v1/client/sessions/${ctx.sid}/touch`)));
    describe('POST /sessions/{sid}/end', () => badInput(get, empty('POST', () => `/v1/client/sessions/${ctx.sid}/end`)));
    describe('PATCH /v1/me', () => badInput(get, {
      method: 'PATCH', path: () => '/v1/me', token: () => ctx.token, ok: { first_name: 'Mo' }, required: [],
      wrong: [
        [{ first_name: 5 }, 'first_name'],
        [{ username: 'ab' }, 'username'],
        [{ unsafe_metadata: 'dark' }, 'unsafe_metadata'],
        [{ unsafe_metadata: ['dark'] }, 'unsafe_metadata'],
      ],
    }));
    it('PATCH /v1/me refuses public_metadata as unknown', async () => {
      await refused(get(), 'PATCH', '/v1/me', { token: ctx.token, json: { public_metadata: { role: 'admin' } } }, {
        status: 422, code: 'form_param_unknown', params: ['public_metadata'],
      });
    });
    describe('POST /v1/me/change_password', () => badInput(get, {
      method: 'POST', path: () => '/v1/me/change_password', token: () => ctx.token,
      ok: { current_password: PASSWORD, new_password: 'another sturdy passphrase' }, required: ['current_password', 'new_password'],
      wrong: [
        [{ current_password: 5, new_password: 'another sturdy passphrase' }, 'current_password'],
        [{ current_password: PASSWORD, new_password: null }, 'new_password'],
        [{ current_password: PASSWORD, new_password: 'another sturdy passphrase', sign_out_of_other_sessions: 'yes' }, 'sign_out_of_other_sessions'],
      ],
    }));
    describe('POST /v1/me/sessions/{sid}/revoke', () => badInput(get, empty('POST', () => `/v1/me/sessions/${ctx.sid}/revoke`)));
    describe('POST /v1/me/email_addresses', () => badInput(get, {
      method: 'POST', path: () => '/v1/me/email_addresses', token: () => ctx.token,
      ok: { email_address: 'extra@example.com' }, required: ['email_address'],
      wrong: [[{ email_address: ['extra@example.com'] }, 'email_address'], [{ email_address: 'not-an-address' }, 'email_address'],
        ...['n<i><flood@example.com>', 'ceo:victim@example.com;', 'a(b)@example.com', '"q"@example.com', '.a@example.com', 'a..b@example.com']
          .map((email_address) => [{ email_address }, 'email_address'] as [Record<string, unknown>, string])],
    }));
    describe('POST /v1/me/email_addresses/{id}/attempt_verification', () => badInput(get, {
      method: 'POST', path: () => `/v1/me/email_addresses/${ctx.emailId}/attempt_verification`, token: () => ctx.token,
      ok: { code: '123456' }, required: ['code'], wrong: [[{ code: 123456 }, 'code']],
    }));
    describe('POST /v1/me/email_addresses/{id}/make_primary', () => badInput(get, empty('POST', () => `/v1/me/email_addresses/${ctx.emailId}/make_primary`)));
  });

  describe('sessions that are not this client\'s, and tokens that are not client tokens', () => {
    const get = freshServer();
    const ctx = { a: { token: '', sid: '', userId: '' }, b: { token: '', sid: '', userId: '' }, jwt: '' };

    beforeAll(async () => {
      ctx.a = await signedIn(get(), 'alice@example.com');
      ctx.b = await signedIn(get(), 'bob@example.com');
      const minted = await send(get(), 'POST', `/v1/client/sessions/${ctx.a.sid}/tokens`, { token: ctx.a.token, json: {} });
      expect(minted.status).toBe(200);
      ctx.jwt = minted.body.jwt;
    });

    const sessionCalls = (sid: () => string) => [
      `/v1/client/sessions/${sid()}/tokens`,
      `/v1/client/sessions/${sid()}/tokens/convex`,
      `/v1/client/sessions/${sid()}/touch`,
      `/v1/client/sessions/${sid()}/end`,
    ];

    it('an unknown session id → 404 on tokens, touch and end', async () => {
      for (const path of sessionCalls(() => 'sess_2zzzzzzzzzzzzzzzzzzzzzzzzzz')) {
        await refused(get(), 'POST', path, { token: ctx.a.token, json: {} }, { status: 404, code: 'resource_not_found' });
      }
    });

    it('another client\'s session → 404 on tokens, touch and end, and it stays active', async () => {
      for (const path of sessionCalls(() => ctx.b.sid)) {
        await refused(get(), 'POST', path, { token: ctx.a.token, json: {} }, { status: 404, code: 'resource_not_found' });
      }
      expect((await (await get().api(`/v1/sessions/${ctx.b.sid}`)).json()).status).toBe('active');
    });

    it('another client\'s session → 404 on /v1/me/sessions/{sid}/revoke', async () => {
      await refused(get(), 'POST', `/v1/me/sessions/${ctx.b.sid}/revoke`, { token: ctx.a.token, json: {} }, { status: 404, code: 'resource_not_found' });
    });

    it('an unknown JWT template → 404', async () => {
      await refused(get(), 'POST', `/v1/client/sessions/${ctx.a.sid}/tokens/no_such_template`, { token: ctx.a.token, json: {} }, { status: 404, code: 'resource_not_found' });
    });

    it('a Bearer token that is not a client token → 401 client_invalid', async () => {
      const server = get();
      const notClientTokens = [server.secretKey, server.publishableKey, ctx.jwt, 'garbage', `${ctx.a.token}x`];
      const calls: [string, string][] = [
        ['GET', '/v1/client'],
        ['POST', `/v1/client/sessions/${ctx.a.sid}/tokens`],
        ['POST', `/v1/client/sessions/${ctx.a.sid}/tokens/convex`],
        ['POST', `/v1/client/sessions/${ctx.a.sid}/touch`],
        ['POST', `/v1/client/sessions/${ctx.a.sid}/end`],
        ['DELETE', '/v1/client/sessions'],
        ['POST', `/v1/client/sign_ups/sua_2zzzzzzzzzzzzzzzzzzzzzzzzzz/prepare_verification`],
        ['POST', `/v1/client/sign_ups/sua_2zzzzzzzzzzzzzzzzzzzzzzzzzz/attempt_verification`],
        ['GET', '/v1/me'],
        ['PATCH', '/v1/me'],
        ['DELETE', '/v1/me'],
        ['GET', '/v1/me/sessions'],
        ['POST', '/v1/me/change_password'],
      ];
      const bodyFor = (path: string, method: string) => method === 'GET' || method === 'DELETE' ? undefined
        : path.endsWith('attempt_verification') ? { code: '123456' }
        : path.endsWith('change_password') ? { current_password: PASSWORD, new_password: 'another sturdy passphrase' }
        : path === '/v1/me' ? { first_name: 'Eve' } : {};
      for (const bad of notClientTokens) {
        for (const [method, path] of calls) {
          await refused(server, method, path, { token: bad, json: bodyFor(path, method) }, { status: 401, code: 'client_invalid' });
        }
      }
      // Not even a Bearer scheme.
      await refused(server, 'GET', '/v1/client', { headers: { authorization: `Basic ${ctx.a.token}` } }, { status: 401, code: 'client_invalid' });
      // A client-creating call does not create one for a bad Authorization header either.
      await refused(server, 'POST', '/v1/client/sign_ins', { token: 'garbage', json: { identifier: 'alice@example.com', password: PASSWORD } }, {
        status: 401, code: 'client_invalid',
      });
      expect((await (await server.api(`/v1/sessions/${ctx.a.sid}`)).json()).status).toBe('active');
    });
  });

  describe('email codes: used, expired, and after 5 wrong tries', () => {
    const clock = new ManualClock(Date.now());
    const get = freshServer({ clock });

    /** A 6-digit code other than `code`. */
    const other = (code: string) => code.replace(/^./, (d) => String((Number(d) + 1) % 10));

    async function startSignUp(email: string) {
      const res = await send(get(), 'POST', '/v1/client/sign_ups', { json: { email_address: email, password: 'a long and lovely passphrase' } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return { id: res.body.response.id as string, token: res.token!, code: await codeFor(get(), email, 'verification_code') };
    }
    const attemptSignUp = (s: { id: string; token: string }, code: string) =>
      send(get(), 'POST', `/v1/client/sign_ups/${s.id}/attempt_verification`, { token: s.token, json: { code } });

    async function rows(table: 'users' | 'sessions' | 'sign_ups' | 'events') {
      return JSON.stringify(await get().db.selectFrom(table).selectAll().orderBy('id').execute());
    }
    async function rowsExceptCodes() {
      return [await rows('users'), await rows('sessions'), await rows('sign_ups'), await rows('events')].join('\n');
    }

    it('sign-up: 5 wrong codes, then even the right one is refused; a new code works', async () => {
      const s = await startSignUp('wrongtries@example.com');
      const before = await rowsExceptCodes();
      for (let left = 4; left >= 0; left--) {
        const res = await attemptSignUp(s, other(s.code));
        expect(res.status).toBe(422);
        expect(res.body.errors[0]).toMatchObject({ code: 'form_code_incorrect', meta: { param_name: 'code', attempts_remaining: left } });
      }
      expect(await rowsExceptCodes(), 'wrong codes only count attempts').toBe(before);
      await refused(get(), 'POST', `/v1/client/sign_ups/${s.id}/attempt_verification`, { token: s.token, json: { code: s.code } }, {
        status: 422, code: 'verification_failed', params: ['code'],
      });
      await refused(get(), 'POST', `/v1/client/sign_ups/${s.id}/attempt_verification`, { token: s.token, json: { code: other(s.code) } }, {
        status: 422, code: 'verification_failed', params: ['code'],
      });
      expect(await get().db.selectFrom('users').select('id').execute()).toEqual([]);

      clock.advance(31_000); // past the resend cool-down
      const resent = await send(get(), 'POST', `/v1/client/sign_ups/${s.id}/prepare_verification`, { token: s.token, json: {} });
      expect(resent.status).toBe(200);
      const fresh = await codeFor(get(), 'wrongtries@example.com', 'verification_code');
      if (fresh !== s.code) {
        // The old code is void once a new one is sent.
        const old = await attemptSignUp(s, s.code);
        expect(old.body.errors[0].code).toBe('form_code_incorrect');
      }
      const ok = await attemptSignUp(s, fresh);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body.response.status).toBe('complete');
    });

    it('sign-up: an expired code is refused and changes nothing', async () => {
      const s = await startSignUp('expired@example.com');
      clock.advance(10 * 60_000);
      await refused(get(), 'POST', `/v1/client/sign_ups/${s.id}/attempt_verification`, { token: s.token, json: { code: s.code } }, {
        status: 422, code: 'verification_expired', params: ['code'],
      });
      expect((await get().db.selectFrom('sign_ups').select('status').where('id', '=', s.id).executeTakeFirstOrThrow()).status).toBe('missing_requirements');
    });

    it('sign-up: a used code creates nothing more (the completed sign-up is returned unchanged)', async () => {
      const s = await startSignUp('used@example.com');
      const done = await attemptSignUp(s, s.code);
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      const before = await state(get());
      // The verification signed in, so the client now travels with a new token.
      const again = await attemptSignUp({ ...s, token: done.token! }, s.code);
      expect(again.status).toBe(200);
      expect(again.body.response).toEqual(done.body.response);
      expect(await state(get()), 'replaying a used sign-up code changed the database').toBe(before);
      // Another client cannot use the sign-up (or its code) at all.
      const stranger = await signedIn(get(), 'stranger@example.com');
      await refused(get(), 'POST', `/v1/client/sign_ups/${s.id}/attempt_verification`, { token: stranger.token, json: { code: s.code } }, {
        status: 404, code: 'resource_not_found',
      });
    });

    async function requestSignInCode(email: string) {
      const created = await get().api('/v1/users', { method: 'POST', json: { email_address: [email], password: PASSWORD } });
      expect(created.status).toBe(200);
      const userId = ((await created.json()) as { id: string }).id;
      const res = await send(get(), 'POST', '/v1/client/sign_ins/email_code', { json: { identifier: email } });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return { userId, token: res.token!, code: await codeFor(get(), email, 'sign_in') };
    }
    /** The audit entry a refused email-code sign-in of `r`'s user must write. */
    const codeFailure = (r: { userId: string }, identifier: string, reason: string): SignInFailure =>
      ({ userId: r.userId, identifier, strategy: 'email_code', reason });
    const attemptSignIn = (token: string, identifier: string, code: string) =>
      send(get(), 'POST', '/v1/client/sign_ins/email_code/attempt', { token, json: { identifier, code } });

    it('email-code sign-in: 5 wrong codes, then even the right one is refused', async () => {
      const email = 'codewrong@example.com';
      const r = await requestSignInCode(email);
      const before = await rowsExceptCodes();
      const auditBefore = await lastAuditSequence(get());
      for (let left = 4; left >= 0; left--) {
        const res = await attemptSignIn(r.token, email, left === 2 ? 'abcdef' : other(r.code));
        expect(res.status).toBe(422);
        expect(res.body.errors[0]).toMatchObject({ code: 'form_code_incorrect', meta: { param_name: 'code', attempts_remaining: left } });
      }
      expect(await rowsExceptCodes(), 'wrong codes only count attempts').toBe(before);
      // ...and each is audited, once.
      await expectSignInFailures(get(), auditBefore, Array.from({ length: 5 }, () => codeFailure(r, email, 'form_code_incorrect')), 'five wrong codes');
      await refused(get(), 'POST', '/v1/client/sign_ins/email_code/attempt', { token: r.token, json: { identifier: email, code: r.code } }, {
        status: 422, code: 'verification_failed', params: ['code'], signInFailure: codeFailure(r, email, 'verification_failed'),
      });
    });

    it('email-code sign-in: an expired code is refused and changes nothing', async () => {
      const email = 'codeexpired@example.com';
      const r = await requestSignInCode(email);
      clock.advance(10 * 60_000);
      await refused(get(), 'POST', '/v1/client/sign_ins/email_code/attempt', { token: r.token, json: { identifier: email, code: r.code } }, {
        status: 422, code: 'verification_expired', params: ['code'], signInFailure: codeFailure(r, email, 'verification_expired'),
      });
    });

    it('email-code sign-in: a used code is refused and changes nothing', async () => {
      const email = 'codeused@example.com';
      const r = await requestSignInCode(email);
      const ok = await attemptSignIn(r.token, email, r.code);
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      // The sign-in gave the client a new token.
      await refused(get(), 'POST', '/v1/client/sign_ins/email_code/attempt', { token: ok.token!, json: { identifier: email, code: r.code } }, {
        status: 422, code: 'verification_expired', params: ['code'], signInFailure: codeFailure(r, email, 'verification_expired'),
      });
      // Nor from a new client (which is created, as documented, though the call fails).
      const before = await rowsExceptCodes();
      const auditBefore = await lastAuditSequence(get());
      const codes = JSON.stringify(await get().db.selectFrom('email_codes').selectAll().orderBy('id').execute());
      const fresh = await attemptSignIn('', email, r.code);
      expect(fresh.status).toBe(422);
      expect(fresh.body.errors[0].code).toBe('verification_expired');
      expect(await rowsExceptCodes()).toBe(before);
      await expectSignInFailures(get(), auditBefore, [codeFailure(r, email, 'verification_expired')], 'a used code from a new client');
      expect(JSON.stringify(await get().db.selectFrom('email_codes').selectAll().orderBy('id').execute())).toBe(codes);
    });
  });
});
