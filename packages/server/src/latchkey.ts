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
import { applyAuditRetention } from './audit/audit-log.js';
import { purgeExpiredSignUps } from './frontend/retention.js';
import { checkRoleSettings, RoleCatalog, upsertRoles } from './roles/catalog.js';
import { applyPreset } from './roles/presets.js';
import { liftExpiredBans } from './users/suspension.js';
import { DeliveryWorker } from './webhooks/worker.js';
import { hasherPool } from './passwords/hasher-pool.js';
import { withOrigin, type RequestOrigin } from './events/origin.js';

export interface LatchkeyOptions {
  clock?: Clock;
  logger?: Logger;
  /** How often in-memory keys and settings are re-read from storage (ms). */
  reloadIntervalMs?: number;
  /** How often the webhook worker looks at its queue without being told of new events (ms). */
  webhookPollMs?: number;
  /** The webhook retry schedule's jitter source (tests pin it). */
  random?: () => number;
  /** How often expired bans are lifted (ms; 30 s by default). */
  maintenanceIntervalMs?: number;
  /** Whose doing the roles and settings applied from the configuration at start are (the CLI: the operator). */
  origin?: RequestOrigin;
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
  const storage = openStorage({
    databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath, checkpointInBackground: true, onWarning: (message) => logger.warn(message),
  });
  try {
    return await assemble(config, storage, clock, logger, opts);
  } catch (err) {
    await storage.close();
    throw err;
  }
}

async function assemble(config: Config, storage: Storage, clock: Clock, logger: Logger, opts: LatchkeyOptions): Promise<Latchkey> {
  const interval = opts.reloadIntervalMs ?? 5_000;
  hasherPool.configure({ size: config.hasherThreads, pin: config.hasherPinning });
  const boot = await bootstrap(storage, config, clock);
  const { db } = storage;
  const keyring = await Keyring.load(db, clock, config.encryptionKey);
  const secretKeys = new SecretKeyVerifier(db);
  await secretKeys.reload();
  const settings = new SettingsStore(db, clock);
  await settings.reload();
  // Roles and settings given in the environment win over stored ones at every start.
  const configuring = opts.origin ? withOrigin(db, opts.origin) : db;
  if (config.roles) await upsertRoles(configuring, clock, config.roles);
  if (config.rolePreset) await applyPreset(configuring, clock, settings, config.rolePreset);
  if (config.instanceSettings) await settings.update(config.instanceSettings, checkRoleSettings, configuring);
  const roles = new RoleCatalog(db);
  await roles.reload();
  const signer = new JwtSigner(keyring);
  const mail = createMailer({ environment: boot.instance.environment, config, db, clock, logger });

  const onReloadError = (err: unknown) => logger.warn({ err }, 'reloading keys or settings failed; keeping the cached copy');
  for (const r of [keyring, secretKeys, settings, roles]) r.startAutoReload(interval, onReloadError);

  const services: Services = {
    config, db, dialect: storage.dialect, clock, keyring, secretKeys, settings, roles, signer, logger,
    limits: new RateLimits({ ...DEFAULT_RATE_LIMITS, ...config.rateLimits }, storage.pgPool),
    mint: { db, clock, signer, issuer: config.publicUrl, settings: () => settings.get(), permissionsOf: (role) => roles.permissionsOf(role) },
    instanceId: boot.instance.id,
    publishableKey: boot.publishableKey,
    mailer: mail.mailer,
    webhookPolicy: {
      allowPrivate: config.webhooks.allowPrivate,
      allowLoopback: boot.instance.environment === 'development',
    },
  };
  const delivery = startDelivery(services, storage, opts);
  const maintenance = startMaintenance(services, opts.maintenanceIntervalMs ?? 30_000);
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
      for (const r of [keyring, secretKeys, settings, roles]) r.stop();
      maintenance.stop();
      await delivery.stop();
      mail.close();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      await storage.close();
    },
  };
}

const HOUR_MS = 3_600_000;

/** The webhook worker (unless LATCHKEY_WEBHOOK_DELIVERY=off), woken by committed events. */
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
  return {
    async stop() {
      for (const u of unsubscribe) await u();
      await worker?.stop();
      await workerStorage?.close();
      deliverer.close();
    },
  };
}

/**
 * The server's own chores, on every instance (each is safe to run concurrently):
 * lifting bans whose end has come, and the hourly retention of events, webhook
 * messages and attempts, audit entries, and expired sign-ups and email codes.
 */
function startMaintenance(s: Services, intervalMs: number): { stop(): void } {
  const { logger } = s;
  const retain = async () => {
    const { event_retention_days: eventDays, webhook_retention_days: webhookDays, audit_retention_days: auditDays } = s.settings.get();
    try {
      const removed = await applyRetention(s.db, s.clock.now(), { eventDays, webhookDays });
      const audit = await applyAuditRetention(s.db, s.clock.now(), auditDays);
      const frontend = await purgeExpiredSignUps(s.db, s.clock.now());
      if (removed.events + removed.messages + removed.attempts + audit + frontend.signUps + frontend.codes > 0) {
        logger.info({ removed: { ...removed, audit, ...frontend } }, 'retention: removed aged-out records');
      }
    } catch (err) {
      logger.warn({ err }, 'retention job failed; it runs again in an hour');
    }
  };
  const liftBans = async () => {
    try {
      const lifted = await liftExpiredBans(s.db, s.clock);
      if (lifted) logger.info({ lifted }, 'lifted bans that reached their end');
    } catch (err) {
      logger.warn({ err }, 'lifting expired bans failed; trying again shortly');
    }
  };
  const timers = [setTimeout(() => void retain(), 60_000), setInterval(() => void retain(), HOUR_MS), setInterval(() => void liftBans(), intervalMs)];
  for (const t of timers) t.unref();
  return { stop: () => timers.forEach((t) => clearTimeout(t)) };
}
