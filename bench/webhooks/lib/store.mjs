// What the server says happened, to hold the receiver's counts against: the events feed (every
// committed event, in sequence order) and, read directly from the database, the webhook messages'
// states and the attempts recorded for them.
import Database from 'better-sqlite3';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';

/** Committed user.updated events after `after`: [{ sequence, timestamp, key: `${user id}:${updated_at}` }], in order. */
export async function readFeed(server, after) {
  const out = [];
  for (let cursor = after; ;) {
    const res = await fetch(`${server.base}/v1/events?after=${cursor}&limit=500&types=user.updated`, {
      headers: { authorization: `Bearer ${server.secretKey}` },
    });
    if (!res.ok) throw new Error(`GET /v1/events -> ${res.status}: ${await res.text()}`);
    const page = await res.json();
    for (const e of page.data) out.push({ sequence: e.sequence, timestamp: e.timestamp, key: `${e.data.id}:${e.data.updated_at}` });
    if (!page.has_more) return out;
    cursor = page.next_after;
  }
}

/**
 * Messages by status and attempts by status for events in (from, to]: a clean run has every
 * message `succeeded` with exactly one `succeeded` attempt and no failed attempt.
 */
export async function deliveryStates(storage, from, to) {
  const messagesSql = 'select status, count(*) as n from webhook_messages where event_sequence > $1 and event_sequence <= $2 group by status';
  const attemptsSql = `select a.status, count(*) as n from webhook_attempts a join webhook_messages m on m.id = a.message_id
    where m.event_sequence > $1 and m.event_sequence <= $2 group by a.status`;
  const toMap = (rows) => Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
  if (storage.databaseUrl) {
    const c = new pg.Client({ connectionString: storage.databaseUrl });
    await c.connect();
    try {
      return { messages: toMap((await c.query(messagesSql, [from, to])).rows), attempts: toMap((await c.query(attemptsSql, [from, to])).rows) };
    } finally { await c.end(); }
  }
  const db = new Database(storage.sqlitePath, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const q = (s) => db.prepare(s.replace('$1', '?').replace('$2', '?')).all(from, to);
    return { messages: toMap(q(messagesSql)), attempts: toMap(q(attemptsSql)) };
  } finally { db.close(); }
}

let clkTck;

/**
 * CPU seconds (user + system) of a process and all its descendants, from /proc (null elsewhere).
 * For PostgreSQL that is the postmaster and every backend the bench's servers opened.
 */
export function treeCpu(rootPid) {
  try {
    clkTck ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const procs = new Map();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // utime + stime, plus cutime + cstime: a backend that exits and is reaped moves its time
        // into its parent's, so the sum over the tree does not drop when connections close.
        procs.set(Number(name), { ppid: Number(f[1]), sec: (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / clkTck });
      } catch { /* exited meanwhile */ }
    }
    const children = new Map();
    for (const [pid, p] of procs) {
      if (!children.has(p.ppid)) children.set(p.ppid, []);
      children.get(p.ppid).push(pid);
    }
    let sec = 0;
    const stack = [rootPid];
    while (stack.length) {
      const pid = stack.pop();
      sec += procs.get(pid)?.sec ?? 0;
      stack.push(...(children.get(pid) ?? []));
    }
    return sec;
  } catch {
    return null;
  }
}
