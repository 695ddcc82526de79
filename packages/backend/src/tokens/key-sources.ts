import { createPublicKey, type KeyObject } from 'node:crypto';
import { TokenVerificationError } from './errors.js';

export interface Jwk {
  kid?: string;
  kty: string;
  alg?: string;
  use?: string;
  n?: string;
  e?: string;
  [k: string]: unknown;
}

/** Resolves the public key for a token's `kid`. */
export interface KeySource {
  keyFor(kid: string | undefined): KeyObject | Promise<KeyObject>;
}

const pemCache = new Map<string, KeyObject>();

/**
 * A PEM (SPKI) or its bare base64 body, as in CLERK_JWT_KEY. The token's kid is
 * ignored on this path, as in Clerk's SDK.
 */
export function pemKeySource(jwtKey: string): KeySource {
  let key = pemCache.get(jwtKey);
  if (!key) {
    const body = jwtKey.includes('-----BEGIN') ? jwtKey : `-----BEGIN PUBLIC KEY-----\n${jwtKey.replace(/\s+/g, '')}\n-----END PUBLIC KEY-----`;
    key = createPublicKey({ key: body.replace(/\\n/g, '\n'), format: 'pem' });
    pemCache.set(jwtKey, key);
  }
  const k = key;
  return { keyFor: () => k };
}

export function importJwk(jwk: Jwk): KeyObject {
  return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
}

/** A fixed key set (e.g. a JWKS the app ships with). */
export function staticKeySource(keys: Jwk[]): KeySource {
  const byKid = new Map(keys.filter((k) => k.kty === 'RSA').map((k) => [k.kid, importJwk(k)]));
  return {
    keyFor(kid) {
      const key = byKid.get(kid) ?? (byKid.size === 1 && kid === undefined ? [...byKid.values()][0] : undefined);
      if (!key) throw new TokenVerificationError('jwk-kid-mismatch', `No key with kid "${kid}" in the given keys.`);
      return key;
    },
  };
}
