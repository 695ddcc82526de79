// @ts-check
import { verifyWebhook, webhookRefusal, WebhookVerificationError } from '@latchkey/backend';
import express from 'express';
import { enqueue } from '../webhooks/inbox.mjs';

/**
 * POST /api/webhooks/latchkey: verify the raw body, store the delivery in the
 * inbox (once per svix-id), answer 200 at once; the worker does the rest.
 * Mounted before express.json(): the signature covers the exact bytes.
 * @param {{ pool: import('pg').Pool, webhookSecret: string | undefined, onQueued: () => void, now?: () => number }} deps
 */
export function webhookRouter({ pool, webhookSecret, onQueued, now = Date.now }) {
  const router = express.Router();
  router.post('/api/webhooks/latchkey', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    /** @type {import('@latchkey/backend').LatchkeyEvent} */
    let event;
    try {
      // No body at all leaves req.body undefined: verify an empty one (it fails as unsigned, not as a crash).
      const payload = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
      event = verifyWebhook({ secret: webhookSecret, payload, headers: req.headers });
    } catch (err) {
      if (!(err instanceof WebhookVerificationError)) throw err;
      const { status, body } = webhookRefusal(err.reason);
      res.status(status).json(body);
      return;
    }
    const id = /** @type {string} */ (req.get('svix-id') || req.get('webhook-id'));
    await enqueue(pool, id, event, now());
    onQueued();
    res.status(200).json({ received: true });
  });
  return router;
}
