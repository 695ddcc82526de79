import { PostgresAdapter, sql } from 'kysely';
import type { Db } from './database.js';

/**
 * Reading an append-only table in `sequence` order without skipping a row that
 * commits late: the event feed (events/feed.ts) and the audit log's cursor
 * (audit/audit-log.ts).
 *
 * PostgreSQL writers do not commit in sequence order (nothing makes them wait
 * for each other), so a page may show sequence 12 while 11 is still about to
 * commit. A reader that moved on to after=12 would never see 11. So when a page
 * has a hole, the read waits until every transaction running at that moment has
 * ended (each drew its sequence, and took its transaction id, before that
 * moment: writers call pg_current_xact_id() before they draw one), reads again,
 * and then every hole up to the page's last row is final (a rollback, or values
 * a crash skipped). If a transaction runs longer than SETTLE_WAIT_MS, the page
 * ends before the hole it may still fill. SQLite commits one writer at a time,
 * in sequence order: no holes to settle.
 */

export type SequencedTable = 'events' | 'audit_logs';
export interface SequencedPage<T extends { sequence: number }> {
  data: T[];
  hasMore: boolean;
}

/**
 * Holes found final (rolled back, or skipped by a crash), so later reads do not
 * wait for them again. Per process and bounded: forgetting one only costs a wait.
 */
const finalHolesOf = new WeakMap<Db, Map<SequencedTable, Set<number>>>();
function finalHolesFor(db: Db, table: SequencedTable): Set<number> {
  let byTable = finalHolesOf.get(db);
  if (!byTable) finalHolesOf.set(db, (byTable = new Map()));
  let set = byTable.get(table);
  if (!set) byTable.set(table, (set = new Set()));
  return set;
}

const IN_FLIGHT_BOUND = 10_000;

/** The sequences in (after, upTo] that no visible row has and that are not known to be final holes. */
async function holes(db: Db, table: SequencedTable, from: number, upTo: number): Promise<number[]> {
  // Usually there is none: one count (on the primary key) says so without listing the range
  // (which a filtered read, or the first page after retention deleted the oldest rows, makes long).
  const range = await db.selectFrom(table).where('sequence', '>', from).where('sequence', '<=', upTo)
    .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.min('sequence').as('first')]).executeTakeFirstOrThrow();
  // A long run before the first row is rows retention deleted, not writers still committing (only
  // as many values can be in flight as there are writing transactions): nothing to wait for there.
  const after = range.first !== null && Number(range.first) - from > IN_FLIGHT_BOUND ? Number(range.first) - 1 : from;
  if (Number(range.n) === upTo - after) return [];
  const seen = await db.selectFrom(table).select('sequence').where('sequence', '>', after).where('sequence', '<=', upTo)
    .orderBy('sequence').execute();
  const finalHoles = finalHolesFor(db, table);
  const found: number[] = [];
  let expected = after + 1;
  for (const { sequence } of [...seen, { sequence: upTo + 1 }]) {
    for (; expected < Number(sequence); expected += 1) if (!finalHoles.has(expected)) found.push(expected);
    expected = Number(sequence) + 1;
  }
  return found;
}

/** How long a read waits for the transactions that may still commit a row inside its page. */
const SETTLE_WAIT_MS = 2_000;

/**
 * Waits until every PostgreSQL transaction running now has ended (the oldest
 * still running is newer than the newest running now). False after SETTLE_WAIT_MS.
 */
async function othersFinished(db: Db): Promise<boolean> {
  const now = await sql<{ x: string }>`select pg_snapshot_xmax(pg_current_snapshot())::text as x`.execute(db);
  const horizon = BigInt(now.rows[0]!.x);
  const deadline = Date.now() + SETTLE_WAIT_MS;
  for (;;) {
    const r = await sql<{ x: string }>`select pg_snapshot_xmin(pg_current_snapshot())::text as x`.execute(db);
    if (BigInt(r.rows[0]!.x) >= horizon) return true;
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** `read()` (rows after `after`, in sequence order), settled so that no later-committing lower sequence is passed. */
export async function settledPage<T extends { sequence: number }>(
  db: Db, table: SequencedTable, after: number, read: () => Promise<SequencedPage<T>>,
): Promise<SequencedPage<T>> {
  const page = await read();
  if (!(db.getExecutor().adapter instanceof PostgresAdapter) || page.data.length === 0) return page;
  const last = page.data.at(-1)!.sequence;
  if ((await holes(db, table, after, last)).length === 0) return page;
  const settled = await othersFinished(db);
  const again = await read();
  const open = await holes(db, table, after, last);
  if (settled) {
    const finalHoles = finalHolesFor(db, table);
    if (finalHoles.size + open.length > 10_000) finalHoles.clear();
    for (const h of open) finalHoles.add(h);
  }
  const hole = settled ? undefined : open[0];
  // Beyond `last` new holes may have opened meanwhile: the page stops at the old end.
  const limit = hole ?? last + 1;
  const data = again.data.filter((e) => e.sequence < limit && e.sequence <= last);
  return { data, hasMore: again.hasMore || data.length < again.data.length };
}
