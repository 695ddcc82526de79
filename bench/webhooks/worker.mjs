#!/usr/bin/env node
// The delivery worker alone, with every SQL statement timed: a backlog of N events x 4 endpoints is
// written straight into a fresh database, then the built DeliveryWorker (dist/webhooks/worker.js)
// drains it to an in-process node:http receiver answering 204. No API, no HTTP server, no producer:
// what is left is claim, sign, POST, settle, and the statement table shows what each costs and how
// many of each a delivery needs (claims per delivery = batching).
//   node bench/webhooks/worker.mjs [sqlite|postgres] [events=1500] [concurrency=64] [--analyze] [--history]
//   --analyze   run ANALYZE after writing the backlog (planner statistics a fresh database lacks)
//   --history   first write N delivered messages for endpoint 0 and ANALYZE while nothing is pending
//               (the statistics a database has after quiet running), then the backlog
// Needs `npm run build` first. PostgreSQL: a throwaway cluster, as in run.mjs.
import http from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { ROOT } from '../tokens/lib/server.mjs';
import { createDatabase, startPostgres } from './lib/postgres.mjs';

const dist = (p) => import(join(ROOT, 'packages/server/dist', p));
const { openStorage } = await dist('storage/database.js');
const { migrate } = await dist('storage/migrate.js');
const { DeliveryWorker } = await dist('webhooks/worker.js');
const { Deliverer } = await dist('webhooks/delivery.js');
const { newSecret } = await dist('webhooks/signing.js');
const { repairHeads } = await dist('webhooks/queue.js');

const pos = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = new Set(process.argv.slice(2).filter((a) => a.startsWith('--')));
const dialect = pos[0] ?? 'sqlite';
const N = Number(pos[1] ?? 1500);
const CONCURRENCY = Number(pos[2] ?? 64);
const ENDPOINTS = 4;
const USERS = 1000;

let cluster;
let url;
let dir;
if (dialect === 'postgres') {
  cluster = await startPostgres();
  url = await createDatabase(cluster.url);
} else {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-worker-'));
}
try {
  const s0 = openStorage({ sqlitePath: dir ? join(dir, 'latchkey.db') : 'unused', databaseUrl: url });
  await migrate(s0);
  await s0.close();

  // The server's own connection settings, plus Kysely's query log.
  const stats = new Map();
  const logQuery = (e) => {
    if (e.level !== 'query') return;
    const k = e.query.sql.replace(/\s+/g, ' ').slice(0, 70);
    const v = stats.get(k) ?? { n: 0, ms: 0 };
    v.n++;
    v.ms += e.queryDurationMillis;
    stats.set(k, v);
  };
  let db;
  if (url) {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    pg.types.setTypeParser(20, (v) => Number(v));
    db = new Kysely({ dialect: new PostgresDialect({ pool }), log: logQuery });
  } else {
    const conn = new Database(join(dir, 'latchkey.db'));
    for (const p of ['journal_mode = WAL', 'busy_timeout = 5000', 'foreign_keys = ON', 'synchronous = NORMAL']) conn.pragma(p);
    db = new Kysely({ dialect: new SqliteDialect({ database: conn }), log: logQuery });
  }

  let received = 0;
  let done;
  const finished = new Promise((r) => { done = r; });
  const receiver = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => { res.writeHead(204).end(); if (++received === N * ENDPOINTS) done(); });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  receiver.keepAliveTimeout = 60_000;

  const now = Date.now();
  for (let e = 0; e < ENDPOINTS; e++) {
    await db.insertInto('webhook_endpoints').values({ id: `ep${e}`, url: `http://127.0.0.1:${receiver.address().port}/`, secret: newSecret(), created_at: now, updated_at: now }).execute();
  }
  const message = (i, e, status) => ({
    id: `msg_${status}_${i}_${e}`, endpoint_id: `ep${e}`, event_sequence: i, event_type: 'user.updated', order_key: `user_${i % USERS}`,
    status, attempts: status === 'pending' ? 0 : 1, next_attempt_at: now, lease_until: 0, created_at: now, updated_at: now,
  });
  const insertAll = async (table, rows) => { for (let i = 0; i < rows.length; i += 200) await db.insertInto(table).values(rows.slice(i, i + 200)).execute(); };
  // A user.updated-sized payload (~1 KiB).
  const data = JSON.stringify({ object: 'user', id: 'user_x', email_addresses: [{ id: 'idn_x', email_address: 'x@example.com' }], public_metadata: { bench: 1 }, pad: 'x'.repeat(900) });
  const first = flags.has('--history') ? N + 1 : 1;
  await insertAll('events', Array.from({ length: first - 1 + N }, (_, i) => ({ id: `evt_${i + 1}`, type: 'user.updated', data, user_id: `user_${(i + 1) % USERS}`, created_at: now })));
  if (flags.has('--history')) {
    await insertAll('webhook_messages', Array.from({ length: N }, (_, i) => message(i + 1, 0, 'succeeded')));
    await sql`analyze`.execute(db);
  }
  const backlog = [];
  for (let i = first; i < first + N; i++) for (let e = 0; e < ENDPOINTS; e++) backlog.push(message(i, e, 'pending'));
  await insertAll('webhook_messages', backlog);
  // Each chain (endpoint, user) gets its head, as the server's fan-out would have given it.
  await repairHeads(db);
  if (flags.has('--analyze')) await sql`analyze`.execute(db);
  stats.clear();

  const worker = new DeliveryWorker({
    db, dialect, clock: { now: () => Date.now() }, logger: pino({ level: 'silent' }),
    deliverer: new Deliverer({ allowPrivate: true, allowLoopback: true }, 15_000), instanceId: 'ins_bench', encryptionKey: undefined,
    timeoutMs: 15_000, concurrency: CONCURRENCY,
  });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  worker.start();
  await finished;
  const sec = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  await worker.stop();
  receiver.close();
  await db.destroy();

  const total = N * ENDPOINTS;
  console.log(`${dialect}${[...flags].map((f) => ` ${f}`).join('')}: ${total} deliveries (${N} events x ${ENDPOINTS} endpoints, ${USERS} users) at concurrency ${CONCURRENCY}`);
  console.log(`  ${sec.toFixed(2)} s = ${Math.round(total / sec)} deliveries/s; this process ${((cpu.user + cpu.system) / 1e6 / sec).toFixed(2)} cores (worker + receiver)`);
  let sqlMs = 0;
  for (const v of stats.values()) sqlMs += v.ms;
  console.log(`  SQL time ${Math.round(sqlMs)} ms = ${(sqlMs / 10 / sec).toFixed(0)}% of wall time (PostgreSQL: statements overlap on the pool)`);
  console.log('   count  per delivery  avg ms    total ms  statement');
  for (const [k, v] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12)) {
    console.log(`  ${String(v.n).padStart(6)}  ${(v.n / total).toFixed(3).padStart(12)}  ${(v.ms / v.n).toFixed(2).padStart(6)}  ${v.ms.toFixed(0).padStart(10)}  ${k}`);
  }
} finally {
  if (cluster) await cluster.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
