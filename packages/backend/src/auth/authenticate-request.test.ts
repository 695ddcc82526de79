import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TokenVerificationError } from '../tokens/errors.js';
import { authenticateRequest, tokenFrom } from './authenticate-request.js';

const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
function jwt(claims: object, kid = 'k1'): string {
  const input = `${b64({ alg: 'RS256', typ: 'JWT', kid })}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
}
const now = Math.floor(Date.now() / 1000);
const good = jwt({ sub: 'user_1', sid: 'sess_1', iat: now, exp: now + 60, role: 'admin', permissions: ['a:b', 3] });

describe('tokenFrom', () => {
  it('Bearer first; else the __session cookie, also behind another Authorization scheme', () => {
    expect(tokenFrom({ headers: { authorization: 'Bearer abc' } })).toBe('abc');
    expect(tokenFrom({ headers: { authorization: 'bearer  abc ', cookie: '__session=zzz' } })).toBe('abc');
    expect(tokenFrom({ headers: { authorization: 'Basic dXNlcjpwYXNz', cookie: 'a=1; __session=tok%2E1' } })).toBe('tok.1');
    expect(tokenFrom(new Request('http://x/', { headers: { cookie: '__session=from-fetch' } }))).toBe('from-fetch');
    expect(tokenFrom({ headers: { cookie: 'x__session=no; session=no' } })).toBeUndefined();
    // Not percent-encoding: returned as it came, so it fails verification instead of throwing here.
    expect(tokenFrom({ headers: { cookie: 'theme=dark; __session=%zz' } })).toBe('%zz');
    expect(tokenFrom({ headers: {} })).toBeUndefined();
  });
});

describe('authenticateRequest', () => {
  it('signed in: ids, role, string permissions only, has(); Clerk\'s sessionClaims name too', async () => {
    const auth = await authenticateRequest({ headers: { authorization: `Bearer ${good}` } }, { jwtKey: pem });
    if (!auth.isAuthenticated) throw new Error(`signed out: ${auth.reason}`);
    expect([auth.userId, auth.sessionId, auth.role, auth.permissions]).toEqual(['user_1', 'sess_1', 'admin', ['a:b']]);
    expect(auth.sessionClaims).toBe(auth.claims);
    expect(auth.has({ role: ['admin', 'x'] })).toBe(true);
    expect(auth.has({ role: 'x' })).toBe(false);
    expect(auth.has({ permission: 'a:b' })).toBe(true);
    expect(auth.has({ role: 'admin', permission: ['a:b', 'c:d'] })).toBe(false);
  });

  it('signed out with the reason: no token, a bad one', async () => {
    expect(await authenticateRequest({ headers: {} }, { jwtKey: pem })).toMatchObject({ isAuthenticated: false, reason: 'missing' });
    const forged = `${good.slice(0, good.lastIndexOf('.'))}.AAAA`;
    const bad = await authenticateRequest({ headers: { authorization: `Bearer ${forged}` } }, { jwtKey: pem });
    expect(bad).toMatchObject({ isAuthenticated: false, reason: 'invalid', sessionClaims: null });
    expect(bad.isAuthenticated ? null : (bad.error as TokenVerificationError).reason).toBe('token-invalid-signature');
  });

  it('keys that cannot be loaded (Latchkey unreachable) throw instead of signing the caller out', async () => {
    const unreachable = { jwksUrl: 'http://127.0.0.1:9/jwks' };
    await expect(authenticateRequest({ headers: { authorization: `Bearer ${good}` } }, unreachable))
      .rejects.toMatchObject({ reason: 'jwk-failed-to-load' });
  });
});
