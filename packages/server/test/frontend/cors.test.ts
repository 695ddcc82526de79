import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';

const APP = 'https://app.example';
const OTHER = 'https://evil.example';

/** CORS on the Frontend API: browser apps on the allowed origins may call it with credentials; other origins may not read its answers. */
describe.each(dialects())('Frontend API CORS (%s)', (dialect) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(dialect);
    expect((await server.api('/v1/instance', { method: 'PATCH', json: { allowed_origins: [APP] } })).status).toBe(200);
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['cors@example.com'], password: 'a cors test password!' } });
  });
  afterAll(() => server?.close());

  const preflight = (origin: string) => fetch(`${server.url}/v1/client/sign_ins`, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
  });
  const signIn = (origin: string, password: string) => fetch(`${server.url}/v1/client/sign_ins`, {
    method: 'POST',
    headers: { origin, 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: 'cors@example.com', password }),
  });

  it('a preflight from an allowed origin is answered 204 with what the browser needs to send the request', async () => {
    const res = await preflight(APP);
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
    const h = res.headers;
    expect(h.get('access-control-allow-origin')).toBe(APP);
    expect(h.get('access-control-allow-credentials')).toBe('true');
    expect(h.get('access-control-allow-methods')).toBe('GET,POST,PATCH,DELETE');
    expect(h.get('access-control-allow-headers')).toBe('content-type,authorization,latchkey-native');
    expect(h.get('access-control-max-age')).toBe('600');
    expect(h.get('vary')).toBe('Origin, Access-Control-Request-Headers');
    expect(h.get('content-type')).toBeNull();
  });

  it('a preflight from any other origin gets no Access-Control-Allow-Origin, so the browser sends nothing', async () => {
    const res = await preflight(OTHER);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    expect(res.headers.get('vary')).toContain('Origin');
  });

  it('answers to an allowed origin, success and error alike, carry the CORS headers and an intact JSON body', async () => {
    const ok = await signIn(APP, 'a cors test password!');
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(ok.headers.get('access-control-allow-origin')).toBe(APP);
    expect(ok.headers.get('access-control-allow-credentials')).toBe('true');
    expect(ok.headers.get('access-control-expose-headers')).toBe('latchkey-client-token,retry-after');
    expect(ok.headers.get('vary')).toBe('Origin');
    expect(ok.headers.getSetCookie().some((c) => c.startsWith('__client='))).toBe(true);
    expect((await ok.json()).response.status).toBe('complete');

    const wrong = await signIn(APP, 'not the password at all');
    expect(wrong.status).toBe(422);
    expect(wrong.headers.get('access-control-allow-origin')).toBe(APP);
    expect((await wrong.json()).errors[0].code).toBe('form_password_incorrect');
  });

  it('an error raised before any route answers carries them too (the browser app can read why)', async () => {
    const res = await fetch(`${server.url}/v1/client/sessions/sess_unknown/tokens`, { method: 'POST', headers: { origin: APP, authorization: 'Bearer not-a-client-token' } });
    expect(res.status).toBe(401);
    expect((await res.clone().json()).errors[0].code).toBe('client_invalid');
    expect(res.headers.get('access-control-allow-origin')).toBe(APP);
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  it('refusals made before the Frontend API\'s own routes (413, a NUL in the URL) and its 404s carry them as well, once', async () => {
    const answers = [
      await fetch(`${server.url}/v1/client/sign_ins`, { method: 'POST', headers: { origin: APP, 'content-type': 'application/json' }, body: 'x'.repeat(1024 * 1024 + 1) }),
      await fetch(`${server.url}/v1/client/sessions/a%00b/tokens`, { method: 'POST', headers: { origin: APP } }),
      await fetch(`${server.url}/v1/client/nothing`, { headers: { origin: APP } }),
    ];
    expect(answers.map((r) => r.status)).toEqual([413, 400, 404]);
    for (const res of answers) {
      expect(res.headers.get('access-control-allow-origin')).toBe(APP);
      expect(res.headers.get('vary')).toBe('Origin');
      expect(res.headers.get('content-type')).toBe('application/json');
    }
  });

  it('a path or method the Frontend API does not have is 404, never the Backend API\'s call for a secret key', async () => {
    for (const [method, path] of [['GET', '/v1/client/sign_ins'], ['PATCH', '/v1/client/sessions'], ['GET', '/v1/client/nope/deeper']]) {
      for (const headers of [{ origin: APP }, { origin: APP, authorization: 'Bearer some-client-token' }]) {
        const res = await fetch(`${server.url}${path}`, { method, headers });
        expect(res.status, `${method} ${path}`).toBe(404);
        const body = await res.json();
        expect(body.errors[0].code).toBe('resource_not_found');
        expect(JSON.stringify(body)).not.toMatch(/secret key/i);
      }
    }
    // /v1/me authenticates its client before anything else: without one, that is what it says.
    const me = await fetch(`${server.url}/v1/me/nothing`, { headers: { origin: APP, authorization: 'Bearer some-client-token' } });
    expect(me.status).toBe(401);
    expect((await me.json()).errors[0].code).toBe('client_invalid');
  });

  it('another origin\'s request is refused (CSRF) and its answer is not readable cross-origin', async () => {
    const res = await signIn(OTHER, 'a cors test password!');
    expect(res.status).toBe(403);
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
  });
});
