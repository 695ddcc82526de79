import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';

const PASSWORD = 'a client cookie test password';
const EVIL = 'https://evil.example';

/** A signed-in browser client on `server`: its cookie pair (`name=token`) and session id. */
async function signedInCookie(server: TestServer, email: string, origin: string, cookieName: string) {
  await server.api('/v1/users', { method: 'POST', json: { email_address: [email], password: PASSWORD } });
  const res = await fetch(`${server.url}/v1/client/sign_ins`, {
    method: 'POST', headers: { origin, 'content-type': 'application/json' }, body: JSON.stringify({ identifier: email, password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  const setCookie = res.headers.getSetCookie().find((c) => c.startsWith(`${cookieName}=`))!;
  return { cookie: setCookie.split(';')[0]!, setCookie, sid: (await res.json()).response.created_session_id as string };
}

/**
 * How a browser's client cookie is read and written: every same-named cookie is
 * tried (a planted one neither hides nor clears the real one), `__Host-` on
 * https, and a token's azp names only an allowed Origin.
 */
describe.each(dialects())('the client cookie (%s)', (dialect) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  const get = (cookie: string, headers: Record<string, string> = {}) => fetch(`${server.url}/v1/client`, { headers: { cookie, ...headers } });
  const cleared = (res: Response) => res.headers.getSetCookie().filter((c) => /Max-Age=0/.test(c));

  it('a planted cookie of the same name, sent first, neither hides the real client nor gets it cleared', async () => {
    const { cookie, sid } = await signedInCookie(server, 'dup@example.com', server.url, '__client');
    for (const header of [`__client=planted-unknown-token; ${cookie}`, `${cookie}; __client=planted-unknown-token`]) {
      const res = await get(header);
      expect(res.status, header).toBe(200);
      expect((await res.json()).response.last_active_session_id).toBe(sid);
      expect(cleared(res)).toEqual([]);
    }
  });

  it('many planted cookies: the real one among the first 16 is found; past that none is cleared', async () => {
    const { cookie, sid } = await signedInCookie(server, 'many@example.com', server.url, '__client');
    const planted = (n: number) => Array.from({ length: n }, (_, i) => `__client=planted-${i}`).join('; ');
    const found = await get(`${planted(15)}; ${cookie}`);
    expect(found.status).toBe(200);
    expect((await found.json()).response.last_active_session_id).toBe(sid);
    expect(cleared(found)).toEqual([]);
    const beyond = await get(`${planted(16)}; ${cookie}`);
    expect(beyond.status).toBe(401);
    expect(cleared(beyond)).toEqual([]);
    expect((await get(cookie)).status).toBe(200);
  });

  it('only unknown cookies: no client (401 client_missing), and no cookie is set or cleared', async () => {
    const res = await get('__client=unknown-one; __client=unknown-two');
    expect(res.status).toBe(401);
    expect((await res.json()).errors[0].code).toBe('client_missing');
    expect(res.headers.getSetCookie()).toEqual([]);
  });

  it('a request with the token a sign-in just replaced does not clear the new cookie (a double click, a refresh sent beside it)', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['twice@example.com'], password: PASSWORD } });
    const signIn = (cookie?: string) => fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { origin: server.url, 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      body: JSON.stringify({ identifier: 'twice@example.com', password: PASSWORD }),
    });
    const first = await signIn();
    const t0 = first.headers.getSetCookie()[0]!.split(';')[0]!;
    const second = await signIn(t0);
    expect(second.status).toBe(200);
    const t1 = second.headers.getSetCookie()[0]!.split(';')[0]!;
    expect(t1).not.toBe(t0);
    // What a browser does with the late answers: apply each Set-Cookie in order. The new token must survive them.
    for (const late of [await get(t0), await fetch(`${server.url}/v1/client/sessions/${(await second.json()).response.created_session_id}/tokens`, {
      method: 'POST', headers: { origin: server.url, cookie: t0, 'content-type': 'application/json' }, body: '{}' })]) {
      expect(late.status).toBe(401);
      expect(late.headers.getSetCookie()).toEqual([]);
    }
    expect((await get(t1)).status).toBe(200);
  });

  it('a sign-in on a client that came in a cookie hands its new token back in the cookie, latchkey-native or not', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['jar@example.com'], password: PASSWORD } });
    const started = await fetch(`${server.url}/v1/client/sign_ins/email_code`, {
      method: 'POST', headers: { origin: server.url, 'content-type': 'application/json' }, body: JSON.stringify({ identifier: 'nobody-jar@example.com' }),
    });
    const cookie = started.headers.getSetCookie()[0]!.split(';')[0]!;
    // An app whose cookie jar holds a client cookie and that sends latchkey-native (React Native's fetch does both).
    const res = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { cookie, 'latchkey-native': '1', 'content-type': 'application/json' }, body: JSON.stringify({ identifier: 'jar@example.com', password: PASSWORD }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('latchkey-client-token')).toBeNull();
    const renewed = res.headers.getSetCookie().find((c) => c.startsWith('__client=') && !c.startsWith('__client=;'))!.split(';')[0]!;
    expect(renewed).not.toBe(cookie);
    const client = await get(renewed);
    expect(client.status).toBe(200);
    expect((await client.json()).response.last_active_session_id).toBe((await res.json()).response.created_session_id);
  });

  it('azp names only an allowed Origin: the app\'s for a cookie, none for another origin or a Bearer client token', async () => {
    const { cookie, sid } = await signedInCookie(server, 'azp@example.com', server.url, '__client');
    const mint = (headers: Record<string, string>) => fetch(`${server.url}/v1/client/sessions/${sid}/tokens`, {
      method: 'POST', headers: { cookie, 'content-type': 'application/json', ...headers }, body: '{}',
    });
    const viaCookie = await mint({ origin: server.url });
    expect(viaCookie.status).toBe(200);
    expect(decodeJwt((await viaCookie.json()).jwt).azp).toBe(server.url);
    // latchkey-native is itself the CSRF proof (no cross-site page can send it), so the
    // request goes through; but its Origin was not among the allowed ones, so no azp.
    const otherOrigin = await mint({ 'latchkey-native': '1', origin: EVIL });
    expect(otherOrigin.status).toBe(200);
    expect(decodeJwt((await otherOrigin.json()).jwt).azp).toBeUndefined();
    expect((await mint({ origin: EVIL })).status).toBe(403);

    const native = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'latchkey-native': '1', origin: EVIL, 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: 'azp@example.com', password: PASSWORD }),
    });
    expect(native.status).toBe(200);
    const token = native.headers.get('latchkey-client-token')!;
    const nativeSid = (await native.json()).response.created_session_id as string;
    const viaBearer = await fetch(`${server.url}/v1/client/sessions/${nativeSid}/tokens`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, origin: EVIL, 'content-type': 'application/json' }, body: '{}',
    });
    expect(viaBearer.status).toBe(200);
    expect(decodeJwt((await viaBearer.json()).jwt).azp).toBeUndefined();
  });
});

describe.each(dialects())('the client cookie under an https public URL (%s)', (dialect) => {
  const PUBLIC = 'https://auth.example.test';
  let server: TestServer;
  beforeAll(async () => {
    // Behind a TLS-terminating proxy: the listener is plain http, the public URL https.
    server = await startServer(dialect, { env: { LATCHKEY_PUBLIC_URL: PUBLIC } });
  });
  afterAll(() => server?.close());

  it('is __Host-client: Secure, Path=/, no Domain; a plain __client cookie is not read', async () => {
    const { cookie, setCookie, sid } = await signedInCookie(server, 'host@example.com', PUBLIC, '__Host-client');
    expect(setCookie).toMatch(/^__Host-client=[\w-]{43}; Max-Age=31536000; Path=\/; HttpOnly; Secure; SameSite=Lax$/);
    const ok = await fetch(`${server.url}/v1/client`, { headers: { cookie } });
    expect(ok.status).toBe(200);
    expect((await ok.json()).response.last_active_session_id).toBe(sid);

    // The same token under the unprefixed name, as a sibling subdomain or an http page could set it.
    const shadow = await fetch(`${server.url}/v1/client`, { headers: { cookie: cookie.replace('__Host-client=', '__client=') } });
    expect(shadow.status).toBe(401);
    expect(shadow.headers.getSetCookie()).toEqual([]);

    const unknown = await fetch(`${server.url}/v1/client`, { headers: { cookie: '__Host-client=unknown' } });
    expect(unknown.status).toBe(401);
    expect(unknown.headers.getSetCookie()).toEqual([]);
  });
});
