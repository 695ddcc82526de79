// Where PostgreSQL spends the bench's time, per window, for the bench's database only:
// - pg_stat_activity sampled every 20 ms: the server's backends by state and wait event. `active`
//   with no wait is running (CPU), `Lock:advisory` is waiting for a user's event lock,
//   `idle in transaction` + `Client:ClientRead` is a transaction waiting for the Latchkey process
//   to send its next statement, `idle` is an unused pool connection (or the LISTEN connection).
// - pg_stat_statements, reset at the start of the window: the statements by total execution time
//   (which includes lock waits inside the statement, e.g. pg_advisory_xact_lock).
// Both are read from a connection of the bench's own (to the admin database), left out of the figures.
import { readFileSync } from 'node:fs';
import pg from 'pg';

export async function pgSampler(adminUrl, dbName, intervalMs = 20) {
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  const { rows: [{ oid: dbid }] } = await c.query('select oid from pg_database where datname = $1', [dbName]);
  let counts = new Map();
  let samples = 0;
  let timer;
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      const { rows } = await c.query(`select state, wait_event_type, wait_event, count(*)::int as n from pg_stat_activity
        where datname = $1 and backend_type = 'client backend' group by 1, 2, 3`, [dbName]);
      samples++;
      for (const r of rows) {
        const key = `${r.state ?? '?'}${r.wait_event ? ` (${r.wait_event_type}:${r.wait_event})` : ''}`;
        counts.set(key, (counts.get(key) ?? 0) + r.n);
      }
    } catch { /* a sample lost is no harm */ }
    busy = false;
  };
  let inflight = Promise.resolve();
  return {
    async start() {
      counts = new Map();
      samples = 0;
      await c.query('select pg_stat_statements_reset(0, $1, 0)', [dbid]).catch(() => {});
      timer = setInterval(() => { inflight = sample(); }, intervalMs);
    },
    /** Average backends in each state over the samples, and the top statements by total time. */
    async stop(seconds) {
      clearInterval(timer);
      await inflight;
      const states = [...counts].map(([state, n]) => ({ state, avg: n / Math.max(1, samples) })).sort((a, b) => b.avg - a.avg);
      let statements = [];
      try {
        const { rows } = await c.query(`select query, calls::int, total_exec_time, rows::int from pg_stat_statements
          where dbid = $1 and query not like '%pg_stat_statements%' order by total_exec_time desc limit 8`, [dbid]);
        statements = rows.map((r) => ({
          query: r.query.replace(/\s+/g, ' ').slice(0, 110), calls: r.calls, totalMs: r.total_exec_time,
          meanMs: r.total_exec_time / Math.max(1, r.calls), rows: r.rows, perSec: seconds ? r.calls / seconds : null,
        }));
      } catch { /* the extension is missing: no statement figures */ }
      return { samples, states, statements };
    },
    close: () => c.end(),
  };
}

/**
 * Statements auto_explain logged as slower than its threshold, grouped by their first words,
 * and the plan of the slowest one of each group (from the cluster's log file).
 */
export function slowPlans(logFile, from = 0, to = Infinity) {
  let text;
  try { text = readFileSync(logFile).subarray(from, to).toString('utf8'); } catch { return []; }
  const groups = new Map();
  const re = /duration: ([\d.]+) ms {2}plan:\n([\s\S]*?)(?=\n\S|$)/g;
  for (let m; (m = re.exec(text));) {
    const ms = Number(m[1]);
    const lines = m[2].split('\n').map((l) => l.replace(/^\t/, ''));
    // "Query Text: <first line>", its continuation lines (indented), then the plan (not indented).
    let start = 1;
    while (start < lines.length && /^\s/.test(lines[start])) start++;
    const query = [lines[0].replace(/^Query Text: /, ''), ...lines.slice(1, start)].join(' ').replace(/\s+/g, ' ').trim();
    const key = query.slice(0, 70);
    const g = groups.get(key) ?? { query: key, n: 0, maxMs: 0, totalMs: 0, plan: '' };
    g.n++;
    g.totalMs += ms;
    if (ms > g.maxMs) { g.maxMs = ms; g.plan = lines.slice(start).join('\n').trimEnd(); }
    groups.set(key, g);
  }
  return [...groups.values()].sort((a, b) => b.totalMs - a.totalMs);
}
