import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { startCheckpointer } from './checkpointer.js';
import type { Database } from './schema.js';

export type Db = Kysely<Database>;
export type Dialect = 'sqlite' | 'postgres';

export interface Storage {
  db: Db;
  dialect: Dialect;
  /**
   * PostgreSQL only: calls `onNotify` for each NOTIFY on `channel` (sent by any
   * instance, heard after its commit). Reconnects after a lost connection.
   * Returns the function that stops listening.
   */
  listen?(channel: string, onNotify: () => void, onError: (err: Error) => void): () => Promise<void>;
  /** PostgreSQL only: the connection pool, for parts that speak to it directly (rate limits shared by instances). */
  pgPool?: pg.Pool;
  close(): Promise<void>;
}

export interface StorageOptions {
  /** `postgres://…` selects PostgreSQL; otherwise `sqlitePath` is used. */
  databaseUrl?: string | undefined;
  sqlitePath: string;
  /** PostgreSQL pool size (default 10). */
  maxConnections?: number;
  /** SQLite files only: checkpoint on a thread of its own, not in the committing call (storage/checkpointer.ts). The server sets it. */
  checkpointInBackground?: boolean;
  /** Told when storage works around a failure (the checkpoint thread's); the server logs it. */
  onWarning?: (message: string) => void;
}

/** Opens the database. Nothing is created or migrated here: see `migrate`. */
export function openStorage(opts: StorageOptions): Storage {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.maxConnections ?? 10);
  return openSqlite(opts.sqlitePath, opts.checkpointInBackground ?? false, opts.onWarning);
}

function openSqlite(path: string, checkpointInBackground: boolean, onWarning?: (message: string) => void): Storage {
  if (path !== ':memory:') {
    // The file holds private keys (unless encrypted) and password hashes: owner only.
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
    chmodSync(path, 0o600);
  }
  const conn = new SqliteDatabase(path);
  // SQLite's own lower() folds ASCII only; JavaScript's folds all of Unicode, as
  // PostgreSQL does, so search matches the same rows on both.
  conn.function('lower', { deterministic: true }, (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v));
  // WAL lets the CLI (keys rotate, users create) write while a server reads;
  // busy_timeout makes the writer wait for the other process instead of failing.
  conn.pragma('journal_mode = WAL');
  conn.pragma('busy_timeout = 5000');
  conn.pragma('foreign_keys = ON');
  conn.pragma('synchronous = NORMAL');
  const checkpointer = checkpointInBackground && path !== ':memory:' ? startCheckpointer(conn, path, { onFallback: onWarning }) : undefined;
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(conn) }) });
  return {
    db,
    dialect: 'sqlite',
    async close() {
      // The checkpointer's connection closes first: the last connection to close checkpoints and removes the log.
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/**
 * Kysely prepares every query anew; with better-sqlite3 that prepare is a tenth
 * of a token request's main-thread time (bench/PROFILE.md). Queries are built
 * from a fixed set of shapes with bound parameters, so caching statements by SQL
 * text is safe and the cache stays small; the bound is a guard all the same.
 * (Statements are never streamed here, so one is never in use twice at once.)
 */
function withStatementCache(conn: SqliteDatabase.Database, max = 500) {
  const cache = new Map<string, SqliteDatabase.Statement>();
  return {
    close: () => conn.close(),
    prepare(sqlText: string) {
      let stmt = cache.get(sqlText);
      if (!stmt) {
        stmt = conn.prepare(sqlText);
        if (cache.size >= max) cache.delete(cache.keys().next().value!);
        cache.set(sqlText, stmt);
      }
      return stmt;
    },
  };
}

// BIGINT (int8) and NUMERIC columns would otherwise arrive as strings: our
// timestamps are milliseconds, far inside Number's exact range.
const pgTypes = {
  getTypeParser(oid: number, format?: unknown) {
    if (oid === 20) return (v: string) => Number(v);
    return (pg.types.getTypeParser as (o: number, f?: unknown) => unknown)(oid, format);
  },
};

function openPostgres(url: string, max: number): Storage {
  // Timeouts so a half-open connection (a failover, a dropped NAT entry) fails a query instead of hanging it forever.
  const pool = new pg.Pool({
    connectionString: url, max, types: pgTypes as pg.CustomTypesConfig,
    keepAlive: true, statement_timeout: 60_000, query_timeout: 65_000, connectionTimeoutMillis: 30_000,
  });
  pool.on('connect', preparedStatements);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db, dialect: 'postgres', pgPool: pool,
    listen: (channel, fn, onError) => listenPostgres(url, channel, fn, onError), close: () => db.destroy(),
  };
}

/**
 * PostgreSQL parses and plans every unnamed statement anew; naming a statement
 * makes each connection prepare it once and reuse it, which takes a third of the
 * database's work off a typical change (bench/webhooks). As with the SQLite
 * statement cache, queries come from a fixed set of shapes with bound
 * parameters, so names are given by SQL text, up to a bound. A statement whose
 * result shape a migration changed under a running server ("cached plan must not
 * change result type") runs again unprepared, and is not named again.
 */
const statementNames = new Map<string, string | null>();
const MAX_NAMED_STATEMENTS = 2000;

function preparedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => Promise<pg.QueryResult>;
  const named = (text: string, values: unknown[]) => query({ name: nameFor(text), text, values });
  (client as { query: unknown }).query = (text: unknown, values?: unknown, ...rest: unknown[]) => {
    if (typeof text !== 'string' || !Array.isArray(values) || values.length === 0 || rest.length || nameFor(text) === null) {
      return query(text, values, ...rest);
    }
    return named(text, values).catch((err: { code?: string }) => {
      if (err.code !== '0A000') throw err;
      statementNames.set(text, null);
      return query(text, values);
    });
  };
}

function nameFor(text: string): string | null {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = statementNames.size < MAX_NAMED_STATEMENTS && text.length <= 8_000 ? `lk${statementNames.size}` : null;
    statementNames.set(text, name);
  }
  return name;
}

function listenPostgres(url: string, channel: string, onNotify: () => void, onError: (err: Error) => void): () => Promise<void> {
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  // Reported once per outage, not at every reconnection attempt.
  let healthy = true;
  const failed = (c: pg.Client, err: Error) => {
    if (stopped) return;
    if (healthy) onError(err);
    healthy = false;
    reconnect(c);
  };
  const connect = async () => {
    const c = new pg.Client({ connectionString: url, keepAlive: true });
    client = c;
    c.on('notification', (n) => n.channel === channel && onNotify());
    c.on('error', (err) => failed(c, err));
    try {
      await c.connect();
      await c.query(`LISTEN ${channel}`);
      healthy = true;
      // Events committed while nobody listened are waiting in the queue.
      onNotify();
    } catch (err) {
      failed(c, err as Error);
    }
  };
  const reconnect = (c: pg.Client) => {
    if (stopped || client !== c) return;
    client = undefined;
    void c.end().catch(() => {});
    retry = setTimeout(() => void connect(), 1000);
  };
  void connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
  };
}

/** True when the error is a unique-constraint violation in either dialect. */
export function isUniqueViolation(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code === '23505') return true; // PostgreSQL unique_violation
  return e.code === 'SQLITE_CONSTRAINT_UNIQUE' || e.code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * The column a unique violation is about, read from the constraint (PostgreSQL)
 * or the message (SQLite: "UNIQUE constraint failed: users.username").
 */
export function violatedColumn(err: unknown): string | undefined {
  const e = err as { constraint?: string; message?: string };
  const text = `${e.constraint ?? ''} ${e.message ?? ''}`;
  for (const column of ['email_lower', 'phone_number', 'username', 'external_id', 'name']) {
    if (text.includes(column)) return column;
  }
  return undefined;
}

/** A cheap round trip, used by health checks. */
export async function ping(db: Db): Promise<void> {
  await sql`select 1`.execute(db);
}
