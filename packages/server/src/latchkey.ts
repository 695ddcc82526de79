import { serve, type ServerType } from '@hono/node-server';
import type { Logger } from 'pino';
import { DEFAULT_RATE_LIMITS, RateLimits } from './abuse/rate-limits.js';
import { systemClock, type Clock } from './clock/clock.js';
import type { Config } from './config/config.js';
import { createHttpApp } from './http/app.js';
import { SecretKeyVerifier } from './instance/api-keys.js';
import { bootstrap, type BootstrapResult } from './instance/bootstrap.js';
import { SettingsStore } from './instance/settings-store.js';
import { Keyring } from './keys/keyring.js';
import { createLogger } from './logging/logger.js';
import { createMailer } from './mail/mailer.js';
import type { Services } from './services.js';
import { openStorage, type Storage } from './storage/database.js';
import { JwtSigner } from './tokens/jwt-signer.js';
import { EVENTS_CHANNEL, onEventsCommitted } from './events/signal.js';
import { Deliverer } from './webhooks/delivery.js';
import { applyRetention } from './webhooks/retention.js';
import { DeliveryWorker } from './webhooks/worker.js';

export interface LatchkeyOptions {
  clock?: Clock;
  logger?: Logger;
  /** How often in-memory keys and settings are re-read from storage (ms). */
  reloadIntervalMs?: number;
  /** How often the webhook worker looks at its queue without being told of new events (ms). */
  webhookPollMs?: number;
  /** The webhook retry schedule's jitter source (tests pin it). */
  random?: () => number;
}

export interface Latchkey {
  services: Services;
  storage: Storage;
  boot: BootstrapResult;
  /** The Hono app's fetch handler, for in-process tests. */
  fetch: (req: Request) => Response | Promise<Response>;
  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number>;
  close(): Promise<void>;
}

/** The composition root: opens storage, bootstraps the instance, wires services and routes. */
export async function createLatchkey(config: Config, opts: LatchkeyOptions = {}): Promise<Latchkey> {
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const storage = openStorage({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath });
  try {
    return await assemble(config, storage, clock, logger, opts);
  } catch (err) {
    await storage.close();
    throw err;
  }
}

async function assemble(config: Config, storage: Storage, clock: Clock, logger: Logger, opts: LatchkeyOptions): Promise<Latchkey> {
  const interval = opts.reloadIntervalMs ?? 5_000;
  const boot = await bootstrap(storage, config, clock);
  const { db } = storage;
  const keyring = await Keyring.load(db, clock, config.encryptionKey);
  const secretKeys = new SecretKeyVerifier(db);
  await secretKeys.reload();
  const settings = new SettingsStore(db, clock);
  await settings.reload();
  // Settings given in the environment win over stored ones at every start.
  if (config.instanceSettings) await settings.update(config.instanceSettings);
  const signer = new JwtSigner(keyring);
  const mail = createMailer({ environment: boot.instance.environment, config, db, clock, logger });

  const onReloadError = (err: unknown) => logger.warn({ err }, 'reloading keys or settings failed; keeping the cached copy');
  for (const r of [keyring, secretKeys, settings]) r.startAutoReload(interval, onReloadError);

  const services: Services = {
    config, db, dialect: storage.dialect, clock, keyring, secretKeys, settings, signer, logger,
    limits: new RateLimits({ ...DEFAULT_RATE_LIMITS, ...config.rateLimits }),
    mint: { db, clock, signer, issuer: config.publicUrl, settings: () => settings.get() },
    instanceId: boot.instance.id,
    publishableKey: boot.publishableKey,
    mailer: mail.mailer,
    webhookPolicy: {
      allowPrivate: config.webhooks.allowPrivate,
      allowLoopback: boot.instance.environment === 'development',
    },
  };
  const delivery = startDelivery(services, storage, opts);
  const app = createHttpApp(services);
  let server: ServerType | undefined;

  return {
    services,
    storage,
    boot,
    fetch: app.fetch,
    listen: () =>
      new Promise((resolve, reject) => {
        server = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, (info) => resolve(info.port));
        server.once('error', reject);
      }),
    async close() {
      for (const r of [keyring, secretKeys, settings]) r.stop();
      await delivery.stop();
      mail.close();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      await storage.close();
    },
  };
}

const HOUR_MS = 3_600_000;

/**
 * The webhook worker (unless LATCHKEY_WEBHOOK_DELIVERY=off), woken by committed
 * events, and the hourly retention job for events, messages and attempts.
 */
function startDelivery(s: Services, storage: Storage, opts: LatchkeyOptions): { stop(): Promise<void> } {
  const { config, logger } = s;
  const deliverer = new Deliverer(s.webhookPolicy, config.webhooks.timeoutMs);
  // On PostgreSQL the worker has connections of its own, so a busy API cannot starve
  // delivery of them (nor the other way round). SQLite has one connection anyway.
  const workerStorage = config.webhooks.deliver && storage.dialect === 'postgres'
    ? openStorage({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath, maxConnections: 3 })
    : undefined;
  const worker = config.webhooks.deliver
    ? new DeliveryWorker({
      db: workerStorage?.db ?? s.db, dialect: s.dialect, clock: s.clock, logger, deliverer, instanceId: s.instanceId,
      encryptionKey: config.encryptionKey, timeoutMs: config.webhooks.timeoutMs,
      concurrency: config.webhooks.concurrency, pollMs: opts.webhookPollMs, random: opts.random,
    })
    : undefined;
  const unsubscribe: (() => Promise<void> | void)[] = [];
  if (worker) {
    if (storage.listen) {
      unsubscribe.push(storage.listen(EVENTS_CHANNEL, () => worker.poke(),
        (err) => logger.warn({ err }, 'webhook delivery: lost the event notifications; polling until reconnected')));
    } else {
      const off = onEventsCommitted(() => worker.poke());
      unsubscribe.push(() => void off());
    }
    worker.start();
  }
  const retain = async () => {
    const { event_retention_days: eventDays, webhook_retention_days: webhookDays } = s.settings.get();
    try {
      const removed = await applyRetention(s.db, s.clock.now(), { eventDays, webhookDays });
      if (removed.events + removed.messages + removed.attempts > 0) logger.info({ removed }, 'retention: removed aged-out events and deliveries');
    } catch (err) {
      logger.warn({ err }, 'retention job failed; it runs again in an hour');
    }
  };
  const first = setTimeout(() => void retain(), 60_000);
  const hourly = setInterval(() => void retain(), HOUR_MS);
  first.unref();
  hourly.unref();
  return {
    async stop() {
      clearTimeout(first);
      clearInterval(hourly);
      for (const u of unsubscribe) await u();
      await worker?.stop();
      await workerStorage?.close();
      deliverer.close();
    },
  };
}
