import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { Clock } from '../../src/clock/clock.js';
import { loadConfig } from '../../src/config/config.js';
import { createLatchkey, type Latchkey } from '../../src/latchkey.js';
import type { Db } from '../../src/storage/database.js';
import { createDatabase, freePort } from './postgres.js';

export type DialectName = 'sqlite' | 'postgres';

/** The dialects integration suites run against: SQLite always, PostgreSQL when available. */
export function dialects(): DialectName[] {
  return inject('pgUrl') ? ['sqlite', 'postgres'] : ['sqlite'];
}

export interface TestServer {
  url: string;
  secretKey: string;
  publishableKey: string;
  lk: Latchkey;
  db: Db;
  dataDir: string;
  databaseUrl: string | undefined;
  /** Calls the Backend API with the secret key. */
  api(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export async function databaseUrlFor(dialect: DialectName): Promise<string | undefined> {
  return dialect === 'postgres' ? createDatabase(inject('pgUrl')) : undefined;
}

/** Starts an in-process Latchkey on a fresh database and a free port. */
export async function startServer(
  dialect: DialectName,
  opts: {
    clock?: Clock; env?: Record<string, string>; reloadIntervalMs?: number; webhookPollMs?: number; random?: () => number;
    /** How often expired bans are lifted (ms). */
    maintenanceIntervalMs?: number;
  } = {},
): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const port = await freePort();
  const databaseUrl = await databaseUrlFor(dialect);
  const config = loadConfig({
    PORT: String(port),
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_LOG_LEVEL: 'silent',
    ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}),
    ...opts.env,
  });
  const lk = await createLatchkey(config, {
    clock: opts.clock, reloadIntervalMs: opts.reloadIntervalMs, webhookPollMs: opts.webhookPollMs, random: opts.random,
    maintenanceIntervalMs: opts.maintenanceIntervalMs,
  });
  await lk.listen();
  const url = `http://127.0.0.1:${port}`;
  const secretKey = lk.boot.newSecretKey!;
  return {
    url,
    secretKey,
    publishableKey: lk.boot.publishableKey,
    lk,
    db: lk.services.db,
    dataDir,
    databaseUrl,
    api(path, init = {}) {
      const { json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (!headers.has('authorization')) headers.set('authorization', `Bearer ${secretKey}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(`${url}${path}`, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
    async close() {
      await lk.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const TABLES = ['instance', 'secret_keys', 'signing_keys', 'users', 'email_addresses', 'phone_numbers', 'clients', 'sessions',
  'jwt_templates', 'events', 'webhook_endpoints', 'webhook_messages', 'webhook_attempts', 'audit_logs', 'roles'] as const;

/**
 * Every table's rows, in a stable order: to assert that a refused request
 * changed nothing. `except` leaves tables out (a refused sign-in is audited, so
 * its suites compare everything but audit_logs and check the entry on its own).
 */
export async function snapshot(db: Db, except: (typeof TABLES)[number][] = []): Promise<string> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) {
    if (except.includes(t)) continue;
    out[t] = await db.selectFrom(t).selectAll().orderBy(t === 'signing_keys' ? 'kid' : t === 'roles' ? 'key' : 'id').execute();
  }
  return JSON.stringify(out);
}
