import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { bootstrap, type BootstrapResult } from '../instance/bootstrap.js';
import { openStorage, type Storage } from '../storage/database.js';

/** A command used wrongly: its usage is printed and the exit code is 2. */
export class UsageError extends Error {}

/** Runs a command against the instance's storage (migrated and bootstrapped first), then closes it. */
export async function withStorage<T>(config: Config, fn: (storage: Storage, boot: BootstrapResult) => Promise<T>): Promise<T> {
  const storage = openStorage({ databaseUrl: config.databaseUrl, sqlitePath: config.sqlitePath });
  try {
    const boot = await bootstrap(storage, config, systemClock);
    return await fn(storage, boot);
  } finally {
    await storage.close();
  }
}

/** Splits a comma-separated flag value into its trimmed, non-empty parts. */
export const list = (value: string | undefined) => value?.split(',').map((t) => t.trim()).filter(Boolean);
