import { Migrator, sql, type Migration, type MigrationProvider } from 'kysely';
import type { Storage } from './database.js';
import * as m001 from './migrations/001_core.js';
import { eventsMigration } from './migrations/002_events.js';
import * as m003 from './migrations/003_frontend.js';
import * as m004 from './migrations/004_dev_emails.js';
import * as m005 from './migrations/005_lockout.js';
import { webhooksMigration } from './migrations/006_webhooks.js';
import * as m007 from './migrations/007_roles_suspension.js';
import * as m008 from './migrations/008_rate_limits.js';
import * as m009 from './migrations/009_frontend_retention.js';
import * as m010 from './migrations/010_email_code_identifier.js';
import * as m011 from './migrations/011_session_factor_age.js';

/** Migrations are compiled into the server: no files to find at run time. */
const migrationsFor = (storage: Storage): Record<string, Migration> => ({
  '001_core': m001,
  '002_events': eventsMigration(storage.dialect),
  '003_frontend': m003,
  '004_dev_emails': m004,
  '005_lockout': m005,
  '006_webhooks': webhooksMigration(storage.dialect),
  '007_roles_suspension': m007,
  '008_rate_limits': m008,
  '009_frontend_retention': m009,
  '010_email_code_identifier': m010,
  '011_session_factor_age': m011,
});

// An arbitrary constant that names "Latchkey start-up" among PostgreSQL advisory locks.
const STARTUP_LOCK_KEY = 7_241_105_337;

/** Brings the schema up to date. Idempotent; returns the names of the migrations it ran. */
export async function migrate(storage: Storage): Promise<string[]> {
  const provider: MigrationProvider = { getMigrations: async () => migrationsFor(storage) };
  const migrator = new Migrator({ db: storage.db, provider });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}

/**
 * Runs `fn` while holding a PostgreSQL session advisory lock, so instances starting
 * together migrate and bootstrap one after the other (the second finds nothing to
 * do) instead of racing on CREATE TABLE or creating two instance keys.
 * SQLite serves one server process, so no lock is needed there.
 */
export async function withStartupLock<T>(storage: Storage, fn: () => Promise<T>): Promise<T> {
  if (storage.dialect !== 'postgres') return fn();
  return storage.db.connection().execute(async (conn) => {
    await sql`select pg_advisory_lock(${STARTUP_LOCK_KEY})`.execute(conn);
    try {
      return await fn();
    } finally {
      await sql`select pg_advisory_unlock(${STARTUP_LOCK_KEY})`.execute(conn);
    }
  });
}
