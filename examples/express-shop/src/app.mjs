// @ts-check
import { createLatchkeyClient, createUserSync } from '@latchkey/backend';
import express from 'express';
import pg from 'pg';
import { clerkGuards } from './auth/clerk.mjs';
import { latchkeyGuards } from './auth/latchkey.mjs';
import { loadConfig } from './config.mjs';
import { migrate } from './db/schema.mjs';
import { createUserRepository } from './db/users.mjs';
import { createLogMailer, createSmtpMailer } from './mail/mailer.mjs';
import { createWelcomeSender } from './mail/welcome.mjs';
import { shopRouter } from './routes/shop.mjs';
import { webhookRouter } from './routes/webhooks.mjs';
import { createInboxWorker } from './webhooks/inbox.mjs';

/**
 * @typedef {object} ShopOptions
 * @property {NodeJS.ProcessEnv} [env]    process.env by default
 * @property {import('./mail/mailer.mjs').Mailer} [mailer]  instead of SMTP_URL's
 * @property {() => number} [now]
 * @property {(line: string, err?: unknown) => void} [log]
 */

/**
 * Builds the shop: its database (schema created), the sync kit, the guards
 * AUTH_SDK names, the webhook inbox and its worker, and the Express app.
 * Nothing listens until listen() and nothing is processed until the worker
 * starts (listen() starts it).
 * @param {ShopOptions} [opts]
 */
export async function createShop(opts = {}) {
  const config = loadConfig(opts.env ?? process.env);
  const now = opts.now ?? Date.now;
  const log = opts.log ?? ((line, err) => (err ? console.error(line) : console.log(line)));

  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  pool.on('error', (err) => log(`database pool: ${err.message}`, err)); // an idle connection dropped: the pool reconnects
  try {
    await migrate(pool);
  } catch (err) {
    await pool.end();
    throw err;
  }

  const latchkey = createLatchkeyClient({ apiUrl: config.apiUrl, secretKey: config.secretKey });
  const users = createUserRepository(pool, { now });
  // One sync for webhooks (through the inbox), ensureUser (first request before the webhook) and reconcile.
  // Its row id is written back as public_metadata.dbId, so tokens carry sessionClaims.dbId (seed 003).
  const sync = createUserSync({ client: latchkey, webhookSecret: config.webhookSecret, store: users.store });
  const ensureUser = (/** @type {string} */ userId) => sync.ensureUser(userId);
  const guards = config.authSdk === 'clerk' ? clerkGuards(config, { users, ensureUser }) : latchkeyGuards(config, { users, ensureUser });

  const mailer = opts.mailer ?? (config.smtpUrl ? createSmtpMailer({ url: config.smtpUrl, from: config.mailFrom }) : createLogMailer(log));
  const sendWelcome = createWelcomeSender(pool, mailer, { now });

  const worker = createInboxWorker({
    pool,
    now,
    log,
    pollMs: config.workerPollMs,
    retryBaseMs: config.retryBaseMs,
    retryMaxMs: config.retryMaxMs,
    maxAttempts: config.maxAttempts,
    async handle(row) {
      const event = row.payload;
      // The kit's own handling: newer versions win, deletes redact, stale and duplicate events change nothing.
      await sync.apply(event);
      // Seed 004's welcome email, once per user (the user.created delivered twice, replayed or resent still sends one).
      if (event.type === 'user.created') await sendWelcome(event.data);
    },
  });

  const app = express();
  app.disable('x-powered-by');
  // The webhook route reads the raw body, so it comes before the JSON parser (and needs no session token).
  app.use(webhookRouter({ pool, webhookSecret: config.webhookSecret, onQueued: worker.wake, now }));
  app.use(guards.authenticate);
  app.use(express.json({ limit: '100kb' }));
  app.use(shopRouter({ pool, guards }));
  app.use((_req, res) => {
    res.status(404).json({ message: 'Not found' });
  });
  /** @type {import('express').ErrorRequestHandler} */
  const onError = (err, _req, res, _next) => {
    if (err?.type === 'entity.parse.failed') {
      res.status(400).json({ message: 'Invalid JSON body' });
      return;
    }
    if (err?.type === 'entity.too.large') {
      res.status(413).json({ message: 'Body too large' });
      return;
    }
    log(`request failed: ${err instanceof Error ? err.stack : String(err)}`, err);
    res.status(500).json({ message: 'Internal server error' });
  };
  app.use(onError);

  /** @type {import('node:http').Server | undefined} */
  let server;

  return {
    config,
    app,
    pool,
    sync,
    latchkey,
    worker,
    users,
    /** The revocation list (AUTH_SDK=latchkey with the check on): refresh() it to see a ban at once. */
    revocations: guards.revocations,
    /**
     * Starts the inbox worker and listens on `port` (config.port by default; 0 for any).
     * @param {number} [port]
     * @param {string} [host]
     * @returns {Promise<string>} the shop's URL
     */
    async listen(port = config.port, host) {
      worker.start();
      const s = await new Promise((resolve, reject) => {
        /** @param {Error | undefined} err */
        const done = (err) => (err ? reject(err) : resolve(srv));
        const srv = host === undefined ? app.listen(port, done) : app.listen(port, host, done);
      });
      server = /** @type {import('node:http').Server} */ (s);
      const address = /** @type {import('node:net').AddressInfo} */ (server.address());
      return `http://${host && host !== '0.0.0.0' ? host : '127.0.0.1'}:${address.port}`;
    },
    /** Stops taking requests, lets the worker finish the row under way, closes connections. */
    async close() {
      if (server) {
        const s = server;
        await new Promise((resolve) => {
          s.close(() => resolve(undefined));
          s.closeAllConnections();
        });
      }
      await worker.stop();
      guards.close();
      mailer.close();
      await pool.end();
    },
  };
}

/** @typedef {Awaited<ReturnType<typeof createShop>>} Shop */
