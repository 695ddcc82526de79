import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type SqliteDatabase from 'better-sqlite3';

/**
 * SQLite checkpoints on a thread of their own.
 *
 * In WAL mode SQLite appends every commit to the write-ahead log, and from time
 * to time copies the log back into the database file: a checkpoint, with an
 * fsync of both files. By default the commit that takes the log past 1,000
 * pages runs that checkpoint itself, on the thread that committed. Here that is
 * the event loop, which then answers nothing for 5–15 ms. During a sign-in
 * storm that happened about twice a second (strace, bench/signin), and every
 * token request that arrived meanwhile waited.
 *
 * So the server's connection never checkpoints (`wal_autocheckpoint = 0`), and
 * a worker thread with a connection of its own runs a PASSIVE checkpoint every
 * `intervalMs`. A PASSIVE checkpoint takes no lock that readers or writers wait
 * for. When the log holds nothing new it costs a few microseconds and no I/O.
 * If the thread fails, the connection checkpoints for itself again, as SQLite
 * does by default.
 */
export interface Checkpointer {
  /** Stops the thread and closes its connection (before the server's own closes, so that one is the last and removes the log). */
  stop(): Promise<void>;
}

/** SQLite's default: the page count at which a commit checkpoints, restored when the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;

// Plain CommonJS given as text, so it runs the same from src/ (tests) and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
const timer = setInterval(() => db.pragma('wal_checkpoint(PASSIVE)'), workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});`;

const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');

export function startCheckpointer(conn: SqliteDatabase.Database, path: string, { intervalMs = 500 } = {}): Checkpointer {
  conn.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { driver: driverPath, path, intervalMs } });
  // It never keeps a process alive on its own.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fallBack = (why: string) => {
    if (stopping || !conn.open) return;
    stopping = true;
    conn.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    process.emitWarning(`Latchkey's SQLite checkpoint thread ${why}; the server's connection checkpoints for itself again.`);
  };
  worker.on('error', (err: unknown) => fallBack(`failed (${describe(err)})`));
  worker.on('exit', (code) => fallBack(`exited (code ${code})`));
  return {
    async stop() {
      if (stopping) return exited;
      stopping = true;
      worker.postMessage('stop');
      const timer = setTimeout(() => void worker.terminate(), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** An error from the thread: SQLite's errors arrive as plain objects, not Error instances. */
function describe(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  return String(e?.message ?? e?.code ?? err);
}
