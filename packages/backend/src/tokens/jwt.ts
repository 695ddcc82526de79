import { TokenVerificationError } from './errors.js';

export interface JwtHeader {
  alg?: string;
  kid?: string;
  typ?: string;
  [k: string]: unknown;
}

export interface JwtPayload {
  iss?: string;
  sub: string;
  aud?: string | string[];
  exp: number;
  nbf?: number;
  iat?: number;
  jti?: string;
  sid?: string;
  azp?: string;
  [claim: string]: unknown;
}

export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtPayload;
  /** The bytes the signature covers: `<header>.<payload>` as sent. */
  signingInput: Buffer;
  signature: Buffer;
}

const invalid = (why: string) => new TokenVerificationError('token-invalid', `Invalid JWT: ${why}.`);

function decodeSegment(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    throw invalid(`the ${what} is not base64url JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS without verifying anything. */
export function decodeJwt(token: string): DecodedJwt {
  if (typeof token !== 'string') throw invalid('the token is not a string');
  const first = token.indexOf('.');
  const second = token.indexOf('.', first + 1);
  if (first < 0 || second < 0 || token.indexOf('.', second + 1) >= 0) throw invalid('a JWT has three dot-separated parts');
  const header = decodeSegment(token.slice(0, first), 'header') as JwtHeader;
  const payload = decodeSegment(token.slice(first + 1, second), 'payload') as JwtPayload;
  return {
    header,
    payload,
    signingInput: Buffer.from(token.slice(0, second)),
    signature: Buffer.from(token.slice(second + 1), 'base64url'),
  };
}
