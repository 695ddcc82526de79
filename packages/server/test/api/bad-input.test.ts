import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorShape, type ErrorBody } from '../support/errors.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';

/**
 * The Backend API refuses bad input with the right status and Clerk's error
 * shape, and a refused request changes nothing: every refusal compares a
 * snapshot of every table before and after.
 */

interface Expected {
  status: number;
  code?: string;
  /** meta.param_name of the first error (or of some error, with `anyError`). */
  param?: string;
}

/** Asserts the exact Content-Type @clerk/backend needs to parse a body. */
function expectJsonContentType(res: Response, what: string) {
  expect(res.headers.get('content-type'), `Content-Type of ${what}`).toBe('application/json');
}

const big = (bytes: number) => 'x'.repeat(bytes);
const MiB = 1024 * 1024;

describe.each(dialects())('Backend API refuses bad input (%s)', (dialect) => {
  let server: TestServer;
  let userId: string;
  let otherUserId: string;
  let sessionId: string;
  let templateName: string;

  /** Any call; checks the Content-Type of whatever comes back. */
  async function call(method: string, path: string, init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; duplex?: 'half' } = {}) {
    const res = await server.api(path, { method, ...init } as RequestInit & { json?: unknown });
    expectJsonContentType(res, `${method} ${path} (${res.status})`);
    return res;
  }

  /**
   * Sends a request that must be refused and asserts the status, code, param
   * name, error shape, and that no table changed.
   */
  async function refused(
    method: string,
    path: string,
    init: { json?: unknown; body?: RequestInit['body']; headers?: Record<string, string>; duplex?: 'half' },
    expected: Expected,
  ): Promise<ErrorBody> {
    const what = `${method} ${path} ${init.json !== undefined ? JSON.stringify(init.json).slice(0, 120) : typeof init.body === 'string' ? init.body.slice(0, 120) : ''}`;
    const before = await snapshot(server.db);
    const res = await call(method, path, init);
    const body = (await res.json()) as ErrorBody;
    expect(res.status, `${what} → ${JSON.stringify(body).slice(0, 300)}`).toBe(expected.status);
    expectErrorShape(body, what);
    if (expected.code) expect(body.errors[0]!.code, what).toBe(expected.code);
    if (expected.param) expect(body.errors.map((e) => e.meta.param_name), what).toContain(expected.param);
    expect(await snapshot(server.db), `${what} changed the database`).toBe(before);
    return body;
  }

  beforeAll(async () => {
    server = await startServer(dialect);
    const u = await call('POST', '/v1/users', {
      json: { email_address: ['taken@example.com'], username: 'taken_name', external_id: 'ext-taken', first_name: 'Taken' },
    });
    expect(u.status).toBe(200);
    userId = ((await u.json()) as { id: string }).id;
    const other = await call('POST', '/v1/users', { json: { email_address: ['other@example.com'], username: 'other_name' } });
    expect(other.status).toBe(200);
    otherUserId = ((await other.json()) as { id: string }).id;
    const s = await call('POST', '/v1/sessions', { json: { user_id: userId } });
    expect(s.status).toBe(200);
    sessionId = ((await s.json()) as { id: string }).id;
    const t = await call('POST', '/v1/jwt_templates', { json: { name: 'tmpl_ok', claims: { role: '{{user.public_metadata.role}}' } } });
    expect(t.status).toBe(200);
    templateName = 'tmpl_ok';
  });
  afterAll(() => server?.close());

  /** The body-taking endpoints, each with a body it would accept. */
  const endpoints = () => [
    { method: 'POST', path: '/v1/users', ok: { email_address: ['fresh@example.com'] } },
    { method: 'PATCH', path: `/v1/users/${userId}`, ok: { first_name: 'New' } },
    { method: 'PATCH', path: `/v1/users/${userId}/metadata`, ok: { public_metadata: { a: 1 } } },
    { method: 'PUT', path: `/v1/users/${userId}/metadata`, ok: { public_metadata: { a: 1 } } },
    { method: 'POST', path: '/v1/sessions', ok: { user_id: userId } },
    { method: 'POST', path: `/v1/sessions/${sessionId}/tokens`, ok: { expires_in_seconds: 60 } },
    { method: 'POST', path: `/v1/sessions/${sessionId}/tokens/${templateName}`, ok: { expires_in_seconds: 60 } },
    { method: 'POST', path: '/v1/jwt_templates', ok: { name: 'another', claims: {} } },
    { method: 'PATCH', path: '/v1/instance', ok: { session_token_lifetime: 60 } },
  ];

  describe('unreadable bodies → 400 malformed_request', () => {
    const malformed = ['{', '{"email_address": [', "{'a': 1}", 'not json', '{"a":1}}', '{"a":1,}', '\u0000'];
    it('malformed JSON on every body-taking endpoint', async () => {
      for (const { method, path } of endpoints()) {
        for (const body of malformed) {
          await refused(method, path, { body, headers: { 'content-type': 'application/json' } }, { status: 400, code: 'malformed_request' });
        }
      }
    });

    it('a JSON value that is not an object (array, string, number, boolean, null) on every body-taking endpoint', async () => {
      const notObjects = ['[]', '[{"email_address":["arr@example.com"]}]', '"hello"', '"{\\"user_id\\":\\"x\\"}"', '42', 'true', 'null'];
      for (const { method, path } of endpoints()) {
        for (const body of notObjects) {
          await refused(method, path, { body, headers: { 'content-type': 'application/json' } }, { status: 400, code: 'malformed_request' });
        }
      }
    });

    it('ban (optional body), lock and revoke (no body) still refuse a malformed one', async () => {
      for (const path of [`/v1/users/${userId}/ban`, `/v1/users/${userId}/lock`, `/v1/sessions/${sessionId}/revoke`]) {
        await refused('POST', path, { body: '{', headers: { 'content-type': 'application/json' } }, { status: 400, code: 'malformed_request' });
        await refused('POST', path, { body: '[]', headers: { 'content-type': 'application/json' } }, { status: 400, code: 'malformed_request' });
      }
    });
  });

  describe('unknown fields → 422 form_param_unknown naming the field', () => {
    it('on every body-taking endpoint, next to otherwise valid fields', async () => {
      for (const { method, path, ok } of endpoints()) {
        await refused(method, path, { json: { ...ok, favourite_colour: 'teal' } },
          { status: 422, code: 'form_param_unknown', param: 'favourite_colour' });
      }
    });

    it('plausible but wrong names are unknown too (camelCase, other resources\' fields)', async () => {
      await refused('POST', '/v1/users', { json: { emailAddress: ['camel@example.com'] } }, { status: 422, code: 'form_param_unknown', param: 'emailAddress' });
      await refused('PATCH', `/v1/users/${userId}/metadata`, { json: { public_metadata: {}, secret_metadata: {} } },
        { status: 422, code: 'form_param_unknown', param: 'secret_metadata' });
      await refused('POST', '/v1/sessions', { json: { user_id: userId, client_id: 'client_x' } }, { status: 422, code: 'form_param_unknown', param: 'client_id' });
      await refused('POST', `/v1/sessions/${sessionId}/tokens`, { json: { expires_in_seconds: 60, template: 'tmpl_ok' } },
        { status: 422, code: 'form_param_unknown', param: 'template' });
      // A ban takes { reason, until }; the user JSON's `banned_until` or a `duration` are not ban fields, and
      // next to a valid reason they still refuse the whole ban (the session below stays active).
      await refused('POST', `/v1/users/${userId}/ban`, { json: { reason: 'spam', banned_until: 4_102_444_800_000 } },
        { status: 422, code: 'form_param_unknown', param: 'banned_until' });
      await refused('POST', `/v1/users/${userId}/ban`, { json: { reason: 'spam', duration: 5 } }, { status: 422, code: 'form_param_unknown', param: 'duration' });
    });

    it('names every unknown field when there are several', async () => {
      const body = await refused('POST', '/v1/users', { json: { email_address: ['several@example.com'], foo: 1, bar: 2 } },
        { status: 422, code: 'form_param_unknown' });
      expect(body.errors.map((e) => e.meta.param_name).sort()).toEqual(['bar', 'foo']);
    });
  });

  describe('wrong types → 422 form_param_format_invalid naming the field', () => {
    const cases: [method: string, path: () => string, json: Record<string, unknown>, param: string][] = [
      ['POST', () => '/v1/users', { email_address: 'single@example.com' }, 'email_address'],
      ['POST', () => '/v1/users', { email_address: ['ok@example.com'], first_name: 42 }, 'first_name'],
      ['POST', () => '/v1/users', { email_address: ['ok@example.com'], public_metadata: 'admin' }, 'public_metadata'],
      ['POST', () => '/v1/users', { email_address: ['ok@example.com'], public_metadata: ['admin'] }, 'public_metadata'],
      ['POST', () => '/v1/users', { email_address: ['ok@example.com'], skip_password_checks: 'yes' }, 'skip_password_checks'],
      ['POST', () => '/v1/users', { email_address: ['ok@example.com'], password: 12345678 }, 'password'],
      ['POST', () => '/v1/users', { username: null, external_id: 7 }, 'external_id'],
      ['PATCH', () => `/v1/users/${userId}`, { username: 12345 }, 'username'],
      ['PATCH', () => `/v1/users/${userId}`, { first_name: { a: 1 } }, 'first_name'],
      ['PATCH', () => `/v1/users/${userId}`, { create_organizations_limit: 'ten' }, 'create_organizations_limit'],
      // Organizations are not supported: a limit would be stored nowhere, so it is refused rather than dropped.
      ['PATCH', () => `/v1/users/${userId}`, { create_organizations_limit: 5 }, 'create_organizations_limit'],
      ['PATCH', () => `/v1/users/${userId}/metadata`, { public_metadata: 'x' }, 'public_metadata'],
      ['PATCH', () => `/v1/users/${userId}/metadata`, { private_metadata: [1, 2] }, 'private_metadata'],
      ['PUT', () => `/v1/users/${userId}/metadata`, { unsafe_metadata: 5 }, 'unsafe_metadata'],
      ['POST', () => '/v1/sessions', { user_id: 42 }, 'user_id'],
      ['POST', () => '/v1/sessions', { user_id: [userId] }, 'user_id'],
      ['POST', () => `/v1/sessions/${sessionId}/tokens`, { expires_in_seconds: '60' }, 'expires_in_seconds'],
      ['POST', () => `/v1/sessions/${sessionId}/tokens/${templateName}`, { expires_in_seconds: true }, 'expires_in_seconds'],
    ];
    it.each(cases.map(([m, p, j, param]) => ({ m, p, j, param, label: `${m} ${param} = ${JSON.stringify(j[param])}` })))(
      '$label', async ({ m, p, j, param }) => {
        await refused(m, p(), { json: j }, { status: 422, code: 'form_param_format_invalid', param });
      });

    it('null for a field that cannot be null is invalid, not missing', async () => {
      await refused('POST', '/v1/sessions', { json: { user_id: null } }, { status: 422, code: 'form_param_format_invalid', param: 'user_id' });
      await refused('PATCH', `/v1/users/${userId}/metadata`, { json: { public_metadata: null } }, { status: 422, code: 'form_param_format_invalid', param: 'public_metadata' });
    });

    it('right type, out-of-range or malformed value → 422 naming the field', async () => {
      await refused('POST', `/v1/sessions/${sessionId}/tokens`, { json: { expires_in_seconds: 0 } }, { status: 422, param: 'expires_in_seconds' });
      await refused('POST', `/v1/sessions/${sessionId}/tokens`, { json: { expires_in_seconds: 1.5 } }, { status: 422, param: 'expires_in_seconds' });
      await refused('POST', `/v1/sessions/${sessionId}/tokens`, { json: { expires_in_seconds: 604_801 } }, { status: 422, param: 'expires_in_seconds' });
      const bad = await refused('POST', '/v1/users', { json: { email_address: ['not-an-email'] } }, { status: 422, code: 'form_param_format_invalid' });
      expect(String(bad.errors[0]!.meta.param_name)).toMatch(/^email_address/);
      await refused('POST', '/v1/users', { json: { email_address: ['ok@example.com'], username: 'a b' } }, { status: 422, code: 'form_param_format_invalid', param: 'username' });
      // Address-list forms: mail software would send to another mailbox than the string shows.
      for (const address of ['Name <ok@example.com>', 'ok@example.com, other@example.com', 'x:ok@example.com;', 'a(b)@example.com', 'ok@example..com']) {
        const list = await refused('POST', '/v1/users', { json: { email_address: [address] } }, { status: 422, code: 'form_param_format_invalid' });
        expect(String(list.errors[0]!.meta.param_name), address).toMatch(/^email_address/);
      }
      await refused('POST', '/v1/users', { json: { phone_number: ['555-1234'] } }, { status: 422, code: 'form_param_format_invalid' });
    });

    it('a required field that is absent → 422 form_param_missing naming it', async () => {
      await refused('POST', '/v1/sessions', { json: {} }, { status: 422, code: 'form_param_missing', param: 'user_id' });
      await refused('POST', '/v1/sessions', { body: '' }, { status: 422, code: 'form_param_missing', param: 'user_id' });
      await refused('POST', '/v1/jwt_templates', { json: { name: 'no_claims' } }, { status: 422, code: 'form_param_missing', param: 'claims' });
      await refused('POST', '/v1/users', { json: { first_name: 'No identifier' } }, { status: 422, code: 'form_param_missing' });
    });
  });

  describe('bodies over 1 MiB → 413', () => {
    const oversized = () => JSON.stringify({ email_address: ['huge@example.com'], public_metadata: { blob: big(MiB + 10) } });

    it('with Content-Length', async () => {
      const body = oversized();
      expect(Buffer.byteLength(body)).toBeGreaterThan(MiB);
      await refused('POST', '/v1/users', { body, headers: { 'content-type': 'application/json' } }, { status: 413, code: 'request_body_too_large' });
      await refused('PATCH', `/v1/users/${userId}/metadata`, {
        body: JSON.stringify({ public_metadata: { blob: big(2 * MiB) } }), headers: { 'content-type': 'application/json' },
      }, { status: 413, code: 'request_body_too_large' });
    });

    it('chunked, without Content-Length', async () => {
      const bytes = new TextEncoder().encode(oversized());
      const stream = () => new ReadableStream<Uint8Array>({
        start(controller) {
          for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
          controller.close();
        },
      });
      await refused('POST', '/v1/users', { body: stream(), duplex: 'half', headers: { 'content-type': 'application/json' } },
        { status: 413, code: 'request_body_too_large' });
      await refused('POST', `/v1/sessions/${sessionId}/tokens`, { body: stream(), duplex: 'half', headers: { 'content-type': 'application/json' } },
        { status: 413, code: 'request_body_too_large' });
    });

    it('chunked over a raw HTTP/1.1 connection (Transfer-Encoding: chunked, no Content-Length)', async () => {
      const before = await snapshot(server.db);
      const { status, contentType, body } = await new Promise<{ status: number; contentType: string | undefined; body: string }>((resolve, reject) => {
        const req = httpRequest(`${server.url}/v1/users`, {
          method: 'POST',
          headers: { authorization: `Bearer ${server.secretKey}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => resolve({ status: res.statusCode!, contentType: res.headers['content-type'], body: text }));
        });
        req.on('error', reject);
        const payload = oversized();
        expect(req.getHeader('content-length')).toBeUndefined();
        for (let i = 0; i < payload.length; i += 100_000) req.write(payload.slice(i, i + 100_000));
        req.end();
      });
      expect(status).toBe(413);
      expect(contentType).toBe('application/json');
      expect((JSON.parse(body) as ErrorBody).errors[0]!.code).toBe('request_body_too_large');
      expect(await snapshot(server.db)).toBe(before);
    });

    it('a body just under the limit is read (and judged on its content, here too-large metadata → 422)', async () => {
      const body = JSON.stringify({ email_address: ['almost@example.com'], public_metadata: { blob: big(MiB - 200) } });
      expect(Buffer.byteLength(body)).toBeLessThan(MiB);
      await refused('POST', '/v1/users', { body, headers: { 'content-type': 'application/json' } },
        { status: 422, code: 'form_param_value_too_large', param: 'public_metadata' });
    });
  });

  describe('authentication → 401 authentication_invalid', () => {
    const validCreate = { email_address: ['unauth@example.com'] };
    const badHeaders = (): [string, Record<string, string>][] => [
      ['wrong secret key', { authorization: `Bearer ${server.secretKey.slice(0, -1)}${server.secretKey.endsWith('a') ? 'b' : 'a'}` }],
      ['made-up secret key', { authorization: 'Bearer sk_test_notarealkey' }],
      ['publishable key', { authorization: `Bearer ${server.publishableKey}` }],
      ['Basic scheme', { authorization: `Basic ${Buffer.from(`user:${server.secretKey}`).toString('base64')}` }],
      ['bare key without scheme', { authorization: server.secretKey }],
      ['Bearer without a key', { authorization: 'Bearer' }],
      ['Bearer with two words', { authorization: `Bearer ${server.secretKey} extra` }],
      ['empty header', { authorization: '' }],
    ];

    it('missing Authorization header', async () => {
      const before = await snapshot(server.db);
      for (const [method, path, json] of [
        ['POST', '/v1/users', validCreate], ['GET', '/v1/users', undefined], ['GET', `/v1/users/${userId}`, undefined],
        ['POST', '/v1/sessions', { user_id: userId }], ['POST', `/v1/sessions/${sessionId}/tokens`, {}], ['GET', '/v1/instance', undefined],
      ] as const) {
        const res = await fetch(`${server.url}${path}`, {
          method, headers: { 'content-type': 'application/json' }, body: json === undefined ? undefined : JSON.stringify(json),
        });
        expectJsonContentType(res, `${method} ${path} without auth`);
        expect(res.status).toBe(401);
        const body = (await res.json()) as ErrorBody;
        expectErrorShape(body, path);
        expect(body.errors[0]!.code).toBe('authentication_invalid');
      }
      expect(await snapshot(server.db)).toBe(before);
    });

    it.each(['wrong secret key', 'made-up secret key', 'publishable key', 'Basic scheme', 'bare key without scheme', 'Bearer without a key', 'Bearer with two words', 'empty header'])(
      '%s', async (label) => {
        const headers = badHeaders().find(([l]) => l === label)![1];
        await refused('POST', '/v1/users', { json: validCreate, headers }, { status: 401, code: 'authentication_invalid' });
        await refused('POST', `/v1/users/${userId}/ban`, { headers }, { status: 401, code: 'authentication_invalid' });
        await refused('DELETE', `/v1/users/${userId}`, { headers }, { status: 401, code: 'authentication_invalid' });
        await refused('POST', `/v1/sessions/${sessionId}/tokens`, { json: {}, headers }, { status: 401, code: 'authentication_invalid' });
        await refused('GET', '/v1/users', { headers }, { status: 401, code: 'authentication_invalid' });
      });

    it('authentication is checked before the body is looked at', async () => {
      await refused('POST', '/v1/users', { body: '{', headers: { authorization: 'Bearer sk_test_nope', 'content-type': 'application/json' } },
        { status: 401, code: 'authentication_invalid' });
      await refused('POST', '/v1/users', { json: { nope: 1 }, headers: { authorization: 'Bearer sk_test_nope' } },
        { status: 401, code: 'authentication_invalid' });
    });
  });

  describe('unknown ids → 404 resource_not_found', () => {
    const missingUser = 'user_2zzzzzzzzzzzzzzzzzzzzzzzzzz';
    const missingSession = 'sess_2zzzzzzzzzzzzzzzzzzzzzzzzzz';
    const missingTemplate = 'jtmpl_2zzzzzzzzzzzzzzzzzzzzzzzzz';

    it('users', async () => {
      const cases: [string, string, unknown][] = [
        ['GET', `/v1/users/${missingUser}`, undefined],
        ['PATCH', `/v1/users/${missingUser}`, { first_name: 'X' }],
        ['DELETE', `/v1/users/${missingUser}`, undefined],
        ['PATCH', `/v1/users/${missingUser}/metadata`, { public_metadata: { a: 1 } }],
        ['PUT', `/v1/users/${missingUser}/metadata`, { public_metadata: { a: 1 } }],
        ['POST', `/v1/users/${missingUser}/ban`, undefined],
        ['POST', `/v1/users/${missingUser}/unban`, undefined],
        ['POST', `/v1/users/${missingUser}/lock`, undefined],
        ['POST', `/v1/users/${missingUser}/unlock`, undefined],
        ['POST', '/v1/sessions', { user_id: missingUser }],
      ];
      for (const [method, path, json] of cases) {
        await refused(method, path, json === undefined ? {} : { json }, { status: 404, code: 'resource_not_found' });
      }
    });

    it('sessions, and templates by name when minting', async () => {
      await refused('GET', `/v1/sessions/${missingSession}`, {}, { status: 404, code: 'resource_not_found' });
      await refused('POST', `/v1/sessions/${missingSession}/revoke`, {}, { status: 404, code: 'resource_not_found' });
      await refused('POST', `/v1/sessions/${missingSession}/tokens`, { json: {} }, { status: 404, code: 'resource_not_found' });
      await refused('POST', `/v1/sessions/${missingSession}/tokens/${templateName}`, { json: {} }, { status: 404, code: 'resource_not_found' });
      await refused('POST', `/v1/sessions/${sessionId}/tokens/no_such_template`, { json: {} }, { status: 404, code: 'resource_not_found' });
    });

    it('JWT templates', async () => {
      await refused('GET', `/v1/jwt_templates/${missingTemplate}`, {}, { status: 404, code: 'resource_not_found' });
      await refused('PATCH', `/v1/jwt_templates/${missingTemplate}`, { json: { lifetime: 60 } }, { status: 404, code: 'resource_not_found' });
      await refused('DELETE', `/v1/jwt_templates/${missingTemplate}`, {}, { status: 404, code: 'resource_not_found' });
    });

    it('a deleted user is gone for every user route', async () => {
      const created = await call('POST', '/v1/users', { json: { email_address: ['doomed@example.com'] } });
      const { id } = (await created.json()) as { id: string };
      expect((await call('DELETE', `/v1/users/${id}`)).status).toBe(200);
      await refused('GET', `/v1/users/${id}`, {}, { status: 404, code: 'resource_not_found' });
      await refused('PATCH', `/v1/users/${id}`, { json: { first_name: 'Back' } }, { status: 404, code: 'resource_not_found' });
      await refused('PATCH', `/v1/users/${id}/metadata`, { json: { public_metadata: { a: 1 } } }, { status: 404, code: 'resource_not_found' });
      await refused('POST', `/v1/users/${id}/ban`, {}, { status: 404, code: 'resource_not_found' });
      await refused('DELETE', `/v1/users/${id}`, {}, { status: 404, code: 'resource_not_found' });
      await refused('POST', '/v1/sessions', { json: { user_id: id } }, { status: 404, code: 'resource_not_found' });
    });

    it('unknown routes', async () => {
      await refused('GET', '/v1/nope', {}, { status: 404, code: 'resource_not_found' });
      await refused('POST', '/v1/users/bulk', { json: {} }, { status: 404 });
    });
  });

  describe('taken identifiers → 422 form_identifier_exists', () => {
    it('duplicate email address, case-insensitively', async () => {
      for (const email of ['taken@example.com', 'TAKEN@example.com', 'Taken@Example.COM']) {
        await refused('POST', '/v1/users', { json: { email_address: [email] } }, { status: 422, code: 'form_identifier_exists', param: 'email_address' });
      }
      // Among several addresses, and twice in one request.
      await refused('POST', '/v1/users', { json: { email_address: ['new1@example.com', 'taken@EXAMPLE.com'] } },
        { status: 422, code: 'form_identifier_exists', param: 'email_address' });
      await refused('POST', '/v1/users', { json: { email_address: ['twice@example.com', 'Twice@example.com'] } },
        { status: 422, code: 'form_identifier_exists', param: 'email_address' });
    });

    it('duplicate username and external_id, on create and on update', async () => {
      await refused('POST', '/v1/users', { json: { email_address: ['u1@example.com'], username: 'taken_name' } },
        { status: 422, code: 'form_identifier_exists', param: 'username' });
      await refused('POST', '/v1/users', { json: { email_address: ['u2@example.com'], external_id: 'ext-taken' } },
        { status: 422, code: 'form_identifier_exists', param: 'external_id' });
      await refused('POST', '/v1/users', { json: { external_id: 'ext-taken' } },
        { status: 422, code: 'form_identifier_exists', param: 'external_id' });
      await refused('PATCH', `/v1/users/${otherUserId}`, { json: { username: 'taken_name' } },
        { status: 422, code: 'form_identifier_exists', param: 'username' });
      await refused('PATCH', `/v1/users/${otherUserId}`, { json: { external_id: 'ext-taken', first_name: 'Not applied' } },
        { status: 422, code: 'form_identifier_exists', param: 'external_id' });
      // Setting a user's own identifiers again is not a conflict.
      const same = await call('PATCH', `/v1/users/${userId}`, { json: { username: 'taken_name', external_id: 'ext-taken' } });
      expect(same.status).toBe(200);
    });

    it('concurrent creates of one address: exactly one wins, the rest get form_identifier_exists, one user row', async () => {
      const before = ((await server.db.selectFrom('users').select('id').execute()) as unknown[]).length;
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        call('POST', '/v1/users', { json: { email_address: [i % 2 ? 'Race@Example.com' : 'race@example.com'], first_name: `racer${i}` } })
          .then(async (res) => ({ status: res.status, body: (await res.json()) as ErrorBody & { id?: string } }))));
      const ok = results.filter((r) => r.status === 200);
      const refusedOnes = results.filter((r) => r.status !== 200);
      expect(ok).toHaveLength(1);
      expect(refusedOnes).toHaveLength(9);
      for (const r of refusedOnes) {
        expect(r.status).toBe(422);
        expect(r.body.errors[0]!.code).toBe('form_identifier_exists');
        expect(r.body.errors[0]!.meta.param_name).toBe('email_address');
      }
      const rows = await server.db.selectFrom('email_addresses').selectAll().where('email_lower', '=', 'race@example.com').execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.user_id).toBe(ok[0]!.body.id);
      expect((await server.db.selectFrom('users').select('id').execute()).length).toBe(before + 1);
    });

    it('concurrent creates of one username: exactly one wins', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) =>
        call('POST', '/v1/users', { json: { email_address: [`uname${i}@example.com`], username: 'racing_name' } })
          .then(async (res) => ({ status: res.status, body: (await res.json()) as ErrorBody }))));
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of results.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(422);
        expect(r.body.errors[0]!.code).toBe('form_identifier_exists');
        // Whether the check or the unique index caught it, the field is named right.
        expect(r.body.errors[0]!.meta.param_name).toBe('username');
      }
      expect(await server.db.selectFrom('users').select('id').where('username', '=', 'racing_name').execute()).toHaveLength(1);
      const emails = await server.db.selectFrom('email_addresses').select('id').where('email_lower', 'like', 'uname%').execute();
      expect(emails).toHaveLength(1);
    });
  });

  describe('bad query parameters on GET /v1/users → 422 naming the parameter', () => {
    const cases: [query: string, param: string, code?: string][] = [
      ['limit=0', 'limit'],
      ['limit=abc', 'limit'],
      ['limit=-5', 'limit'],
      ['limit=1.5', 'limit'],
      ['limit=501', 'limit'],
      ['offset=-1', 'offset'],
      ['offset=x', 'offset'],
      ['order_by=bogus', 'order_by'],
      ['order_by=*created_at', 'order_by'],
      ['order_by=password_digest', 'order_by'],
      ['foo=bar', 'foo', 'form_param_unknown'],
      ['emailAddress=a@example.com', 'emailAddress', 'form_param_unknown'],
      ['created_at_before=yesterday', 'created_at_before'],
    ];
    it.each(cases)('GET /v1/users?%s', async (query, param, code) => {
      await refused('GET', `/v1/users?${query}`, {}, { status: 422, param, code: code ?? 'form_param_format_invalid' });
    });

    it('GET /v1/users/count refuses unknown parameters and bad values too', async () => {
      await refused('GET', '/v1/users/count?foo=bar', {}, { status: 422, code: 'form_param_unknown', param: 'foo' });
      await refused('GET', '/v1/users/count?created_at_after=soon', {}, { status: 422, code: 'form_param_format_invalid', param: 'created_at_after' });
    });

    it('GET /v1/sessions refuses bad parameters', async () => {
      await refused('GET', `/v1/sessions?user_id=${userId}&limit=0`, {}, { status: 422, param: 'limit' });
      await refused('GET', `/v1/sessions?user_id=${userId}&status=zombie`, {}, { status: 422, param: 'status' });
      await refused('GET', `/v1/sessions?user_id=${userId}&foo=1`, {}, { status: 422, code: 'form_param_unknown', param: 'foo' });
      await refused('GET', '/v1/sessions', {}, { status: 422, code: 'form_param_missing', param: 'user_id' });
    });

    it('the same parameters with good values are accepted (the refusals above are about the values)', async () => {
      const orderFields = ['created_at', 'updated_at', 'last_active_at', 'last_sign_in_at', 'first_name', 'last_name',
        'username', 'email_address', 'phone_number', 'web3wallet'];
      const orders = orderFields.flatMap((f) => [`order_by=${f}`, `order_by=-${f}`, `order_by=%2B${f}`]);
      for (const q of ['limit=1', 'limit=500', 'offset=0', ...orders, 'created_at_before=9999999999999']) {
        const res = await call('GET', `/v1/users?${q}`);
        expect(res.status, q).toBe(200);
        expect(Array.isArray(await res.json())).toBe(true);
      }
    });
  });

  describe('Content-Type is exactly application/json on every kind of response', () => {
    it('successes, errors, the JWKS, discovery and health', async () => {
      const paths: [string, string, unknown][] = [
        ['GET', '/v1/users', undefined],
        ['GET', '/v1/users/count', undefined],
        ['GET', `/v1/users/${userId}`, undefined],
        ['PATCH', `/v1/users/${userId}/metadata`, { public_metadata: { ct: true } }],
        ['GET', `/v1/sessions?user_id=${userId}&paginated=true`, undefined],
        ['GET', `/v1/sessions/${sessionId}`, undefined],
        ['POST', `/v1/sessions/${sessionId}/tokens`, {}],
        ['GET', '/v1/jwt_templates', undefined],
        ['GET', '/v1/instance', undefined],
        ['GET', '/v1/jwks', undefined],
      ];
      for (const [method, path, json] of paths) {
        const res = await call(method, path, json === undefined ? {} : { json });
        expect(res.status, `${method} ${path}`).toBe(200);
        await res.arrayBuffer();
      }
      for (const path of ['/health', '/.well-known/jwks.json', '/.well-known/openid-configuration', '/nope']) {
        const res = await fetch(`${server.url}${path}`);
        expectJsonContentType(res, path);
        await res.arrayBuffer();
      }
    });
  });
});
