import { bytesToBase64, utf8 } from './base64.js';

/**
 * Provider entries for convex/auth.config.ts. Two forms, because Convex checks
 * tokens in two ways (see docs/convex.md):
 * - OIDC (`authConfig`): Convex fetches `<issuer>/.well-known/openid-configuration`
 *   and the JWKS itself, so Latchkey must be reachable from Convex (public URL).
 * - customJwt (`customJwtAuthConfig`): the JWKS travels inside the config as a
 *   `data:` URI, so no network is needed: for an issuer Convex cannot reach
 *   (a laptop, a private network). The keys must be re-deployed after a rotation.
 */

export interface OidcProvider {
  domain: string;
  applicationID: string;
}

export interface CustomJwtProvider {
  type: 'customJwt';
  issuer: string;
  jwks: string;
  algorithm: 'RS256';
  applicationID: string;
}

export interface AuthConfigOptions {
  /** Latchkey's issuer: its public URL, exactly as it puts it in `iss` (no trailing slash). */
  issuer: string;
  /** The `aud` of the "convex" JWT template; default "convex". */
  applicationID?: string;
}

/** A JSON Web Key Set as Latchkey serves it at /.well-known/jwks.json. */
export interface Jwks {
  keys: Array<Record<string, unknown>>;
}

export interface CustomJwtAuthConfigOptions extends AuthConfigOptions {
  /** The JWKS: the object, or its JSON text (e.g. from an environment variable). */
  jwks: Jwks | string;
}

function requireIssuer(issuer: unknown): string {
  if (typeof issuer !== 'string' || issuer === '') {
    // An unset env var would otherwise deploy a provider no token can ever match.
    throw new Error('@latchkey/convex: the issuer is empty; set it to Latchkey\'s public URL (e.g. process.env.LATCHKEY_ISSUER).');
  }
  return issuer;
}

/** `{ providers: [{ domain: issuer, applicationID }] }`: the OIDC form. */
export function authConfig({ issuer, applicationID = 'convex' }: AuthConfigOptions): { providers: OidcProvider[] } {
  return { providers: [{ domain: requireIssuer(issuer), applicationID }] };
}

/** The JWKS as a `data:application/json;base64,…` URI Convex reads without a request. */
export function jwksDataUri(jwks: Jwks | string): string {
  const parsed: unknown = typeof jwks === 'string' ? JSON.parse(jwks) : jwks;
  if (!parsed || typeof parsed !== 'object' || !Array.isArray((parsed as Jwks).keys) || (parsed as Jwks).keys.length === 0) {
    throw new Error('@latchkey/convex: jwks must be a JWKS with at least one key ({ "keys": [...] }).');
  }
  return `data:application/json;base64,${bytesToBase64(utf8(JSON.stringify(parsed)))}`;
}

/** `{ providers: [{ type: 'customJwt', issuer, jwks: 'data:…', algorithm: 'RS256', applicationID }] }`. */
export function customJwtAuthConfig({ issuer, jwks, applicationID = 'convex' }: CustomJwtAuthConfigOptions): { providers: CustomJwtProvider[] } {
  return {
    providers: [{ type: 'customJwt', issuer: requireIssuer(issuer), jwks: jwksDataUri(jwks), algorithm: 'RS256', applicationID }],
  };
}
