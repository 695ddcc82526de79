// @ts-check
/**
 * The webhook inbox: a delivery is stored, then answered 200, then processed
 * by a worker with retries. Latchkey waits at most 15 s for an answer and
 * retries what fails, but a slow SMTP server or a database hiccup is the
 * shop's problem, not a reason to make Latchkey resend: once the row is
 * committed the delivery is the shop's to finish.
 */

/**
 * @typedef {object} InboxRow
 * @property {string} id            the svix-id
 * @property {string} eventType
 * @property {import('@latchkey/backend').LatchkeyEvent} payload
 * @property {number} attempts      including the one under way
 */

/**
 * Stores a verified delivery. The svix-id is the primary key: a retry or a
 * replay of a message already here changes nothing.
 * @param {import('pg').Pool} pool
 * @param {string} id
 * @param {import('@latchkey/backend').LatchkeyEvent} event
 * @param {number} now
 * @returns {Promise<boolean>} false when the delivery was here already
 */
export async function enqueue(pool, id, event, now) {
  const at = new Date(now);
  const { rowCount } = await pool.query(
    `INSERT INTO webhook_inbox (id, event_type, payload, received_at, next_attempt_at)
     VALUES ($1, $2, $3, $4, $4) ON CONFLICT (id) DO NOTHING`,
    [id, event.type, JSON.stringify(event), at],
  );
  return rowCount === 1;
}

/**
 * @typedef {object} WorkerOptions
 * @property {import('pg').Pool} pool
 * @property {(row: InboxRow) => Promise<void>} handle  throws to have the row retried
 * @property {number} pollMs        how often an idle worker looks for due rows
 * @property {number} retryBaseMs   delay after the first failure; doubled after each one
 * @property {number} retryMaxMs
 * @property {number} maxAttempts   after this many failures the row is parked (next_attempt_at NULL)
 * @property {number} [leaseMs]     how long a row is held while handled, after which another worker may take it
 * @property {() => number} [now]
 * @property {(line: string, err?: unknown) => void} [log]
 */

/**
 * Drains the inbox, one row at a time, oldest due first. Rows are claimed with
 * FOR UPDATE SKIP LOCKED and a lease, so several shop processes can share one
 * inbox, and a row held by a process that died is taken up again when its
 * lease ends.
 * @param {WorkerOptions} opts
 */
export function createInboxWorker(opts) {
  const now = opts.now ?? Date.now;
  const leaseMs = opts.leaseMs ?? 5 * 60_000;
  const log = opts.log ?? (() => undefined);
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {Promise<void> | undefined} */
  let running;
  let again = false;
  let stopped = true;

  /** @returns {Promise<InboxRow | undefined>} */
  async function claim() {
    const at = now();
    const { rows } = await opts.pool.query(
      `UPDATE webhook_inbox SET attempts = attempts + 1, next_attempt_at = $2
       WHERE id = (
         SELECT id FROM webhook_inbox
         WHERE processed_at IS NULL AND next_attempt_at <= $1
         ORDER BY next_attempt_at, received_at
         LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id, event_type, payload, attempts`,
      [new Date(at), new Date(at + leaseMs)],
    );
    const row = rows[0];
    return row && { id: row.id, eventType: row.event_type, payload: row.payload, attempts: row.attempts };
  }

  /** @param {number} attempts */
  function delayAfter(attempts) {
    return Math.min(opts.retryMaxMs, opts.retryBaseMs * 2 ** (attempts - 1));
  }

  /** @param {InboxRow} row */
  async function processOne(row) {
    try {
      await opts.handle(row);
      // last_error stays: why earlier attempts failed is worth keeping once it worked.
      await opts.pool.query('UPDATE webhook_inbox SET processed_at = $2, next_attempt_at = NULL WHERE id = $1', [row.id, new Date(now())]);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const parked = row.attempts >= opts.maxAttempts;
      const next = parked ? null : new Date(now() + delayAfter(row.attempts));
      log(`webhook ${row.id} (${row.eventType}) attempt ${row.attempts} failed${parked ? ', giving up' : ''}: ${message}`, err);
      await opts.pool.query('UPDATE webhook_inbox SET next_attempt_at = $2, last_error = $3 WHERE id = $1', [row.id, next, message]);
    }
  }

  async function drain() {
    do {
      again = false;
      for (;;) {
        if (stopped) return;
        const row = await claim();
        if (!row) break;
        await processOne(row);
      }
    } while (again && !stopped);
  }

  /** Runs a drain now, or right after the one under way. */
  function wake() {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = drain()
      .catch((err) => log(`webhook inbox: ${err instanceof Error ? err.message : String(err)}`, err))
      .finally(() => {
        running = undefined;
      });
  }

  return {
    wake,
    start() {
      if (!stopped) return;
      stopped = false;
      timer = setInterval(wake, opts.pollMs);
      timer.unref();
      wake();
    },
    /** Stops taking rows; resolves when the row under way is finished. */
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
