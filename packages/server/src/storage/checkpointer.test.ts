import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { startCheckpointer, type CheckpointerOptions } from './checkpointer.js';
import { openStorage } from './database.js';

const dirs: string[] = [];
function tempDb(): string {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-checkpoint-'));
  dirs.push(dir);
  return join(dir, 'test.db');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A WAL database with one table, and `pages` pages' worth of rows written in one commit. */
function walDb(path: string): SqliteDatabase.Database {
  const conn = new SqliteDatabase(path);
  conn.pragma('journal_mode = WAL');
  conn.exec('create table t (id integer primary key, body blob)');
  return conn;
}
const write = (conn: SqliteDatabase.Database, pages: number) => {
  const insert = conn.prepare('insert into t (body) values (?)');
  conn.transaction(() => { for (let i = 0; i < pages; i++) insert.run(Buffer.alloc(4000, i)); })();
};
async function until(check: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `body` with a checkpointer on `conn`, then stops it and closes the connection. */
async function withCheckpointer(conn: SqliteDatabase.Database, path: string, opts: CheckpointerOptions, body: () => Promise<void>): Promise<void> {
  const cp = startCheckpointer(conn, path, opts);
  try {
    await body();
  } finally {
    await cp.stop();
    conn.close();
  }
}

describe('SQLite checkpoints on a thread of their own', () => {
  it('the connection never checkpoints; the thread copies the log into the database file', async () => {
    const path = tempDb();
    const conn = walDb(path);
    const sizeBefore = statSync(path).size;
    await withCheckpointer(conn, path, { intervalMs: 50 }, async () => {
      expect(conn.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
      // Past SQLite's own threshold (1000 pages), which would otherwise checkpoint inside this commit.
      write(conn, 1500);
      await until(() => statSync(path).size > sizeBefore + 1500 * 4000);
      expect(conn.prepare('select count(*) as n from t').get()).toEqual({ n: 1500 });
    });
  });

  it('without the thread, the same commits leave the database file as it was (the control)', async () => {
    const path = tempDb();
    const conn = walDb(path);
    conn.pragma('wal_autocheckpoint = 0');
    const sizeBefore = statSync(path).size;
    write(conn, 1500);
    await new Promise((r) => setTimeout(r, 300));
    expect(statSync(path).size).toBe(sizeBefore);
    conn.close();
  });

  it('stopping closes its connection, so the server\'s close is the last one and removes the log', async () => {
    const path = tempDb();
    const storage = openStorage({ sqlitePath: path, checkpointInBackground: true });
    await storage.db.schema.createTable('t').addColumn('id', 'integer', (c) => c.primaryKey()).execute();
    expect(existsSync(`${path}-wal`)).toBe(true);
    await storage.close();
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('under commits without a pause the log still starts over (RESTART past restartPages), so it stays small', async () => {
    const path = tempDb();
    const conn = walDb(path);
    conn.pragma('busy_timeout = 5000');
    await withCheckpointer(conn, path, { intervalMs: 10, restartPages: 200 }, async () => {
      // 20,000 small commits back to back: a PASSIVE checkpoint never finds the log quiet, and
      // without the RESTART the log holds all of them (measured: 250 MB).
      const insert = conn.prepare('insert into t (body) values (?)');
      const burst = async (from: number) => {
        for (let i = from; i < from + 200; i++) insert.run(Buffer.alloc(4000, i));
        // The thread's timer fires meanwhile anyway (its own thread); the pauses let its RESTART get the write lock.
        await new Promise((r) => setTimeout(r, 2));
      };
      for (let i = 0; i < 20_000; i += 200) await burst(i);
      // It starts over and is cut back to the journal size limit (16 MiB). On a loaded machine the
      // thread may get its turn late, so the commits go on (still without a quiet moment, which
      // alone would let the log start over) until it has: without the RESTART it never does.
      const started = Date.now();
      for (let i = 20_000; statSync(`${path}-wal`).size > 20 * 1024 * 1024; i += 200) {
        expect(Date.now() - started, 'the log never started over').toBeLessThan(20_000);
        await burst(i);
      }
    });
  }, 40_000);

  it('when the thread fails, the connection checkpoints for itself again, and the server is told why', async () => {
    const path = tempDb();
    const conn = walDb(path);
    rmSync(path); // the thread opens with fileMustExist: it fails at once
    let told: (reason: string) => void;
    const warned = new Promise<string>((resolve) => { told = resolve; });
    const cp = startCheckpointer(conn, path, { intervalMs: 50, onFallback: (reason) => told(reason) });
    expect(await warned).toMatch(/checkpoint thread failed \(SQLITE_CANTOPEN\)/);
    expect(conn.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    await cp.stop();
    conn.close();
  });
});
