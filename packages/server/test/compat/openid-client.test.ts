import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * A generic OIDC relying party: openid-client (v6) discovers Latchkey as an issuer,
 * and jose validates Latchkey tokens with the discovered jwks_uri and issuer.
 */
describe.each(dialects())('openid-client discovery of Latchkey (%s)', (dialect) => {
  let server: TestServer;
  let userId: string;
  let sessionId: string;

  const mint = async (template = ''): Promise<string> => {
    const res = await server.api(`/v1/sessions/${sessionId}/tokens${template ? `/${template}` : ''}`, { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    return ((await res.json()) as { jwt: string }).jwt;
  };
  // Loopback http: openid-client refuses it unless told otherwise.
  const discover = (issuer: URL, options: oidc.DiscoveryRequestOptions = {}) =>
    oidc.discovery(issuer, 'latchkey-test-client', undefined, undefined, { execute: [oidc.allowInsecureRequests], ...options });

  beforeAll(async () => {
    server = await startServer(dialect);
    userId = ((await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['oidc@example.com'], first_name: 'Olive' } })).json()) as { id: string }).id;
    sessionId = ((await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: userId } })).json()) as { id: string }).id;
  });
  afterAll(() => server?.close());

  it('discovers the issuer: the public URL byte for byte', async () => {
    const raw = await fetch(`${server.url}/.well-known/openid-configuration`);
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toBe('application/json');
    const doc = (await raw.json()) as Record<string, unknown>;
    expect(doc.issuer).toBe(server.url);
    expect(doc.jwks_uri).toBe(`${server.url}/.well-known/jwks.json`);
    expect(doc.id_token_signing_alg_values_supported).toContain('RS256');
    // Nothing advertised that is not served: no token endpoint, so no code flow (OIDC Discovery §3).
    expect(doc.token_endpoint).toBeUndefined();
    expect(doc.response_types_supported).toEqual(['id_token']);
    expect(doc.token_endpoint_auth_methods_supported).toBeUndefined();
    // Public documents, readable by a relying party in a browser.
    expect(raw.headers.get('access-control-allow-origin')).toBe('*');
    expect((await fetch(`${server.url}/.well-known/jwks.json`, { headers: { origin: 'https://rp.example' } })).headers.get('access-control-allow-origin')).toBe('*');

    const config = await discover(new URL(server.url));
    const meta = config.serverMetadata();
    expect(meta.issuer).toBe(server.url);
    expect(meta.jwks_uri).toBe(`${server.url}/.well-known/jwks.json`);
    // Every token's iss is that same string.
    const jwt = await mint();
    expect(JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).iss).toBe(meta.issuer);
  });

  it('validates a Latchkey session token with the discovered jwks_uri and issuer', async () => {
    const meta = (await discover(new URL(server.url))).serverMetadata();
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
    const jwt = await mint();
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { issuer: meta.issuer, algorithms: ['RS256'] });
    expect(payload).toMatchObject({ sub: userId, sid: sessionId, iss: server.url });
    expect(protectedHeader).toMatchObject({ alg: 'RS256', typ: 'JWT' });
    expect(protectedHeader.kid).toBe(decodeProtectedHeader(jwt).kid);

    // A template token too, with its audience.
    const convex = await mint('convex');
    const checked = await jwtVerify(convex, jwks, { issuer: meta.issuer, audience: 'convex', algorithms: ['RS256'] });
    expect(checked.payload).toMatchObject({ sub: userId, aud: 'convex', given_name: 'Olive' });

    // A token whose payload was changed does not validate.
    const [h, , s] = jwt.split('.');
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'user_2someoneElse' })).toString('base64url')}.${s}`;
    await expect(jwtVerify(forged, jwks, { issuer: meta.issuer })).rejects.toMatchObject({ code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('fails when the expected issuer does not match', async () => {
    // Discovery under another issuer identifier: the document is Latchkey's, the
    // issuer in it is not the one asked for, and openid-client refuses it.
    const elsewhere = 'https://auth.example.com';
    const proxied: typeof fetch = (url, init) => fetch(String(url).replace(elsewhere, server.url), init);
    await expect(discover(new URL(elsewhere), { [oidc.customFetch]: proxied }))
      .rejects.toMatchObject({ code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED' });

    // Token validation compares iss byte for byte: a trailing slash or another host fails.
    const meta = (await discover(new URL(server.url))).serverMetadata();
    const jwks = createRemoteJWKSet(new URL(meta.jwks_uri!));
    const jwt = await mint();
    for (const issuer of [`${server.url}/`, server.url.replace('127.0.0.1', 'localhost'), elsewhere]) {
      await expect(jwtVerify(jwt, jwks, { issuer }), issuer).rejects.toMatchObject({ code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' });
    }
  });
});
