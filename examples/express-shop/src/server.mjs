#!/usr/bin/env node
// @ts-check
/**
 * Starts the shop: `node examples/express-shop/src/server.mjs` (or `npm run shop`
 * at the repository root). Configured by environment variables only; see README.md.
 */
import { createShop } from './app.mjs';
import { ConfigError } from './config.mjs';

let shop;
try {
  shop = await createShop();
} catch (err) {
  console.error(err instanceof ConfigError ? err.message : err);
  process.exit(1);
}

const { config } = shop;
if (!config.webhookSecret) console.warn('LATCHKEY_WEBHOOK_SECRET is not set: POST /api/webhooks/latchkey answers 500 until it is.');
if (!config.smtpUrl) console.warn('SMTP_URL is not set: welcome emails are written to this log.');
const url = await shop.listen();
console.log(`shop listening on ${url} (auth: ${config.authSdk}, Latchkey at ${config.apiUrl})`);

let closing = false;
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, async () => {
    if (closing) return;
    closing = true;
    await shop.close();
    process.exit(0);
  });
}
