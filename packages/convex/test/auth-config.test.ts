import { compactVerify, createLocalJWKSet, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../server/test/support/server.js';
import { authConfig, customJwtAuthConfig, jwksDataUri } from '../src/index.js';
import { checkConvexToken } from '../src/testing/index.js';

/**
 * convex/auth.config.ts entries: the OIDC form, which the oracle (and Convex)
 * uses as-is against a running Latchkey; and the customJwt form, whose data:
 * URI holds exactly Latchkey's JWKS, enough to verify a "convex" token offline.
 */

describe('authConfig / customJwtAuthConfig', () => {
  let server: TestServer;
  let jwks: { keys: Array<Record<string, unknown>> };
  let token: string;

  beforeAll(async () => {
    server = await startServer('sqlite');
    jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as typeof jwks;
    const user = (await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['cfg@example.com'] } })).json()) as { id: string };
    const session = (await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json()) as { id: string };
    token = ((await (await server.api(`/v1/sessions/${session.id}/tokens/convex`, { method: 'POST', json: {} })).json()) as { jwt: string }).jwt;
  });
  afterAll(() => server?.close());

  it('authConfig: the OIDC provider entry, applicationID "convex" by default', () => {
    expect(authConfig({ issuer: 'https://auth.example.com' })).toEqual({
      providers: [{ domain: 'https://auth.example.com', applicationID: 'convex' }],
    });
    expect(authConfig({ issuer: 'https://auth.example.com', applicationID: 'my-app' })).toEqual({
      providers: [{ domain: 'https://auth.example.com', applicationID: 'my-app' }],
    });
  });

  it('a real "convex" token passes the oracle configured with exactly that provider entry', async () => {
    const [provider] = authConfig({ issuer: server.url }).providers;
    const { identity } = await checkConvexToken(token, provider!);
    expect(identity.issuer).toBe(server.url);
    expect(identity.email).toBe('cfg@example.com');
  });

  it('an unset issuer is refused at once rather than deployed as a provider no token matches', () => {
    expect(() => authConfig({ issuer: undefined as unknown as string })).toThrow(/issuer is empty/);
    expect(() => customJwtAuthConfig({ issuer: '', jwks })).toThrow(/issuer is empty/);
  });

  it('customJwtAuthConfig: type customJwt, RS256, applicationID, and a data: URI that decodes back to Latchkey\'s JWKS', () => {
    const config = customJwtAuthConfig({ issuer: server.url, jwks });
    expect(config).toEqual({
      providers: [{ type: 'customJwt', issuer: server.url, jwks: expect.stringMatching(/^data:application\/json;base64,[A-Za-z0-9+/]+=*$/), algorithm: 'RS256', applicationID: 'convex' }],
    });
    const uri = config.providers[0]!.jwks;
    const decoded = JSON.parse(Buffer.from(uri.slice('data:application/json;base64,'.length), 'base64').toString('utf8'));
    expect(decoded).toEqual(jwks);
    expect(decoded.keys.length).toBeGreaterThan(0);
    // The JWKS as JSON text (an environment variable) gives the same URI.
    expect(customJwtAuthConfig({ issuer: server.url, jwks: JSON.stringify(jwks), applicationID: 'other' }).providers[0]).toMatchObject({ jwks: uri, applicationID: 'other' });
  });

  it('the inlined JWKS verifies a real "convex" token: the kid is there and the RS256 signature checks out', async () => {
    const uri = jwksDataUri(jwks);
    const keys = JSON.parse(Buffer.from(uri.split(',')[1]!, 'base64').toString('utf8'));
    const header = decodeProtectedHeader(token);
    expect(header.alg).toBe('RS256');
    expect(keys.keys.map((k: { kid: string }) => k.kid)).toContain(header.kid);
    const { payload } = await compactVerify(token, createLocalJWKSet(keys), { algorithms: ['RS256'] });
    expect(JSON.parse(new TextDecoder().decode(payload))).toMatchObject({ iss: server.url, aud: 'convex' });
  });

  it('a JWKS without keys is refused', () => {
    expect(() => jwksDataUri({ keys: [] })).toThrow(/at least one key/);
    expect(() => jwksDataUri('{"nokeys":true}')).toThrow(/at least one key/);
  });
});
