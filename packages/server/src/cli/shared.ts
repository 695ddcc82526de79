import { userInfo } from 'node:os';
import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { bootstrap, type BootstrapResult } from '../instance/bootstrap.js';
import { keysFileNotice } from '../instance/keys-file.js';
import { withOrigin, type RequestOrigin } from '../events/origin.js';
import { openStorage, type Storage } from '../storage/database.js';

/** A command used wrongly: its usage is printed and the exit code is 2. */
export class UsageError extends Error {}

/**
 * Refuses arguments a command does not take. Without this, `start --port 5000`
 * would start on the port of the environment and `keys rotate --force` would rotate
 * the key, both as if the argument had been understood.
 */
export function noArguments(command: string, extra: readonly string[]): void {
  if (extra.length === 0) return;
  throw new UsageError(`latchkey ${command} takes no arguments (got: ${extra.join(' ')}).`
    + ' Configuration comes from environment variables (PORT, LATCHKEY_PUBLIC_URL, …: see README.md).');
}

/** The same for a command that takes a fixed number of arguments, `usage` naming them. */
export function noMoreArguments(usage: string, extra: readonly string[]): void {
  if (extra.length === 0) return;
  throw new UsageError(`Unexpected ${extra.length === 1 ? 'argument' : 'arguments'} after latchkey ${usage}: ${extra.join(' ')}`);
}

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
    // On stderr: a command's stdout may be data (print-config, audit-logs export).
    const notice = boot.keysFile && keysFileNotice(config.dataDir, boot.keysFile);
    if (notice) process.stderr.write(`${notice}\n`);
    return await fn({ ...storage, db: withOrigin(storage.db, OPERATOR) }, boot);
  } finally {
    await storage.close();
  }
}

/** Splits a comma-separated flag value into its trimmed, non-empty parts. */
export const list = (value: string | undefined) => value?.split(',').map((t) => t.trim()).filter(Boolean);
