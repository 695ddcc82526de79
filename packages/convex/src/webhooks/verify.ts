import { base64ToBytes, utf8 } from '../base64.js';

/**
 * Svix / Standard Webhooks signature checking with WebCrypto only, so it runs
 * inside a Convex httpAction (the default V8 runtime has crypto.subtle but no
 * node:crypto) without bundling the svix package.
 */

/**
 * Why a delivery was refused. A timestamp outside the tolerance and a signed
 * body that is not JSON count as `invalid_signature`, as they do for svix's
 * Webhook.verify, so a route answers them the same way (400).
 */
export type LatchkeyWebhookErrorReason = 'missing_secret' | 'missing_headers' | 'invalid_signature';

export class LatchkeyWebhookError extends Error {
  constructor(readonly reason: LatchkeyWebhookErrorReason, message: string) {
    super(message);
    this.name = 'LatchkeyWebhookError';
  }
}

/** A verified delivery: Latchkey's event envelope (Clerk's fields, plus id and sequence). */
export interface LatchkeyWebhookEvent<T = unknown> {
  type: string;
  data: T;
  object?: 'event';
  /** ms */
  timestamp?: number;
  [field: string]: unknown;
}

export interface VerifyOptions {
  /** Seconds the svix-timestamp may be away from now; default 300, as svix. */
  toleranceInSeconds?: number;
  /** Time source in ms, for tests. */
  now?: () => number;
}

const DEFAULT_TOLERANCE_S = 300;

/** Latchkey sends svix-* and webhook-* (Standard Webhooks); other senders one set. */
function header(headers: Headers | Record<string, string | undefined>, suffix: string): string | undefined {
  const get = (name: string) =>
    headers instanceof Headers
      ? headers.get(name) ?? undefined
      : Object.entries(headers).find(([key]) => key.toLowerCase() === name)?.[1];
  return get(`svix-${suffix}`) || get(`webhook-${suffix}`) || undefined;
}

async function hmacKey(secret: string) {
  const bytes = base64ToBytes(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret);
  if (!bytes || bytes.length === 0) {
    throw new LatchkeyWebhookError('missing_secret', 'The webhook signing secret is empty or not base64 (expected whsec_…).');
  }
  return crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}

/**
 * Checks the signature, timestamp and JSON of one delivery and returns the
 * event; throws LatchkeyWebhookError otherwise. `body` must be the raw text
 * as received (`await request.text()`), not a re-serialised object.
 */
export async function verifyWebhookSignature<T = unknown>(
  secret: string | undefined,
  body: string,
  headers: Headers | Record<string, string | undefined>,
  opts: VerifyOptions = {},
): Promise<LatchkeyWebhookEvent<T>> {
  if (!secret) throw new LatchkeyWebhookError('missing_secret', 'No webhook signing secret is configured.');
  const id = header(headers, 'id');
  const timestamp = header(headers, 'timestamp');
  const signature = header(headers, 'signature');
  if (!id || !timestamp || !signature) {
    throw new LatchkeyWebhookError('missing_headers', 'The svix-id, svix-timestamp and svix-signature headers are required.');
  }
  const key = await hmacKey(secret);

  // Before the signature: a captured delivery replayed later carries a real signature.
  const seconds = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  const tolerance = opts.toleranceInSeconds ?? DEFAULT_TOLERANCE_S;
  if (!Number.isFinite(seconds) || Math.abs(nowS - seconds) > tolerance) {
    throw new LatchkeyWebhookError('invalid_signature', `The webhook timestamp ${JSON.stringify(timestamp)} is more than ${tolerance} s from now.`);
  }

  // "v1,<base64>" entries, space-separated: during a secret rotation there is one per secret.
  // subtle.verify compares in constant time; every entry is tried, matched or not.
  const signed = utf8(`${id}.${timestamp}.${body}`);
  let matched = false;
  for (const entry of signature.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue; // v1a (asymmetric) and unknown versions are not ours
    const given = base64ToBytes(entry.slice(comma + 1));
    if (given && (await crypto.subtle.verify('HMAC', key, given, signed))) matched = true;
  }
  if (!matched) throw new LatchkeyWebhookError('invalid_signature', 'No matching webhook signature found.');

  try {
    return JSON.parse(body) as LatchkeyWebhookEvent<T>;
  } catch {
    throw new LatchkeyWebhookError('invalid_signature', 'The signed webhook body is not JSON.');
  }
}
