import type { JSONValue } from 'convex/values';
import { compactVerify, decodeJwt, decodeProtectedHeader, importJWK, type JWK } from 'jose';

/**
 * An oracle for what a Convex deployment accepts: applies every rule of
 * /work/shared/reference/convex-auth.md for the OIDC provider form
 * `{ domain, applicationID }` to a real token, fetching discovery and the JWKS
 * over HTTP as Convex does, and returns the identity `ctx.auth.getUserIdentity()`
 * would see. No real Convex backend can run here, so suites verify Latchkey's
 * tokens with this instead.
 *
 * Each refusal is a ConvexRuleError whose `rule` names the rule broken, so the
 * oracle's own tests can show it fails for the right reason.
 *
 * Node or any runtime with fetch; it needs only `jose`. Not for Convex functions:
 * Convex itself does this check before a function runs.
 */

export type ConvexRule =
  | 'format' // not a JWS compact token with JSON header and payload
  | 'provider' // no provider matches (applicationID not in aud, or iss is not the domain)
  | 'aud' // aud holds more than the applicationID
  | 'discovery' // the discovery document could not be fetched or is unusable
  | 'discovery.issuer' // its issuer is not the token's iss byte for byte
  | 'jwks' // the JWKS could not be fetched or is unusable
  | 'alg' // neither RS256 nor EdDSA
  | 'typ' // typ other than absent, JWT or JOSE
  | 'kid' // kid missing, or no usable key with that kid
  | 'signature'
  | 'claims.required' // iss, sub, iat or exp missing or mistyped
  | 'exp' // expired (no leeway)
  | 'email_verified' // present but not a JSON boolean
  | 'phone_number_verified' // present but not a JSON boolean
  | 'updated_at' // present but neither a number nor an RFC 3339 string
  | 'standard_claims'; // another standard claim of the wrong JSON type

export class ConvexRuleError extends Error {
  constructor(readonly rule: ConvexRule, message: string) {
    super(`Convex would reject this token [${rule}]: ${message}`);
    this.name = 'ConvexRuleError';
  }
}

/**
 * What `ctx.auth.getUserIdentity()` returns on the OIDC path. Claims are JSON
 * values, as in Convex's UserIdentity, so it can be passed to convex-test's
 * `t.withIdentity` as it is.
 */
export interface ConvexIdentity {
  subject: string;
  issuer: string;
  tokenIdentifier: string;
  [claim: string]: JSONValue | undefined;
}

export interface ConvexCheckOptions {
  /** auth.config.ts provider `domain`. */
  domain: string;
  /** auth.config.ts provider `applicationID`. Default "convex". */
  applicationID?: string;
  /** Fetch used for discovery and the JWKS (default: global fetch). */
  fetch?: (url: string) => Promise<Response>;
  /** The verifier's time in ms (default Date.now()): `exp` is compared with no leeway. */
  now?: number;
}

export interface ConvexCheckResult {
  identity: ConvexIdentity;
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
}

const fail = (rule: ConvexRule, message: string): never => {
  throw new ConvexRuleError(rule, message);
};

/** OIDC standard claims and the camelCase names Convex gives them. */
const STANDARD_CLAIMS: Record<string, string> = {
  name: 'name',
  given_name: 'givenName',
  family_name: 'familyName',
  nickname: 'nickname',
  preferred_username: 'preferredUsername',
  profile: 'profileUrl',
  picture: 'pictureUrl',
  email: 'email',
  email_verified: 'emailVerified',
  gender: 'gender',
  birthdate: 'birthday',
  zoneinfo: 'timezone',
  locale: 'language',
  phone_number: 'phoneNumber',
  phone_number_verified: 'phoneNumberVerified',
  address: 'address',
  updated_at: 'updatedAt',
};
const STRING_CLAIMS = ['name', 'given_name', 'family_name', 'nickname', 'preferred_username', 'profile', 'picture', 'email',
  'gender', 'birthdate', 'zoneinfo', 'locale', 'phone_number'];
/** Registered claims and `fva`: not part of the identity. */
const DROPPED = new Set(['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'fva']);

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

const stripSlash = (s: string) => s.replace(/\/+$/, '');

/** The media type of a response, without parameters, lower-cased. */
const mediaType = (res: Response) => (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

async function fetchJson(
  doFetch: (url: string) => Promise<Response>, url: string, rule: 'discovery' | 'jwks', types: string[],
): Promise<Record<string, unknown>> {
  let res: Response;
  try {
    res = await doFetch(url);
  } catch (err) {
    return fail(rule, `GET ${url} failed: ${String(err)}`);
  }
  if (res.status !== 200) fail(rule, `GET ${url} answered ${res.status}, not 200`);
  const type = mediaType(res);
  if (!types.includes(type)) fail(rule, `GET ${url} answered content-type "${res.headers.get('content-type')}", not ${types.join(' or ')}`);
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    return fail(rule, `GET ${url} did not answer JSON`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) fail(rule, `GET ${url} did not answer a JSON object`);
  return body as Record<string, unknown>;
}

/** Whether a JWK can verify `alg` (kty/crv match, and its own alg/use, when given, agree). */
function usableFor(jwk: JWK, alg: string): boolean {
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  if (jwk.alg !== undefined && jwk.alg !== alg) return false;
  if (alg === 'RS256') return jwk.kty === 'RSA';
  if (alg === 'EdDSA') return jwk.kty === 'OKP' && jwk.crv === 'Ed25519';
  return false;
}

/**
 * Applies every rule a Convex deployment applies to a token for the OIDC
 * provider `{ domain, applicationID }`; throws ConvexRuleError naming the first
 * broken rule, or returns the identity Convex would build.
 */
export async function checkConvexToken(token: string, opts: ConvexCheckOptions): Promise<ConvexCheckResult> {
  const applicationID = opts.applicationID ?? 'convex';
  const doFetch = opts.fetch ?? ((url: string) => fetch(url));
  const now = opts.now ?? Date.now();

  // Shape: header.payload.signature, both JSON objects.
  if (typeof token !== 'string' || token.split('.').length !== 3) fail('format', 'not a compact JWS (three dot-separated parts)');
  let header: Record<string, unknown>;
  let payload: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
    payload = decodeJwt(token) as Record<string, unknown>;
  } catch (err) {
    return fail('format', `header or payload is not a base64url JSON object (${String(err)})`);
  }

  // Provider choice: applicationID in aud, and the domain equal to iss with a trailing "/" ignored.
  const auds = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
  if (!auds.includes(applicationID)) fail('provider', `aud ${JSON.stringify(payload.aud)} does not contain the applicationID "${applicationID}"`);
  if (typeof payload.iss !== 'string') fail('claims.required', 'iss is missing or not a string');
  const iss = payload.iss as string;
  if (stripSlash(iss) !== stripSlash(opts.domain)) fail('provider', `iss "${iss}" is not the provider domain "${opts.domain}"`);
  // The audience must be the applicationID and nothing else.
  if (auds.length !== 1) fail('aud', `aud ${JSON.stringify(payload.aud)} holds more than the single audience "${applicationID}"`);

  // Discovery at <iss>/.well-known/openid-configuration; its issuer must be iss byte for byte.
  const discoveryUrl = `${stripSlash(iss)}/.well-known/openid-configuration`;
  const discovery = await fetchJson(doFetch, discoveryUrl, 'discovery', ['application/json']);
  if (typeof discovery.issuer !== 'string') fail('discovery', `${discoveryUrl} has no issuer`);
  if (typeof discovery.jwks_uri !== 'string' || discovery.jwks_uri === '') fail('discovery', `${discoveryUrl} has no jwks_uri`);
  if (discovery.issuer !== iss) {
    fail('discovery.issuer', `the discovery issuer ${JSON.stringify(discovery.issuer)} is not the token's iss ${JSON.stringify(iss)} byte for byte`);
  }
  const jwks = await fetchJson(doFetch, discovery.jwks_uri as string, 'jwks', ['application/json', 'application/jwk-set+json']);
  if (!Array.isArray(jwks.keys)) fail('jwks', `${String(discovery.jwks_uri)} has no "keys" array`);
  const keys = jwks.keys as JWK[];

  // Header: alg, typ, kid.
  const alg = header.alg;
  if (alg !== 'RS256' && alg !== 'EdDSA') fail('alg', `alg ${JSON.stringify(alg)} is not RS256 or EdDSA`);
  if (header.typ !== undefined && header.typ !== 'JWT' && header.typ !== 'JOSE') fail('typ', `typ ${JSON.stringify(header.typ)} is not absent, JWT or JOSE`);
  // Convex tolerates a missing kid only with a single-key JWKS; a provider must always send it.
  if (typeof header.kid !== 'string' || header.kid === '') fail('kid', 'the header has no kid');
  const jwk = keys.find((k) => k.kid === header.kid && usableFor(k, alg as string));
  if (!jwk) fail('kid', `no usable ${String(alg)} key with kid ${JSON.stringify(header.kid)} in the JWKS`);

  // Signature.
  try {
    const key = await importJWK(jwk!, alg as string);
    await compactVerify(token, key, { algorithms: [alg as string] });
  } catch (err) {
    fail('signature', `the signature does not verify with kid ${String(header.kid)} (${String(err)})`);
  }

  // Registered claims: iss, sub, iat, exp; exp strictly in the future; nbf ignored.
  if (typeof payload.sub !== 'string' || payload.sub === '') fail('claims.required', 'sub is missing or not a non-empty string');
  if (typeof payload.iat !== 'number') fail('claims.required', 'iat is missing or not a number');
  if (typeof payload.exp !== 'number') fail('claims.required', 'exp is missing or not a number');
  if ((payload.exp as number) * 1000 <= now) {
    fail('exp', `expired: exp ${String(payload.exp)} is not after now ${Math.floor(now / 1000)} (no leeway)`);
  }

  // Typed standard claims (a null is an absent value, as Convex's deserializer takes it).
  for (const claim of ['email_verified', 'phone_number_verified'] as const) {
    const v = payload[claim];
    if (v !== undefined && v !== null && typeof v !== 'boolean') fail(claim, `${claim} must be a JSON boolean, got ${JSON.stringify(v)}`);
  }
  const updatedAt = payload.updated_at;
  if (updatedAt !== undefined && updatedAt !== null) {
    const ok = typeof updatedAt === 'number'
      ? Number.isFinite(updatedAt)
      : typeof updatedAt === 'string' && RFC3339.test(updatedAt) && !Number.isNaN(Date.parse(updatedAt));
    if (!ok) fail('updated_at', `updated_at must be a number or an RFC 3339 string, got ${JSON.stringify(updatedAt)}`);
  }
  for (const claim of STRING_CLAIMS) {
    const v = payload[claim];
    if (v !== undefined && v !== null && typeof v !== 'string') fail('standard_claims', `${claim} must be a string, got ${JSON.stringify(v)}`);
  }
  const address = payload.address;
  if (address !== undefined && address !== null && (typeof address !== 'object' || Array.isArray(address))) {
    fail('standard_claims', `address must be a JSON object, got ${JSON.stringify(address)}`);
  }

  // The identity: subject, issuer, tokenIdentifier; standard claims camelCased; others as they are.
  const identity: ConvexIdentity = { subject: payload.sub as string, issuer: iss, tokenIdentifier: `${iss}|${String(payload.sub)}` };
  for (const [claim, value] of Object.entries(payload)) {
    if (DROPPED.has(claim) || value === undefined) continue;
    const camel = STANDARD_CLAIMS[claim];
    if (camel && value === null) continue;
    // A decoded JWT payload is JSON, so every value is a JSONValue.
    const json = value as JSONValue;
    if (camel === 'updatedAt') identity.updatedAt = typeof value === 'number' ? new Date(value * 1000).toISOString() : json;
    else if (camel) identity[camel] = json;
    else identity[claim] = json;
  }
  return { identity, header, payload };
}
