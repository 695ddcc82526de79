import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectErrorShape, type ErrorBody } from '../support/errors.js';
import { dialects, snapshot, startServer, type DialectName, type TestServer } from '../support/server.js';

/**
 * The webhook API refuses bad input with the right status and Clerk's error
 * shape, and a refused request changes nothing: every refusal compares a
 * snapshot of every table before and after. No test here records an event,
 * so no delivery runs in the background to disturb the snapshots.
 *
 * The address policy is checked on three instances: development (loopback
 * allowed, private and metadata addresses refused), one started with
 * LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true (everything allowed), and production
 * (loopback refused too).
 */

interface Expected {
  status: number;
  code?: string;
  /** A meta.param_name some error must carry. */
  param?: string;
}
interface Init {
  json?: unknown;
  body?: string;
  headers?: Record<string, string>;
}

/** Addresses no webhook may reach unless the operator allows private destinations. */
const FORBIDDEN_URLS = [
  'http://169.254.169.254/latest', // cloud metadata
  'http://[fe80::1]/', // IPv6 link-local
  'http://[fd00:ec2::254]/', // AWS metadata over IPv6
  'http://10.0.0.5/',
  'http://192.168.1.1/',
  'http://[::ffff:169.254.169.254]/', // metadata, written as an IPv4-mapped IPv6 address
];
const LOOPBACK_URLS = ['http://127.0.0.1:1/', 'http://localhost:1/'];
// A public address that is never contacted: no test here records an event.
const PUBLIC_URL = 'http://93.184.216.34/hooks';

const PRODUCTION = { NODE_ENV: 'production', LATCHKEY_ENCRYPTION_KEY: 'k'.repeat(40) };

/** Calls and assertions shared by the three instances. */
function client(server: () => TestServer) {
  async function call(method: string, path: string, init: Init = {}): Promise<Response> {
    return server().api(path, { method, ...init } as RequestInit & { json?: unknown });
  }

  /** Sends a request that must be refused; asserts status, code, param, error shape, and that no table changed. */
  async function refused(method: string, path: string, init: Init, expected: Expected): Promise<ErrorBody> {
    const what = `${method} ${path} ${init.json !== undefined ? JSON.stringify(init.json).slice(0, 120) : (init.body ?? '').slice(0, 120)}`;
    const before = await snapshot(server().db);
    const res = await call(method, path, init);
    const body = (await res.json()) as ErrorBody;
    expect(res.status, `${what} → ${JSON.stringify(body).slice(0, 300)}`).toBe(expected.status);
    expect(res.headers.get('content-type'), what).toBe('application/json');
    expectErrorShape(body, what);
    if (expected.code) expect(body.errors.map((e) => e.code), what).toContain(expected.code);
    if (expected.param) expect(body.errors.map((e) => e.meta.param_name), what).toContain(expected.param);
    expect(await snapshot(server().db), `${what} changed the database`).toBe(before);
    return body;
  }

  /** Creates an endpoint that must be accepted; answers its id. */
  async function accepted(url: string): Promise<string> {
    const res = await call('POST', '/v1/webhook_endpoints', { json: { url } });
    const body = (await res.json()) as { id: string; url: string };
    expect(res.status, `${url} → ${JSON.stringify(body).slice(0, 300)}`).toBe(200);
    expect(body.url).toBe(url);
    return body.id;
  }
  return { call, refused, accepted };
}

describe.each(dialects())('webhook API refuses bad input (%s)', (dialect: DialectName) => {
  let server: TestServer;
  let endpointId: string;
  const { call, refused, accepted } = client(() => server);

  beforeAll(async () => {
    server = await startServer(dialect);
    endpointId = await accepted('http://127.0.0.1:1/existing');
  });
  afterAll(() => server?.close());

  const fieldProblems: [string, Record<string, unknown>, Expected][] = [
    ['ftp url', { url: 'ftp://example.com/hook' }, { status: 422, param: 'url' }],
    ['javascript: url', { url: 'javascript:alert(1)' }, { status: 422, param: 'url' }],
    ['mailto: url', { url: 'mailto:ops@example.com' }, { status: 422, param: 'url' }],
    ['relative url', { url: '/hooks/latchkey' }, { status: 422, param: 'url' }],
    ['url with credentials', { url: 'http://user:pass@127.0.0.1:1/' }, { status: 422, param: 'url' }],
    ['url with a fragment', { url: 'http://127.0.0.1:1/hook#part' }, { status: 422, param: 'url' }],
    ['url over 2048 characters', { url: `http://127.0.0.1:1/${'a'.repeat(2048)}` }, { status: 422, param: 'url' }],
    ['url not a string', { url: 42 }, { status: 422, param: 'url' }],
    ['description over 1024 characters', { description: 'd'.repeat(1025) }, { status: 422, param: 'description' }],
    ['unknown event type', { events: ['user.created', 'user.exploded'] }, { status: 422, param: 'events.1' }],
    ['events not an array', { events: 'user.created' }, { status: 422, param: 'events' }],
    ['rate_limit 0', { rate_limit: 0 }, { status: 422, param: 'rate_limit' }],
    ['rate_limit 1.5', { rate_limit: 1.5 }, { status: 422, param: 'rate_limit' }],
    ['rate_limit "5"', { rate_limit: '5' }, { status: 422, param: 'rate_limit' }],
    ['enabled "yes"', { enabled: 'yes' }, { status: 422, param: 'enabled' }],
    ['unknown field', { colour: 'red' }, { status: 422, code: 'form_param_unknown', param: 'colour' }],
  ];

  it.each(fieldProblems)('POST refuses %s (422)', async (_what, fields, expected) => {
    await refused('POST', '/v1/webhook_endpoints', { json: { url: 'http://127.0.0.1:1/new', ...fields } }, expected);
  });

  it.each(fieldProblems)('PATCH refuses %s (422)', async (_what, fields, expected) => {
    await refused('PATCH', `/v1/webhook_endpoints/${endpointId}`, { json: fields }, expected);
  });

  it('POST refuses a missing url (422)', async () => {
    await refused('POST', '/v1/webhook_endpoints', { json: { description: 'no url' } }, { status: 422, code: 'form_param_missing', param: 'url' });
    await refused('POST', '/v1/webhook_endpoints', { json: { url: null } }, { status: 422, param: 'url' });
  });

  it('refuses a body that is not a JSON object (400)', async () => {
    const json = { 'content-type': 'application/json' };
    for (const body of ['{"url":', '[]', '"http://127.0.0.1:1/"', 'null', '5']) {
      await refused('POST', '/v1/webhook_endpoints', { body, headers: json }, { status: 400, code: 'malformed_request' });
      await refused('PATCH', `/v1/webhook_endpoints/${endpointId}`, { body, headers: json }, { status: 400, code: 'malformed_request' });
      await refused('POST', `/v1/webhook_endpoints/${endpointId}/recover`, { body, headers: json }, { status: 400, code: 'malformed_request' });
    }
  });

  it('accepts the limits themselves: a 2048-character url, a 1024-character description', async () => {
    const url = `http://127.0.0.1:1/${'a'.repeat(2048 - 'http://127.0.0.1:1/'.length)}`;
    expect(url).toHaveLength(2048);
    const res = await call('POST', '/v1/webhook_endpoints', { json: { url, description: 'd'.repeat(1024), rate_limit: 1, events: [] } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ url, rate_limit: 1, events: [] });
  });

  it('refuses private, link-local and metadata addresses on a development instance, on create and update', async () => {
    for (const url of FORBIDDEN_URLS) {
      const body = await refused('POST', '/v1/webhook_endpoints', { json: { url } }, { status: 422, code: 'webhook_url_forbidden', param: 'url' });
      expect(body.errors[0]!.long_message, url).toContain('LATCHKEY_WEBHOOKS_ALLOW_PRIVATE');
      await refused('PATCH', `/v1/webhook_endpoints/${endpointId}`, { json: { url } }, { status: 422, code: 'webhook_url_forbidden', param: 'url' });
    }
  });

  it('allows loopback on a development instance', async () => {
    for (const url of LOOPBACK_URLS) {
      const id = await accepted(url);
      const res = await call('PATCH', `/v1/webhook_endpoints/${id}`, { json: { url: LOOPBACK_URLS.find((u) => u !== url) } });
      expect(res.status).toBe(200);
    }
  });

  it('answers 404 for unknown endpoints and messages', async () => {
    const ep = '/v1/webhook_endpoints/ep_2zzzzzzzzzzzzzzzzzzzzzzzzzz';
    const msg = '/v1/webhook_messages/msg_2zzzzzzzzzzzzzzzzzzzzzzzzzz';
    const cases: [string, string, Init][] = [
      ['GET', ep, {}],
      ['PATCH', ep, { json: { description: 'x' } }],
      ['DELETE', ep, {}],
      ['GET', `${ep}/secret`, {}],
      ['POST', `${ep}/rotate_secret`, {}],
      ['GET', `${ep}/messages`, {}],
      ['POST', `${ep}/recover`, { json: { since: 0 } }],
      ['POST', `${ep}/replay_failed`, { json: { since: 0 } }],
      ['GET', msg, {}],
      ['POST', `${msg}/replay`, {}],
    ];
    for (const [method, path, init] of cases) await refused(method, path, init, { status: 404, code: 'resource_not_found' });
  });

  it('refuses a bad `since` for recover and replay_failed (422)', async () => {
    for (const action of ['recover', 'replay_failed']) {
      const path = `/v1/webhook_endpoints/${endpointId}/${action}`;
      await refused('POST', path, { json: {} }, { status: 422, code: 'form_param_missing', param: 'since' });
      await refused('POST', path, { json: { since: -1 } }, { status: 422, param: 'since' });
      await refused('POST', path, { json: { since: '1700000000000' } }, { status: 422, param: 'since' });
      await refused('POST', path, { json: { since: 1.5 } }, { status: 422, param: 'since' });
      await refused('POST', path, { json: { since: 0, until: 5 } }, { status: 422, code: 'form_param_unknown', param: 'until' });
    }
  });

  it('refuses bad message-list queries (422)', async () => {
    const path = `/v1/webhook_endpoints/${endpointId}/messages`;
    for (const [query, param] of [['status=bogus', 'status'], ['limit=0', 'limit'], ['limit=501', 'limit'], ['limit=ten', 'limit'],
      ['before=0', 'before'], ['cursor=5', 'cursor']] as const) {
      await refused('GET', `${path}?${query}`, {}, { status: 422, param });
    }
  });

  it('refuses every webhook route without the secret key (401)', async () => {
    const routes: [string, string][] = [
      ['GET', '/v1/webhook_endpoints'],
      ['POST', '/v1/webhook_endpoints'],
      ['GET', `/v1/webhook_endpoints/${endpointId}`],
      ['PATCH', `/v1/webhook_endpoints/${endpointId}`],
      ['DELETE', `/v1/webhook_endpoints/${endpointId}`],
      ['GET', `/v1/webhook_endpoints/${endpointId}/secret`],
      ['POST', `/v1/webhook_endpoints/${endpointId}/rotate_secret`],
      ['GET', `/v1/webhook_endpoints/${endpointId}/messages`],
      ['POST', `/v1/webhook_endpoints/${endpointId}/recover`],
      ['POST', `/v1/webhook_endpoints/${endpointId}/replay_failed`],
      ['GET', '/v1/webhook_messages/msg_x'],
      ['POST', '/v1/webhook_messages/msg_x/replay'],
    ];
    for (const [method, path] of routes) {
      for (const authorization of [undefined, 'Bearer sk_test_not_a_real_key', `Bearer ${server.publishableKey}`]) {
        const what = `${method} ${path} with ${authorization === undefined ? 'no key' : authorization.slice(0, 16)}`;
        const before = await snapshot(server.db);
        const res = await fetch(`${server.url}${path}`, {
          method,
          headers: { ...(authorization ? { authorization } : {}), 'content-type': 'application/json' },
          ...(method === 'GET' || method === 'DELETE' ? {} : { body: JSON.stringify({ url: 'http://127.0.0.1:1/', since: 0 }) }),
        });
        const body = (await res.json()) as ErrorBody;
        expect(res.status, what).toBe(401);
        expectErrorShape(body, what);
        // The secret of the endpoint never leaks to an unauthenticated caller.
        expect(JSON.stringify(body), what).not.toContain('whsec_');
        expect(await snapshot(server.db), `${what} changed the database`).toBe(before);
      }
    }
  });
});

describe.each(dialects())('webhook address policy on other instances (%s)', (dialect: DialectName) => {
  describe('with LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true', () => {
    let server: TestServer;
    const { call, accepted } = client(() => server);
    beforeAll(async () => {
      server = await startServer(dialect, { env: { LATCHKEY_WEBHOOKS_ALLOW_PRIVATE: 'true' } });
    });
    afterAll(() => server?.close());

    it('accepts private, link-local and metadata addresses, on create and update', async () => {
      const ids: string[] = [];
      for (const url of FORBIDDEN_URLS) ids.push(await accepted(url));
      const res = await call('PATCH', `/v1/webhook_endpoints/${ids[0]}`, { json: { url: FORBIDDEN_URLS[1] } });
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ url: FORBIDDEN_URLS[1] });
    });
  });

  describe('on a production instance', () => {
    let server: TestServer;
    let endpointId: string;
    const { refused, accepted } = client(() => server);
    beforeAll(async () => {
      server = await startServer(dialect, { env: PRODUCTION });
      endpointId = await accepted(PUBLIC_URL);
    });
    afterAll(() => server?.close());

    it('is production', async () => {
      const res = await server.api('/v1/instance');
      expect(res.status).toBe(200);
      expect(await res.json()).toMatchObject({ environment_type: 'production' });
    });

    it('refuses loopback as well as private addresses, on create and update', async () => {
      for (const url of [...LOOPBACK_URLS, ...FORBIDDEN_URLS]) {
        await refused('POST', '/v1/webhook_endpoints', { json: { url } }, { status: 422, code: 'webhook_url_forbidden', param: 'url' });
        await refused('PATCH', `/v1/webhook_endpoints/${endpointId}`, { json: { url } }, { status: 422, code: 'webhook_url_forbidden', param: 'url' });
      }
    });
  });
});
