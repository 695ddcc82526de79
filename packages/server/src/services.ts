import type { Logger } from 'pino';
import type { FrontendRateLimits } from './abuse/rate-limits.js';
import type { Clock } from './clock/clock.js';
import type { Config } from './config/config.js';
import type { SecretKeyVerifier } from './instance/api-keys.js';
import type { SettingsStore } from './instance/settings-store.js';
import type { RoleCatalog } from './roles/catalog.js';
import type { Keyring } from './keys/keyring.js';
import type { Mailer } from './mail/mailer.js';
import type { Db, Dialect } from './storage/database.js';
import type { JwtSigner } from './tokens/jwt-signer.js';
import type { MintDeps } from './tokens/mint.js';
import type { DestinationPolicy } from './webhooks/destination.js';

/** Everything a route needs, built once by the composition root (latchkey.ts). */
export interface Services {
  config: Config;
  db: Db;
  dialect: Dialect;
  clock: Clock;
  keyring: Keyring;
  secretKeys: SecretKeyVerifier;
  settings: SettingsStore;
  /** The role catalog in memory (for the permissions tokens carry). */
  roles: RoleCatalog;
  signer: JwtSigner;
  mint: MintDeps;
  instanceId: string;
  publishableKey: string;
  logger: Logger;
  /** Per-IP and per-identifier limits on the Frontend API. */
  limits: FrontendRateLimits;
  /** End-user email (codes): see mail/mailer.ts createMailer for which one. */
  mailer: Mailer;
  /** Which webhook destinations are allowed (webhooks/destination.ts). */
  webhookPolicy: DestinationPolicy;
}
