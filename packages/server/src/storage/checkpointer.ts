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
 * `intervalMs`. A PASSIVE checkpoint takes no lock that the server's reads or
 * writes wait for. When the log holds nothing new it costs a few microseconds
 * and no I/O.
 *
 * The log starts over only when a checkpoint has copied all of it, and commits
 * that land while a PASSIVE checkpoint runs keep it from that. Under writes
 * without a pause the log would grow without end. So once it holds more than
 * `restartPages` pages after a checkpoint, the thread runs a RESTART checkpoint
 * instead. That one makes writers wait until it is done (a stall like the old
 * one, but rare), and the log starts over. The server's connection then cuts
 * the file back to JOURNAL_LIMIT_BYTES at its next write.
 *
 * If the thread fails again and again, or cannot start, the connection
 * checkpoints for itself again, as SQLite does by default.
 */
export interface Checkpointer {
  /** Stops the thread and closes its connection (before the server's own closes, so that one is the last and removes the log). */
  stop(): Promise<void>;
}

export interface CheckpointerOptions {
  intervalMs?: number;
  /** Pages in the log after a PASSIVE checkpoint that call for a RESTART one (default 4,000: 16 MiB of 4 KiB pages). */
  restartPages?: number;
  /** Told why the connection checkpoints for itself again (the server logs it). */
  onFallback?: (reason: string) => void;
}

/** SQLite's default: the page count at which a commit checkpoints, restored when the thread fails. */
const AUTOCHECKPOINT_PAGES = 1000;
/** The log file is cut back to this size when it starts over after growing past it. */
const JOURNAL_LIMIT_BYTES = 16 * 1024 * 1024;
/** Failed checkpoints in a row (a busy or I/O error now and then is retried at the next tick) before the thread gives up. */
const MAX_FAILURES = 10;

// Plain CommonJS given as text, so it runs the same from src/ (tests) and dist/.
// Its busy_timeout matters to the RESTART checkpoint only: PASSIVE ones never wait.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
let failures = 0;
const tick = () => {
  try {
    const [{ log }] = db.pragma('wal_checkpoint(PASSIVE)');
    if (log > workerData.restartPages) db.pragma('wal_checkpoint(RESTART)');
    failures = 0;
  } catch (err) {
    if (++failures >= workerData.maxFailures) throw err;
  }
};
const timer = setInterval(tick, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});`;

const driverPath = createRequire(import.meta.url).resolve('better-sqlite3');

export function startCheckpointer(conn: SqliteDatabase.Database, path: string, opts: CheckpointerOptions = {}): Checkpointer {
  const { intervalMs = 500, restartPages = 4000, onFallback = (reason) => process.emitWarning(reason) } = opts;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver: driverPath, path, intervalMs, restartPages, maxFailures: MAX_FAILURES },
    });
  } catch (err) {
    // No thread: the connection keeps SQLite's own checkpoints.
    onFallback(`The SQLite checkpoint thread could not start (${describe(err)}); the server's connection checkpoints for itself.`);
    return { stop: async () => {} };
  }
  conn.pragma('wal_autocheckpoint = 0');
  conn.pragma(`journal_size_limit = ${JOURNAL_LIMIT_BYTES}`);
  let stopping = false;
  // It never keeps a process alive on its own.
  worker.unref();
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  const fallBack = (why: string) => {
    if (stopping || !conn.open) return;
    stopping = true;
    conn.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    onFallback(`The SQLite checkpoint thread ${why}; the server's connection checkpoints for itself again.`);
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

/** An error from the thread: SQLite's may arrive with their code but without their message. */
function describe(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown } | null;
  return String(e?.message ?? e?.code ?? err);
}
