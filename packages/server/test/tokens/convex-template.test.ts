import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { checkConvexToken, ConvexRuleError, type ConvexCheckOptions, type ConvexRule } from '@latchkey/convex/testing';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/**
 * The built-in "convex" JWT template against what a Convex deployment requires
 * (/work/shared/reference/convex-auth.md), checked by the oracle in
 * @latchkey/convex/testing (packages/convex/src/testing/convex-rules.ts). First
 * the oracle itself, on tokens signed with a local key, so it is known to refuse
 * what Convex refuses; then Latchkey's tokens.
 */

const ISS = 'https://idp.example.test';

interface LocalIdp {
  /** Signs a token; header and payload given here replace the well-formed defaults (undefined removes). */
  sign(payload?: Record<string, unknown>, header?: Record<string, unknown>, with_?: 'rsa' | 'other-rsa' | 'ed' | 'ec'): Promise<string>;
  options(over?: Partial<ConvexCheckOptions>): ConvexCheckOptions;
  /** What the fake network answers, by URL; tests change it. */
  routes: Map<string, () => Response>;
  now: number;
}

const json = (body: unknown, type = 'application/json', status = 200) =>
  () => new Response(JSON.stringify(body), { status, headers: { 'content-type': type } });

async function localIdp(): Promise<LocalIdp> {
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const otherRsa = await generateKeyPair('RS256', { extractable: true });
  const ed = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const pub = async (k: Parameters<typeof exportJWK>[0], kid: string, alg: string): Promise<JWK> => ({ ...(await exportJWK(k)), kid, alg, use: 'sig' });
  const keys = [await pub(rsa.publicKey, 'rsa-1', 'RS256'), await pub(ed.publicKey, 'ed-1', 'EdDSA'), await pub(ec.publicKey, 'ec-1', 'ES256')];
  const routes = new Map<string, () => Response>([
    [`${ISS}/.well-known/openid-configuration`, json({ issuer: ISS, jwks_uri: `${ISS}/jwks` })],
    [`${ISS}/jwks`, json({ keys })],
  ]);
  const now = Date.now();
  const iat = Math.floor(now / 1000);
  const idp: LocalIdp = {
    routes,
    now,
    async sign(payload = {}, header = {}, with_ = 'rsa') {
      const base: Record<string, unknown> = {
        iss: ISS, sub: 'user_local', aud: 'convex', iat, exp: iat + 3600, jti: 'j1',
        name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', email: 'ada@example.com', email_verified: true,
        phone_number: '+15555550123', phone_number_verified: false, picture: 'https://img.example/ada.png', role: 'admin',
      };
      const claims = Object.fromEntries(Object.entries({ ...base, ...payload }).filter(([, v]) => v !== undefined));
      const { alg, kid, key } = with_ === 'ed' ? { alg: 'EdDSA', kid: 'ed-1', key: ed.privateKey }
        : with_ === 'ec' ? { alg: 'ES256', kid: 'ec-1', key: ec.privateKey }
          : { alg: 'RS256', kid: 'rsa-1', key: with_ === 'other-rsa' ? otherRsa.privateKey : rsa.privateKey };
      const h = Object.fromEntries(Object.entries({ alg, kid, typ: 'JWT', ...header }).filter(([, v]) => v !== undefined));
      return new SignJWT(claims as JWTPayload).setProtectedHeader(h as { alg: string }).sign(key);
    },
    options(over = {}) {
      return {
        domain: ISS,
        now,
        fetch: async (url: string) => {
          const route = routes.get(url);
          return route ? route() : new Response('not found', { status: 404, headers: { 'content-type': 'text/plain' } });
        },
        ...over,
      };
    },
  };
  return idp;
}

/** Asserts the oracle refuses `token` for `rule`, with a message naming it. */
async function expectRejected(token: Promise<string> | string, opts: ConvexCheckOptions, rule: ConvexRule, message: RegExp) {
  const err = await checkConvexToken(await token, opts).then(() => undefined, (e: unknown) => e);
  expect(err, `expected a refusal for ${rule}`).toBeInstanceOf(ConvexRuleError);
  expect((err as ConvexRuleError).rule).toBe(rule);
  expect((err as ConvexRuleError).message).toContain(`[${rule}]`);
  expect((err as ConvexRuleError).message).toMatch(message);
}

describe('the Convex oracle (@latchkey/convex/testing) on locally signed tokens', () => {
  let idp: LocalIdp;
  beforeAll(async () => {
    idp = await localIdp();
  });

  it('accepts a well-formed RS256 token and builds the identity Convex would', async () => {
    const { identity, header } = await checkConvexToken(await idp.sign(), idp.options());
    expect(header).toEqual({ alg: 'RS256', kid: 'rsa-1', typ: 'JWT' });
    expect(identity).toEqual({
      subject: 'user_local', issuer: ISS, tokenIdentifier: `${ISS}|user_local`,
      name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', emailVerified: true,
      phoneNumber: '+15555550123', phoneNumberVerified: false, pictureUrl: 'https://img.example/ada.png', role: 'admin',
    });
  });

  it('accepts what Convex accepts: EdDSA, aud as a one-entry array, typ absent or JOSE, updated_at number or RFC 3339, JWKS as jwk-set+json', async () => {
    await expect(checkConvexToken(await idp.sign({}, {}, 'ed'), idp.options())).resolves.toBeDefined();
    await expect(checkConvexToken(await idp.sign({ aud: ['convex'] }), idp.options())).resolves.toBeDefined();
    await expect(checkConvexToken(await idp.sign({}, { typ: undefined }), idp.options())).resolves.toBeDefined();
    await expect(checkConvexToken(await idp.sign({}, { typ: 'JOSE' }), idp.options())).resolves.toBeDefined();
    const numeric = await checkConvexToken(await idp.sign({ updated_at: 1_700_000_000 }), idp.options());
    expect(numeric.identity.updatedAt).toBe('2023-11-14T22:13:20.000Z');
    const text = await checkConvexToken(await idp.sign({ updated_at: '2024-01-02T03:04:05Z' }), idp.options());
    expect(text.identity.updatedAt).toBe('2024-01-02T03:04:05Z');
    // nbf is ignored, even in the future.
    await expect(checkConvexToken(await idp.sign({ nbf: Math.floor(idp.now / 1000) + 600 }), idp.options())).resolves.toBeDefined();
    // The provider domain may differ from iss by a trailing slash.
    await expect(checkConvexToken(await idp.sign(), idp.options({ domain: `${ISS}/` }))).resolves.toBeDefined();
    const jwks = idp.routes.get(`${ISS}/jwks`)!;
    const body = await jwks().json();
    idp.routes.set(`${ISS}/jwks`, json(body, 'application/jwk-set+json'));
    try {
      await expect(checkConvexToken(await idp.sign(), idp.options())).resolves.toBeDefined();
    } finally {
      idp.routes.set(`${ISS}/jwks`, jwks);
    }
  });

  it('rejects an audience array with two entries', async () => {
    await expectRejected(idp.sign({ aud: ['convex', 'another-app'] }), idp.options(), 'aud', /more than the single audience/);
  });

  it('rejects a token for another application, or from another domain (no provider matches)', async () => {
    await expectRejected(idp.sign({ aud: 'another-app' }), idp.options(), 'provider', /applicationID "convex"/);
    await expectRejected(idp.sign({ aud: undefined }), idp.options(), 'provider', /applicationID/);
    await expectRejected(idp.sign(), idp.options({ domain: 'https://other.example.test' }), 'provider', /not the provider domain/);
  });

  it('rejects email_verified "true" (a string) and phone_number_verified "false"', async () => {
    await expectRejected(idp.sign({ email_verified: 'true' }), idp.options(), 'email_verified', /JSON boolean/);
    await expectRejected(idp.sign({ phone_number_verified: 'false' }), idp.options(), 'phone_number_verified', /JSON boolean/);
  });

  it('rejects typ at+jwt', async () => {
    await expectRejected(idp.sign({}, { typ: 'at+jwt' }), idp.options(), 'typ', /"at\+jwt"/);
  });

  it('rejects a token without kid, or with a kid the JWKS lacks', async () => {
    await expectRejected(idp.sign({}, { kid: undefined }), idp.options(), 'kid', /no kid/);
    await expectRejected(idp.sign({}, { kid: 'rotated-away' }), idp.options(), 'kid', /"rotated-away"/);
    // A kid naming a key of another type is not usable either.
    await expectRejected(idp.sign({}, { kid: 'ed-1' }), idp.options(), 'kid', /"ed-1"/);
  });

  it('rejects an issuer mismatch of a trailing slash, in either direction', async () => {
    await expectRejected(idp.sign({ iss: `${ISS}/` }), idp.options(), 'discovery.issuer', /byte for byte/);
    const discovery = idp.routes.get(`${ISS}/.well-known/openid-configuration`)!;
    idp.routes.set(`${ISS}/.well-known/openid-configuration`, json({ issuer: `${ISS}/`, jwks_uri: `${ISS}/jwks` }));
    try {
      await expectRejected(idp.sign(), idp.options(), 'discovery.issuer', /byte for byte/);
    } finally {
      idp.routes.set(`${ISS}/.well-known/openid-configuration`, discovery);
    }
  });

  it('rejects an expired token with no leeway', async () => {
    const nowS = Math.floor(idp.now / 1000);
    await expectRejected(idp.sign({ exp: nowS - 1 }), idp.options(), 'exp', /expired/);
    // exp equal to now is already expired; one second later it is not.
    await expectRejected(idp.sign({ exp: nowS }), idp.options({ now: nowS * 1000 }), 'exp', /expired/);
    await expect(checkConvexToken(await idp.sign({ exp: nowS + 1 }), idp.options({ now: nowS * 1000 }))).resolves.toBeDefined();
  });

  it('rejects other algorithms, bad signatures and missing registered claims', async () => {
    await expectRejected(idp.sign({}, {}, 'ec'), idp.options(), 'alg', /"ES256"/);
    await expectRejected(idp.sign({}, {}, 'other-rsa'), idp.options(), 'signature', /does not verify/);
    const [h, p, s] = (await idp.sign()).split('.');
    const forged = { ...JSON.parse(Buffer.from(p!, 'base64url').toString()), sub: 'user_someone_else' };
    await expectRejected(`${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`, idp.options(), 'signature', /does not verify/);
    await expectRejected(idp.sign({ sub: undefined }), idp.options(), 'claims.required', /sub/);
    await expectRejected(idp.sign({ iat: undefined }), idp.options(), 'claims.required', /iat/);
    await expectRejected(idp.sign({ exp: undefined }), idp.options(), 'claims.required', /exp/);
    await expectRejected('not.a-token', idp.options(), 'format', /compact JWS/);
  });

  it('rejects mistyped standard claims', async () => {
    await expectRejected(idp.sign({ updated_at: 'yesterday' }), idp.options(), 'updated_at', /RFC 3339/);
    await expectRejected(idp.sign({ given_name: 42 }), idp.options(), 'standard_claims', /given_name must be a string/);
  });

  it('rejects unusable discovery and JWKS answers', async () => {
    const discoveryUrl = `${ISS}/.well-known/openid-configuration`;
    const discovery = idp.routes.get(discoveryUrl)!;
    const jwks = idp.routes.get(`${ISS}/jwks`)!;
    const token = await idp.sign();
    try {
      idp.routes.set(discoveryUrl, json({ issuer: ISS, jwks_uri: `${ISS}/jwks` }, 'text/html'));
      await expectRejected(token, idp.options(), 'discovery', /content-type "text\/html"/);
      idp.routes.set(discoveryUrl, json({ issuer: ISS, jwks_uri: `${ISS}/jwks` }, 'application/json', 301));
      await expectRejected(token, idp.options(), 'discovery', /answered 301/);
      idp.routes.set(discoveryUrl, json({ issuer: ISS }));
      await expectRejected(token, idp.options(), 'discovery', /no jwks_uri/);
      idp.routes.set(discoveryUrl, discovery);
      idp.routes.set(`${ISS}/jwks`, json(await jwks().json(), 'text/plain'));
      await expectRejected(token, idp.options(), 'jwks', /content-type "text\/plain"/);
      idp.routes.delete(`${ISS}/jwks`);
      await expectRejected(token, idp.options(), 'jwks', /answered 404/);
    } finally {
      idp.routes.set(discoveryUrl, discovery);
      idp.routes.set(`${ISS}/jwks`, jwks);
    }
  });
});

interface Payload extends Record<string, unknown> {
  iat: number;
  exp: number;
  jti: string;
}

describe.each(dialects())('the built-in "convex" template passes every Convex rule (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());
  let userId: string;
  let sessionId: string;

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    const created = await server.api('/v1/users', {
      method: 'POST',
      json: {
        email_address: ['ada@example.com'], phone_number: ['+15555550123'], first_name: 'Ada', last_name: 'Lovelace',
        username: 'ada_l', public_metadata: { dbId: 7 },
      },
    });
    const user = await created.json();
    expect(created.status, JSON.stringify(user)).toBe(200);
    expect(user.email_addresses[0].verification.status).toBe('verified');
    userId = user.id;
    const session = await server.api('/v1/sessions', { method: 'POST', json: { user_id: userId } });
    expect(session.status).toBe(200);
    sessionId = (await session.json()).id;
  });
  afterAll(() => server?.close());

  const mintConvex = async (sid = sessionId): Promise<string> => {
    const res = await server.api(`/v1/sessions/${sid}/tokens/convex`, { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.object).toBe('token');
    return body.jwt as string;
  };
  const check = (jwt: string) => checkConvexToken(jwt, { domain: server.url, applicationID: 'convex', now: clock.now() });

  it('two refreshes a few seconds apart: both accepted, equal but for iat/exp/jti, the same identity', async () => {
    const first = await check(await mintConvex());
    clock.advance(4_000);
    const second = await check(await mintConvex());
    const p1 = first.payload as Payload;
    const p2 = second.payload as Payload;

    const stable = (p: Payload) => {
      const { iat: _i, exp: _e, jti: _j, ...rest } = p;
      return rest;
    };
    expect(stable(p1)).toEqual({
      iss: server.url, sub: userId, aud: 'convex',
      name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', nickname: 'ada_l',
      email: 'ada@example.com', email_verified: true, phone_number: '+15555550123', phone_number_verified: true,
    });
    expect(stable(p2)).toEqual(stable(p1));
    expect(p1).not.toHaveProperty('nbf');
    expect(p2).not.toHaveProperty('nbf');
    expect(p2.iat - p1.iat).toBe(4);
    expect(p1.exp - p1.iat).toBe(3600);
    expect(p2.exp - p2.iat).toBe(3600);
    expect(p1.jti).toMatch(/^[0-9a-f]{20}$/);
    expect(p2.jti).not.toBe(p1.jti);

    expect(first.header.alg).toBe('RS256');
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(first.header.kid);

    expect(first.identity).toEqual({
      subject: userId, issuer: server.url, tokenIdentifier: `${server.url}|${userId}`,
      name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', nickname: 'ada_l',
      email: 'ada@example.com', emailVerified: true, phoneNumber: '+15555550123', phoneNumberVerified: true,
    });
    // Convex keys its query cache by the identity: a refresh must not change it.
    expect(second.identity).toEqual(first.identity);
  });

  it('the token stops being accepted at exp, not a second later', async () => {
    const jwt = await mintConvex();
    const exp = (await check(jwt)).payload.exp as number;
    await expect(checkConvexToken(jwt, { domain: server.url, now: exp * 1000 - 1 })).resolves.toBeDefined();
    const err = await checkConvexToken(jwt, { domain: server.url, now: exp * 1000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConvexRuleError);
    expect((err as ConvexRuleError).rule).toBe('exp');
  });

  it('the discovery document and JWKS answer as Convex needs them', async () => {
    const discovery = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(discovery.status).toBe(200);
    expect(discovery.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = await discovery.json();
    expect(doc.issuer).toBe(server.url);
    expect(doc.jwks_uri).toBe(`${server.url}/.well-known/jwks.json`);
    const jwks = await fetch(doc.jwks_uri);
    expect(jwks.status).toBe(200);
    expect(jwks.headers.get('content-type')).toMatch(/^application\/(json|jwk-set\+json)/);
  });

  it('a name change shows in the next token; the identity follows, the tokenIdentifier does not move', async () => {
    const before = await check(await mintConvex());
    const patched = await server.api(`/v1/users/${userId}`, { method: 'PATCH', json: { first_name: 'Augusta' } });
    expect(patched.status).toBe(200);
    clock.advance(1_000);
    const after = await check(await mintConvex());
    expect(after.identity).toMatchObject({ givenName: 'Augusta', name: 'Augusta Lovelace', familyName: 'Lovelace' });
    expect(after.identity.tokenIdentifier).toBe(before.identity.tokenIdentifier);
    await server.api(`/v1/users/${userId}`, { method: 'PATCH', json: { first_name: 'Ada' } });
  });

  it('a user with only an email: the absent claims are left out, not null, and the token still passes', async () => {
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['plain@example.com'] } })).json();
    const session = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    const { payload, identity } = await check(await mintConvex(session.id));
    const { iat: _i, exp: _e, jti: _j, ...rest } = payload as Payload;
    expect(rest).toEqual({
      iss: server.url, sub: user.id, aud: 'convex', email: 'plain@example.com', email_verified: true, phone_number_verified: false,
    });
    expect(identity).toEqual({
      subject: user.id, issuer: server.url, tokenIdentifier: `${server.url}|${user.id}`,
      email: 'plain@example.com', emailVerified: true, phoneNumberVerified: false,
    });
  });

  it('minted through the Frontend API by a native client after an email-code sign-up: accepted too', async () => {
    const post = async (path: string, body: unknown, token?: string) => {
      const res = await fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'latchkey-native': '1', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
      return { status: res.status, body: await res.json(), token: res.headers.get('latchkey-client-token') ?? token };
    };
    const started = await post('/v1/client/sign_ups', {
      email_address: 'grace@example.com', password: 'a long and lovely passphrase', first_name: 'Grace', last_name: 'Hopper',
    });
    expect(started.status).toBe(200);
    const mail = await waitFor('the sign-up code in the dev outbox', async () =>
      (await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent('grace@example.com')}`)).json()).data[0]);
    const code = /\b(\d{6})\b/.exec(mail.body)![1];
    const done = await post(`/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code }, started.token!);
    expect(done.body.response.status).toBe('complete');
    const sid = done.body.response.created_session_id as string;
    const minted = await post(`/v1/client/sessions/${sid}/tokens/convex`, {}, done.token!);
    expect(minted.status).toBe(200);
    const { identity, payload } = await check(minted.body.jwt);
    expect(payload).not.toHaveProperty('nbf');
    expect(identity).toMatchObject({
      subject: done.body.response.created_user_id, issuer: server.url, givenName: 'Grace', familyName: 'Hopper',
      name: 'Grace Hopper', email: 'grace@example.com', emailVerified: true,
    });
  });
});
