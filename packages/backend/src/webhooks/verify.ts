import { createHmac, timingSafeEqual } from 'node:crypto';
import type { LatchkeyEvent } from '../client/types.js';
import { WebhookVerificationError } from './errors.js';
import { webhookHeaders, type WebhookHeaders } from './headers.js';

/** The raw body as it arrived: a string, or the Buffer of express.raw(). */
export type WebhookPayload = string | Uint8Array;

export interface VerifyWebhookOptions {
  /** The endpoint's signing secret, `whsec_…` (undefined: an unset environment variable, refused as missing_secret). */
  secret: string | undefined;
  /**
   * The body exactly as received. A parsed object (express.json() ran first) is
   * re-serialised: that verifies Latchkey's deliveries, which are compact
   * JSON.stringify output, but not every sender's, so prefer the raw body.
   */
  payload: WebhookPayload | object;
  headers: WebhookHeaders;
  /** Seconds a timestamp may be away from now, default 300 (Svix's). */
  toleranceInSeconds?: number;
  /** Time source, for tests. */
  now?: () => number;
}

const DEFAULT_TOLERANCE_S = 300;

/** The HMAC key: the base64 after `whsec_` (Svix and Standard Webhooks), or the bare base64. */
function secretKey(secret: string): Buffer {
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  if (key.length === 0) throw new WebhookVerificationError('missing_secret', 'The webhook signing secret is empty or not base64.');
  return key;
}

function bodyBytes(payload: VerifyWebhookOptions['payload']): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  // Express without a body parser leaves req.body undefined: say what is missing rather than "invalid signature".
  if (payload === undefined || payload === null) {
    throw new TypeError('verifyWebhook needs the request body: in Express, mount express.raw({ type: "application/json" }) on the webhook route.');
  }
  if (payload instanceof Uint8Array) return Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  return Buffer.from(JSON.stringify(payload), 'utf8');
}

/**
 * True when one `v1,<base64>` entry of the (space-separated) signature header
 * is the HMAC of the body. During a secret rotation the sender signs with both
 * secrets, so either secret finds its entry. Compared in constant time, so the
 * answer's timing says nothing about how much of a forgery was right.
 */
function signatureMatches(header: string, expected: Buffer): boolean {
  let found = false;
  for (const entry of header.split(' ')) {
    const comma = entry.indexOf(',');
    if (comma < 0 || entry.slice(0, comma) !== 'v1') continue; // v1a (asymmetric) and unknown versions are not ours
    const given = Buffer.from(entry.slice(comma + 1), 'base64');
    // Every entry is compared, matched or not, so the count of entries is the only thing timing can tell.
    if (given.length === expected.length && timingSafeEqual(given, expected)) found = true;
  }
  return found;
}

/**
 * Verifies a webhook delivery the way Svix and Standard Webhooks define it:
 * HMAC-SHA256 over `{id}.{timestamp}.{body}` with the secret's bytes, a
 * timestamp within 5 minutes, and returns the parsed event. Throws
 * WebhookVerificationError with the reason otherwise.
 */
export function verifyWebhook<E = LatchkeyEvent>(opts: VerifyWebhookOptions): E {
  if (!opts.secret) throw new WebhookVerificationError('missing_secret', 'No webhook signing secret is configured.');
  const key = secretKey(opts.secret);
  const { id, timestamp, signature } = webhookHeaders(opts.headers);
  if (!id || !timestamp || !signature) {
    throw new WebhookVerificationError('missing_headers', 'The svix-id, svix-timestamp and svix-signature headers (or webhook-*) are required.');
  }
  const seconds = /^\d{1,15}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
  const nowS = Math.floor((opts.now ?? Date.now)() / 1000);
  const tolerance = opts.toleranceInSeconds ?? DEFAULT_TOLERANCE_S;
  // Checked before the signature: an old capture replayed with its real signature must not pass.
  if (!Number.isFinite(seconds) || Math.abs(nowS - seconds) > tolerance) {
    throw new WebhookVerificationError('timestamp', `The webhook timestamp ${JSON.stringify(timestamp)} is more than ${tolerance} s from now.`);
  }
  const body = bodyBytes(opts.payload);
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(body).digest();
  if (!signatureMatches(signature, expected)) {
    throw new WebhookVerificationError('invalid_signature', 'No matching webhook signature found.');
  }
  try {
    return JSON.parse(body.toString('utf8')) as E;
  } catch {
    throw new WebhookVerificationError('invalid_payload', 'The webhook body is not valid JSON.');
  }
}

/**
 * verifyWebhook for a fetch Request (Hono, Next.js route handlers, workers).
 * Reads the body as bytes, so nothing re-encodes it before the check.
 */
export async function verifyWebhookRequest<E = LatchkeyEvent>(
  request: Request, secret: string | undefined, opts: Pick<VerifyWebhookOptions, 'toleranceInSeconds' | 'now'> = {},
): Promise<E> {
  // The secret first: a missing one is the receiver's problem and should not cost a body read.
  if (!secret) throw new WebhookVerificationError('missing_secret', 'No webhook signing secret is configured.');
  const payload = new Uint8Array(await request.arrayBuffer());
  return verifyWebhook<E>({ ...opts, secret, payload, headers: request.headers });
}
