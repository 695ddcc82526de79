import { createHash, createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generate = promisify(generateKeyPair);

export interface PublicJwk {
  kid: string;
  kty: 'RSA';
  alg: 'RS256';
  use: 'sig';
  n: string;
  e: string;
}

export interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  jwk: PublicJwk;
  /** base64url of the JOSE header `{"alg":"RS256","kid":…,"typ":"JWT"}`, computed once. */
  encodedHeader: string;
}

/** RFC 7638 thumbprint: a kid that is stable and derived from the key itself. */
function thumbprint(n: string, e: string): string {
  const canonical = JSON.stringify({ e, kty: 'RSA', n });
  return createHash('sha256').update(canonical).digest('base64url');
}

/** RSA-2048, e=65537: the only shape Clerk's CLERK_JWT_KEY path and Convex both accept. */
export async function generateSigningKey(): Promise<{ kid: string; pem: string; jwk: PublicJwk }> {
  const { privateKey } = await generate('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  const pem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const jwk = publicJwkOf(createPublicKey(privateKey));
  return { kid: jwk.kid, pem, jwk };
}

export function publicJwkOf(publicKey: KeyObject): PublicJwk {
  const { n, e } = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  return { kid: thumbprint(n, e), kty: 'RSA', alg: 'RS256', use: 'sig', n, e };
}

export function loadSigningKey(kid: string, pem: string): SigningKey {
  const privateKey = createPrivateKey(pem);
  const publicKey = createPublicKey(privateKey);
  const jwk = publicJwkOf(publicKey);
  const header = Buffer.from(JSON.stringify({ alg: 'RS256', kid, typ: 'JWT' })).toString('base64url');
  return { kid, privateKey, publicKey, jwk: { ...jwk, kid }, encodedHeader: header };
}

/** SPKI PEM of the public key: what CLERK_JWT_KEY takes. */
export function publicKeyPem(key: SigningKey): string {
  return key.publicKey.export({ format: 'pem', type: 'spki' }).toString();
}
