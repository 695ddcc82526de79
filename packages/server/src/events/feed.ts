import { PostgresAdapter, sql } from 'kysely';
import type { Db } from '../storage/database.js';
import type { EventTable } from '../storage/schema.js';
import type { EventType } from './types.js';

export type StoredEvent = Omit<EventTable, 'sequence'> & { sequence: number };

type Page = { data: StoredEvent[]; hasMore: boolean };
type FeedQuery = { after: number; limit: number; types: EventType[] };

function readPage(db: Db, q: FeedQuery): Promise<Page> {
  let query = db.selectFrom('events').selectAll().where('sequence', '>', q.after);
  if (q.types.length) query = query.where('type', 'in', q.types);
  return query.orderBy('sequence').limit(q.limit + 1).execute().then((rows) => ({
    data: rows.slice(0, q.limit).map((r) => ({ ...r, sequence: Number(r.sequence) })),
    hasMore: rows.length > q.limit,
  }));
}

/**
 * Holes found final (rolled back, or skipped by a crash), so later reads do not
 * wait for them again. Per process and bounded: forgetting one only costs a wait.
 */
const finalHolesOf = new WeakMap<Db, Set<number>>();
function finalHolesFor(db: Db): Set<number> {
  let set = finalHolesOf.get(db);
  if (!set) finalHolesOf.set(db, (set = new Set()));
  return set;
}

/** The sequences in (after, upTo] that no visible event has and that are not known to be final holes. */
async function holes(db: Db, after: number, upTo: number): Promise<number[]> {
  const seen = await db.selectFrom('events').select('sequence').where('sequence', '>', after).where('sequence', '<=', upTo)
    .orderBy('sequence').execute();
  const finalHoles = finalHolesFor(db);
  const found: number[] = [];
  let expected = after + 1;
  for (const { sequence } of [...seen, { sequence: upTo + 1 }]) {
    for (; expected < Number(sequence); expected += 1) if (!finalHoles.has(expected)) found.push(expected);
    expected = Number(sequence) + 1;
  }
  return found;
}

/** How long a feed read waits for the transactions that may still commit an event inside its page. */
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

/**
 * Committed events after `after`, in sequence order: the reconciliation feed.
 *
 * PostgreSQL writers do not commit in sequence order (no lock makes them wait
 * for each other), so a page may show sequence 12 while 11 is still about to
 * commit. A reader that moved on to after=12 would never see 11. So when a page
 * has a hole, the read waits until every transaction running at that moment has
 * ended (each drew its sequence, and took its transaction id, before that
 * moment: see outbox.ts), reads again, and then every hole up to the page's last
 * event is final (a rollback, or values a crash skipped). If a transaction runs
 * longer than SETTLE_WAIT_MS, the page ends before the hole it may still fill.
 * SQLite commits one writer at a time, in sequence order: no holes to settle.
 */
export async function listEvents(db: Db, q: FeedQuery): Promise<Page> {
  const page = await readPage(db, q);
  if (!(db.getExecutor().adapter instanceof PostgresAdapter) || page.data.length === 0) return page;
  const last = page.data.at(-1)!.sequence;
  if ((await holes(db, q.after, last)).length === 0) return page;
  const settled = await othersFinished(db);
  const again = await readPage(db, q);
  const open = await holes(db, q.after, last);
  if (settled) {
    const finalHoles = finalHolesFor(db);
    if (finalHoles.size + open.length > 10_000) finalHoles.clear();
    for (const h of open) finalHoles.add(h);
  }
  const hole = settled ? undefined : open[0];
  // Beyond `last` new holes may have opened meanwhile: the page stops at the old end.
  const limit = hole ?? last + 1;
  const data = again.data.filter((e) => e.sequence < limit && e.sequence <= last);
  return { data, hasMore: again.hasMore || data.length < again.data.length };
}

/** What events made outside an HTTP request carry in `event_attributes.http_request`. */
const NO_REQUEST = '{"client_ip":"","user_agent":""}';

/** Clerk's webhook envelope, plus `sequence` (instance-wide, strictly increasing). */
export function eventJson(e: StoredEvent, instanceId: string) {
  return {
    object: 'event' as const,
    id: e.id,
    sequence: e.sequence,
    type: e.type,
    data: JSON.parse(e.data) as unknown,
    timestamp: e.created_at,
    instance_id: instanceId,
    event_attributes: { http_request: JSON.parse(e.http_request ?? NO_REQUEST) as { client_ip: string; user_agent: string } },
  };
}

/**
 * eventJson(e) as compact JSON text, built around the stored `data` text rather
 * than parsing and re-serialising it: the exact bytes a webhook signs and sends.
 */
export function eventBody(e: StoredEvent, instanceId: string): string {
  return `{"object":"event","id":${JSON.stringify(e.id)},"sequence":${e.sequence},"type":${JSON.stringify(e.type)},`
    + `"data":${e.data},"timestamp":${e.created_at},"instance_id":${JSON.stringify(instanceId)},`
    + `"event_attributes":{"http_request":${e.http_request ?? NO_REQUEST}}}`;
}
