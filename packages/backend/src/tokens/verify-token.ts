import { verify as rsaVerify, type KeyObject } from 'node:crypto';
import { TokenVerificationError } from './errors.js';
import { decodeJwt, type JwtPayload } from './jwt.js';
import { pemKeySource, staticKeySource, type Jwk, type KeySource } from './key-sources.js';
import { sharedRemoteJwks } from './remote-jwks.js';

export interface VerifyTokenOptions {
  /** Public key PEM (SPKI) or its base64 body: networkless, as CLERK_JWT_KEY. */
  jwtKey?: string;
  /** A JWKS URL, e.g. `<issuer>/.well-known/jwks.json`. */
  jwksUrl?: string;
  /** Latchkey's (or Clerk's) API URL; with `secretKey` the JWKS comes from `<apiUrl>/v1/jwks`. */
  apiUrl?: string;
  secretKey?: string;
  /** A fixed set of JWKs. */
  keys?: Jwk[] | { keys: Jwk[] };
  /** Accepted issuer(s), or a predicate. Unchecked when absent. */
  issuer?: string | string[] | ((iss: string) => boolean);
  /** Accepted audience(s): the token's `aud` must contain one. Unchecked when absent. */
  audience?: string | string[];
  /** Accepted `azp` values (origins). When given, the token must carry one of them (as in @clerk/backend). */
  authorizedParties?: string[];
  /** Leeway for exp/nbf/iat, default 5000 ms (Clerk's default). */
  clockSkewInMs?: number;
  /** Time source, for tests. */
  now?: () => number;
}

// A Map, not an object literal: `alg: "constructor"` must not find Object.prototype's.
const ALGORITHMS = new Map([['RS256', 'sha256'], ['RS384', 'sha384'], ['RS512', 'sha512']]);
const staticSources = new WeakMap<object, KeySource>();

function keySource(opts: VerifyTokenOptions): KeySource {
  if (opts.jwtKey) return pemKeySource(opts.jwtKey);
  if (opts.keys) {
    let source = staticSources.get(opts.keys);
    if (!source) {
      source = staticKeySource(Array.isArray(opts.keys) ? opts.keys : opts.keys.keys);
      staticSources.set(opts.keys, source);
    }
    return source;
  }
  if (opts.jwksUrl) return sharedRemoteJwks({ url: opts.jwksUrl });
  if (opts.apiUrl && opts.secretKey) {
    return sharedRemoteJwks({
      url: `${opts.apiUrl.replace(/\/+$/, '')}/v1/jwks`,
      headers: { Authorization: `Bearer ${opts.secretKey}` },
    });
  }
  throw new TypeError('verifyToken needs one of jwtKey, keys, jwksUrl, or apiUrl with secretKey.');
}

function checkIssuer(iss: unknown, expected: NonNullable<VerifyTokenOptions['issuer']>): void {
  const ok = typeof iss === 'string' &&
    (typeof expected === 'function' ? expected(iss) : Array.isArray(expected) ? expected.includes(iss) : expected === iss);
  if (!ok) throw new TokenVerificationError('token-invalid-issuer', `Invalid JWT issuer: ${JSON.stringify(iss)}.`);
}

function checkAudience(aud: unknown, expected: string | string[]): void {
  const wanted = Array.isArray(expected) ? expected : [expected];
  const got = Array.isArray(aud) ? aud : aud === undefined ? [] : [aud];
  if (!got.some((a) => wanted.includes(a as string))) {
    throw new TokenVerificationError('token-invalid-audience', `Invalid JWT audience: ${JSON.stringify(aud)}.`);
  }
}

function checkTimes(p: JwtPayload, nowMs: number, skewMs: number): void {
  const now = nowMs / 1000;
  const skew = skewMs / 1000;
  if (typeof p.exp !== 'number') throw new TokenVerificationError('token-invalid', 'Invalid JWT: exp is missing.');
  if (now - skew >= p.exp) throw new TokenVerificationError('token-expired', `JWT is expired (exp ${p.exp}).`);
  if (p.nbf !== undefined && (typeof p.nbf !== 'number' || now + skew < p.nbf)) {
    throw new TokenVerificationError('token-not-active-yet', `JWT cannot be used before ${p.nbf}.`);
  }
  if (p.iat !== undefined && (typeof p.iat !== 'number' || now + skew < p.iat)) {
    throw new TokenVerificationError('token-iat-in-the-future', `JWT was issued in the future (iat ${p.iat}).`);
  }
}

/**
 * Verifies an RS256 session or template token and returns its claims. The
 * signature is checked synchronously with a cached KeyObject (no thread hop), so
 * a request whose key is cached never waits on anything.
 */
export async function verifyToken(token: string, opts: VerifyTokenOptions): Promise<JwtPayload> {
  const { header, payload, signingInput, signature } = decodeJwt(token);
  const hash = typeof header.alg === 'string' ? ALGORITHMS.get(header.alg) : undefined;
  if (!hash) throw new TokenVerificationError('token-invalid-algorithm', `Invalid JWT algorithm: ${JSON.stringify(header.alg)}; RS256 is expected.`);
  if (header.typ !== undefined && header.typ !== 'JWT') {
    throw new TokenVerificationError('token-invalid', `Invalid JWT type: ${JSON.stringify(header.typ)}.`);
  }
  const source = keySource(opts);
  const found = source.keyFor(header.kid);
  const key: KeyObject = found instanceof Promise ? await found : found;
  if (!rsaVerify(hash, signingInput, key, signature)) {
    throw new TokenVerificationError('token-invalid-signature', 'JWT signature is invalid.');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenVerificationError('token-invalid', 'Invalid JWT: sub is missing.');
  checkTimes(payload, (opts.now ?? Date.now)(), opts.clockSkewInMs ?? 5_000);
  if (opts.issuer !== undefined) checkIssuer(payload.iss, opts.issuer);
  if (opts.audience !== undefined) checkAudience(payload.aud, opts.audience);
  if (opts.authorizedParties?.length && (typeof payload.azp !== 'string' || !opts.authorizedParties.includes(payload.azp))) {
    throw new TokenVerificationError('token-invalid-authorized-party', `Invalid JWT authorized party: ${JSON.stringify(payload.azp)}.`);
  }
  return payload;
}
