import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/** `whsec_` and the standard base64 of 24 random bytes, as Svix and Clerk issue them. */
export function newSecret(): string {
  return `whsec_${randomBytes(24).toString('base64')}`;
}

// One Webhook object per secret: it decodes the key once.
const signers = new Map<string, Webhook>();
function signerFor(secret: string): Webhook {
  let w = signers.get(secret);
  if (!w) {
    if (signers.size > 1000) signers.clear();
    w = new Webhook(secret);
    signers.set(secret, w);
  }
  return w;
}

/**
 * The headers of one delivery: Clerk's verifyWebhook reads `svix-*`, the
 * standardwebhooks package reads `webhook-*`, svix reads either, so both go.
 * During a secret rotation each secret signs (`v1,old v1,new`); receivers
 * accept the request when any signature matches.
 */
export function signedHeaders(msgId: string, nowMs: number, body: string, secrets: readonly string[]): Record<string, string> {
  const at = new Date(nowMs);
  const signature = secrets.map((s) => signerFor(s).sign(msgId, at, body)).join(' ');
  const timestamp = String(Math.floor(nowMs / 1000));
  return {
    'svix-id': msgId,
    'svix-timestamp': timestamp,
    'svix-signature': signature,
    'webhook-id': msgId,
    'webhook-timestamp': timestamp,
    'webhook-signature': signature,
  };
}
