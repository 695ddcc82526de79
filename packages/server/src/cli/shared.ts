import { userInfo } from 'node:os';
import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { bootstrap, type BootstrapResult } from '../instance/bootstrap.js';
import { withOrigin, type RequestOrigin } from '../events/origin.js';
import { openStorage, type Storage } from '../storage/database.js';

/** A command used wrongly: its usage is printed and the exit code is 2. */
export class UsageError extends Error {}

// What a command changes is audited as the operator's (named by their OS account).
function operatorName(): string | null {
  try {
    return userInfo().username;
  } catch {
    return null; // no account entry (some containers)
  }
}
export const OPERATOR: RequestOrigin = { clientIp: '', userAgent: '', actor: { type: 'operator', id: operatorName() } };

/**
 * Runs a command against the instance's storage (migrated and bootstrapped
 * first), then closes it. The command's handle carries the operator's origin.
 */
export async function withStorage<T>(config: Config, fn: (storage: Storage, boot: BootstrapResult) => Promise<T>): Promise<T> {
  const storage = openStorage({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath });
  try {
    const boot = await bootstrap(storage, config, systemClock);
    return await fn({ ...storage, db: withOrigin(storage.db, OPERATOR) }, boot);
  } finally {
    await storage.close();
  }
}

/** Splits a comma-separated flag value into its trimmed, non-empty parts. */
export const list = (value: string | undefined) => value?.split(',').map((t) => t.trim()).filter(Boolean);
