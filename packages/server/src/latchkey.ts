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

export interface LatchkeyOptions {
  clock?: Clock;
  logger?: Logger;
  /** How often in-memory keys and settings are re-read from storage (ms). */
  reloadIntervalMs?: number;
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
    return await assemble(config, storage, clock, logger, opts.reloadIntervalMs ?? 5_000);
  } catch (err) {
    await storage.close();
    throw err;
  }
}

async function assemble(config: Config, storage: Storage, clock: Clock, logger: Logger, interval: number): Promise<Latchkey> {
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
  };
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
      mail.close();
      if (server) await new Promise<void>((resolve) => server!.close(() => resolve()));
      await storage.close();
    },
  };
}
