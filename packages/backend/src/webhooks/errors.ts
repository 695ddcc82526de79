/**
 * Why a webhook delivery was refused:
 * - `missing_secret`: no signing secret configured (a deployment problem, not the sender's);
 * - `missing_headers`: no id, timestamp or signature header (not a webhook at all);
 * - `invalid_signature`: no signature matches the body (tampered, or signed with another secret);
 * - `timestamp`: signed more than the tolerance away from now (a replayed capture, or a skewed clock);
 * - `invalid_payload`: correctly signed, but the body is not a JSON event.
 */
export type WebhookVerificationErrorReason = 'missing_secret' | 'missing_headers' | 'invalid_signature' | 'timestamp' | 'invalid_payload';

export class WebhookVerificationError extends Error {
  constructor(public readonly reason: WebhookVerificationErrorReason, message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}
