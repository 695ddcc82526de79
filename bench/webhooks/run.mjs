#!/usr/bin/env node
// Latchkey webhook benchmark: events from a committed change to a receiver's 2xx, on SQLite and
// on PostgreSQL. Per dialect, on one storage: (0) the API alone, no endpoint; (1) latency
// (envelope timestamp -> arrival) at a fixed 500 events/s, 1 endpoint; (2) sustained events/s,
// 1 endpoint; (3) sustained deliveries/s to 4 endpoints while producing; (4) the drain rate of a
// backlog to 4 endpoints made with delivery off, by one delivering process (deliveries/s).
// `npm run bench:webhooks` builds first, then runs this. See bench/README.md.
//   --quick            short windows (smoke test; prints, writes nothing)
//   --no-write         do not write bench/webhooks/RESULTS.md
//   --profile          servers under node --cpu-prof; writes bench/webhooks/PROFILE.md instead of RESULTS.md
//   --dialect=sqlite|postgres   one dialect only
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, api, cpuDelta, threadCpu } from '../tokens/lib/server.mjs';
import { summariseProfile } from '../tokens/lib/profile.mjs';
import { createDatabase, postgresAvailable, postgresVersion, startPostgres, POSTGRES_SETTINGS, SLOW_PLAN_MS } from './lib/postgres.mjs';
import { pgSampler, slowPlans } from './lib/pgwait.mjs';
import { producer } from './lib/producer.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { newestProfile, startLatchkey } from './lib/server.mjs';
import { deliveryStates, readFeed, treeCpu } from './lib/store.mjs';

const argv = process.argv.slice(2);
const args = new Set(argv);
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const WRITE = !args.has('--no-write') && !QUICK;
const ONLY = argv.find((a) => a.startsWith('--dialect='))?.slice('--dialect='.length);
const WINDOW_MS = QUICK ? 3_000 : 10_000;
const WARM_MS = QUICK ? 1_000 : 2_000;
const RATE = 500;
const USERS = QUICK ? 1_000 : 2_000;
const CONNECTIONS = 16;
const ENDPOINTS = 4;
const BACKLOG_EVENTS = QUICK ? 1_500 : 5_000;
const SETTLE_DEADLINE_MS = 180_000;
// A drain that has not finished by then is reported as a partial rate (SQLite's claim query is
// O(pending rows) per claim, so a large backlog drains very slowly there; see RESULTS.md).
const DRAIN_DEADLINE_MS = QUICK ? 60_000 : 120_000;
const TARGETS = { p99Ms: 250, deliveriesPerSec: 2_000 };
const NOISE = 0.15;

const started = performance.now();
const log = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) => (n == null || Number.isNaN(n) ? 'n/a' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const cores = availableParallelism();
const machine = {
  node: process.version, cores, cpu: cpus()[0]?.model ?? 'unknown', date: new Date().toISOString(),
  platform: `${process.platform} ${process.arch}`, load: loadavg().map((x) => x.toFixed(2)).join(' '),
};
log(`Latchkey webhook bench: node ${machine.node}, ${cores} cores (${machine.cpu}), load ${machine.load}, ${machine.date}${QUICK ? ' [quick]' : ''}${PROFILE ? ' [profile]' : ''}`);

const dialects = (ONLY ? [ONLY] : ['sqlite', 'postgres']).filter((d) => {
  if (d !== 'postgres' || postgresAvailable()) return true;
  log('PostgreSQL binaries (initdb, pg_ctl) not found: PostgreSQL skipped.');
  return false;
});
let cluster;
const cleanups = [];
const cleanup = async () => { while (cleanups.length) await cleanups.pop()().catch((e) => log(`cleanup: ${e.message}`)); };
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => { void cleanup().finally(() => process.exit(130)); });

const results = {};
const profiles = [];
try {
  if (dialects.includes('postgres')) {
    cluster = await startPostgres();
    cleanups.push(() => cluster.stop());
  }
  for (const d of dialects) results[d] = await runDialect(d);
} catch (err) {
  log(`\nBench failed: ${err.stack ?? err}`);
  await cleanup();
  process.exit(1);
}
await cleanup();

const report = PROFILE ? renderProfiles() : render();
log('');
log(report);
if (WRITE) {
  const file = PROFILE ? 'bench/webhooks/PROFILE.md' : 'bench/webhooks/RESULTS.md';
  writeFileSync(join(ROOT, file), report);
  log(`Wrote ${file}`);
}
log(`Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exit(0);

// ------------------------------------------------------------------------------------------------

async function runDialect(dialect) {
  log(`\n== ${dialect} ==`);
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-wh-'));
  cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
  const storage = { dataDir, sqlitePath: join(dataDir, 'latchkey.db'), databaseUrl: dialect === 'postgres' ? await createDatabase(cluster.url) : undefined };
  const profDir = PROFILE ? mkdtempSync(join(tmpdir(), 'latchkey-bench-prof-')) : undefined;
  if (profDir) cleanups.push(async () => rmSync(profDir, { recursive: true, force: true }));

  const receiver = await startReceiver();
  cleanups.push(() => receiver.stop());
  const sampler = storage.databaseUrl ? await pgSampler(cluster.url, new URL(storage.databaseUrl).pathname.slice(1)) : null;
  if (sampler) cleanups.push(() => sampler.close());
  const track = tracker(receiver);
  const out = { dialect, storage: dialect === 'postgres' ? `PostgreSQL (${postgresVersion() ?? 'unknown version'})` : 'SQLite (better-sqlite3, WAL, synchronous=NORMAL)' };
  let server;
  const start = async (role, env = {}) => {
    const s = await startLatchkey({ dataDir, databaseUrl: storage.databaseUrl, env, cpuProfDir: profDir });
    cleanups.push(() => s.stop());
    s.role = role;
    return s;
  };
  const stop = async (s) => {
    await s.stop();
    if (profDir) {
      const file = newestProfile(profDir);
      if (file) { profiles.push({ dialect, role: s.role, ...summariseProfile(file) }); rmSync(file); }
    }
  };

  // ---- set-up: users, one endpoint ----
  server = await start('A: phases 0-3 (API alone, latency, sustained with 1 and 4 endpoints)');
  const users = [];
  const stamp = Date.now();
  for (let i = 0; i < USERS; i += 16) {
    const batch = await Promise.all(Array.from({ length: Math.min(16, USERS - i) }, (_, j) =>
      api(server, 'POST', '/v1/users', { email_address: [`wh${i + j}-${stamp}@example.com`], first_name: 'Bench', last_name: `User ${i + j}` })));
    for (const u of batch) users.push(u.id);
  }
  const endpoints = [];
  const addEndpoint = async (s) => {
    const n = endpoints.length;
    const e = await api(s, 'POST', '/v1/webhook_endpoints', { url: receiver.url(n), events: ['user.updated'], description: `bench ${n}` });
    await receiver.setSecret(n, e.secret);
    endpoints.push(e.id);
  };
  log(`  ${USERS} users; server pid ${server.pid}, receiver pid ${receiver.pid}`);
  let cursor = 0; // highest user.updated sequence of the phases done

  // One phase: produce, wait until every event of it reached every endpoint (or the deadline),
  // and check the server's own record of the deliveries.
  const settlePhase = async (s, eps) => {
    const events = await readFeed(s, cursor);
    const settled = await track.awaitAll(events, eps, SETTLE_DEADLINE_MS);
    const to = events.at(-1)?.sequence ?? cursor;
    const states = await settledStates(cursor, to, settled.missing === 0);
    const from = cursor;
    cursor = to;
    return { events, ...settled, states, from, to, expected: events.length * eps.length };
  };

  // The server settles outcomes a moment after the receiver answered: once everything arrived,
  // read the states until no message is left pending (or 5 s), so the check sees the final record.
  const settledStates = async (from, to, arrived) => {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const st = await deliveryStates(storage, from, to);
      if (!arrived || !st.messages.pending || Date.now() > deadline) return st;
      await sleep(50);
    }
  };

  // ---- 0. the API alone: closed loop, no endpoint (events recorded, no webhook messages) ----
  {
    const prod = producer(server, users);
    const cpu = cpuWindow(server, WARM_MS);
    const r = await prod.closed({ connections: CONNECTIONS, durationMs: WARM_MS + WINDOW_MS });
    const usage = await cpu.end();
    prod.close();
    const events = await readFeed(server, cursor);
    cursor = events.at(-1)?.sequence ?? cursor;
    const ws = r.wall0 + WARM_MS;
    const produced = events.filter((e) => e.timestamp >= ws && e.timestamp < ws + WINDOW_MS).length;
    out.baseline = {
      connections: CONNECTIONS, ok: r.ok, non2xx: r.non2xx, errors: r.errors, statuses: r.statuses, events: events.length,
      apiP50: pct(r.latencies, 50), apiP99: pct(r.latencies, 99), producedPerSec: produced / (WINDOW_MS / 1000), usage,
    };
    const B = out.baseline;
    log(`  0. API alone, c=${CONNECTIONS}, no endpoint: ${fmt(B.producedPerSec)} events/s committed; API p50 ${fmt(B.apiP50, 1)} ms, p99 ${fmt(B.apiP99, 1)} ms; errors ${r.errors}, non-2xx ${r.non2xx}; ${describeUsage(usage)}`);
  }
  await addEndpoint(server);

  // ---- 1. latency at a fixed 500 events/s (open loop), 1 endpoint ----
  {
    const prod = producer(server, users);
    const mark = track.mark();
    const cpu = cpuWindow(server, WARM_MS);
    const acks = new Map();
    const r = await prod.paced({ rate: RATE, durationMs: WARM_MS + WINDOW_MS, acks });
    const usage = await cpu.end();
    prod.close();
    const settled = await settlePhase(server, [0]);
    const ws = r.wall0 + WARM_MS;
    const we = ws + WINDOW_MS;
    const inWindow = settled.events.filter((e) => e.timestamp >= ws && e.timestamp < we);
    const first = track.firstArrivals(mark, 0);
    const lat = inWindow.map((e) => first.get(e.sequence)).filter((x) => x !== undefined).map((x) => x.arrival - x.ts);
    // From the API's answer (after the commit) to arrival: a lower bound of commit -> delivery.
    const fromAck = inWindow.filter((e) => first.has(e.sequence) && acks.has(e.key)).map((e) => first.get(e.sequence).arrival - acks.get(e.key));
    out.latency = {
      requested: RATE, sent: r.sent, sendRate: r.sendRate, lagMs: r.lagMs, ok: r.ok, non2xx: r.non2xx, errors: r.errors, statuses: r.statuses,
      apiP50: pct(r.latencies, 50), apiP99: pct(r.latencies, 99),
      achieved: inWindow.length / (WINDOW_MS / 1000), n: lat.length, windowEvents: inWindow.length,
      // Events committed after the sending ended: the API fell behind the offered rate.
      lateCommits: settled.events.filter((e) => e.timestamp >= we).length,
      perSecond: perSecond(settled.events, r.wall0),
      p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), max: lat.length ? Math.max(...lat) : null,
      ack: { n: fromAck.length, p50: pct(fromAck, 50), p99: pct(fromAck, 99), max: fromAck.length ? Math.max(...fromAck) : null },
      usage, ...pick(settled),
    };
    const L = out.latency;
    log(`  1. latency @${RATE}/s: sent ${r.sent} (${fmt(r.sendRate, 1)}/s, worst send lag ${fmt(r.lagMs, 1)} ms), API 2xx ${r.ok}, non-2xx ${r.non2xx}, errors ${r.errors}; `
      + `window ${fmt(L.achieved, 1)} events/s, ${L.lateCommits} committed after the window, per second ${L.perSecond.join(' ')}; commit->delivery p50 ${fmt(L.p50)} ms, p99 ${fmt(L.p99)} ms, max ${fmt(L.max)} ms (${L.n} events; from the API's answer: p50 ${fmt(L.ack.p50)}, p99 ${fmt(L.ack.p99)} ms, ${L.ack.n} matched); missing ${L.missing}; ${describeUsage(usage)}`);
  }

  // ---- 2. sustained events/s, closed loop, 1 endpoint ----
  {
    const prod = producer(server, users);
    const mark = track.mark();
    const cpu = cpuWindow(server, WARM_MS);
    const r = await prod.closed({ connections: CONNECTIONS, durationMs: WARM_MS + WINDOW_MS });
    const usage = await cpu.end();
    prod.close();
    const ws = r.wall0 + WARM_MS;
    const we = ws + WINDOW_MS;
    const settled = await settlePhase(server, [0]);
    const first = track.firstArrivals(mark, 0);
    const delivered = [...first.values()].filter((x) => x.arrival >= ws && x.arrival < we).length;
    const produced = settled.events.filter((e) => e.timestamp >= ws && e.timestamp < we);
    const backlogAtEnd = settled.events.filter((e) => e.timestamp < we && !((first.get(e.sequence)?.arrival ?? Infinity) < we)).length;
    const lat = produced.map((e) => first.get(e.sequence)).filter(Boolean).map((x) => x.arrival - x.ts);
    out.sustained = {
      connections: CONNECTIONS, ok: r.ok, non2xx: r.non2xx, errors: r.errors, statuses: r.statuses, apiP50: pct(r.latencies, 50), apiP99: pct(r.latencies, 99),
      producedPerSec: produced.length / (WINDOW_MS / 1000), deliveredPerSec: delivered / (WINDOW_MS / 1000), backlogAtEnd,
      p50: pct(lat, 50), p99: pct(lat, 99), drainAfterMs: settled.lastArrival ? settled.lastArrival - we : null,
      usage, ...pick(settled),
    };
    const S = out.sustained;
    log(`  2. sustained, c=${CONNECTIONS}, 1 endpoint: produced ${fmt(S.producedPerSec)} events/s, delivered ${fmt(S.deliveredPerSec)} events/s (2xx at the receiver, in the window); `
      + `backlog at window end ${S.backlogAtEnd}; commit->delivery p50 ${fmt(S.p50)} ms, p99 ${fmt(S.p99)} ms; API errors ${r.errors}, non-2xx ${r.non2xx}; missing ${S.missing}; ${describeUsage(usage)}`);
  }
  // ---- 3. sustained deliveries/s while producing, closed loop, 4 endpoints ----
  while (endpoints.length < ENDPOINTS) await addEndpoint(server);
  {
    const prod = producer(server, users);
    const mark = track.mark();
    const cpu = cpuWindow(server, WARM_MS);
    const r = await prod.closed({ connections: CONNECTIONS, durationMs: WARM_MS + WINDOW_MS });
    const usage = await cpu.end();
    prod.close();
    const ws = r.wall0 + WARM_MS;
    const we = ws + WINDOW_MS;
    const eps = endpoints.map((_, i) => i);
    const settled = await settlePhase(server, eps);
    const delivered = track.arrivalsSince(mark).filter((a) => a >= ws && a < we).length;
    const produced = settled.events.filter((e) => e.timestamp >= ws && e.timestamp < we);
    const first = track.firstArrivals(mark, 0);
    const lat = produced.map((e) => first.get(e.sequence)).filter(Boolean).map((x) => x.arrival - x.ts);
    out.sustained4 = {
      connections: CONNECTIONS, endpoints: eps.length, ok: r.ok, non2xx: r.non2xx, errors: r.errors, statuses: r.statuses,
      apiP50: pct(r.latencies, 50), apiP99: pct(r.latencies, 99),
      producedPerSec: produced.length / (WINDOW_MS / 1000), deliveriesPerSec: delivered / (WINDOW_MS / 1000),
      p50: pct(lat, 50), p99: pct(lat, 99), usage, ...pick(settled),
    };
    const S = out.sustained4;
    log(`  3. sustained, c=${CONNECTIONS}, ${eps.length} endpoints: produced ${fmt(S.producedPerSec)} events/s, ${fmt(S.deliveriesPerSec)} deliveries/s in the window; `
      + `endpoint 0 commit->delivery p50 ${fmt(S.p50)} ms, p99 ${fmt(S.p99)} ms; API errors ${r.errors}, non-2xx ${r.non2xx}; missing ${S.missing}; ${describeUsage(usage)}`);
  }
  await stop(server);

  // ---- 4. drain: a backlog for 4 endpoints made with delivery off, then one delivering process ----
  {
    server = await start('producer of the backlog (LATCHKEY_WEBHOOK_DELIVERY=off)', { LATCHKEY_WEBHOOK_DELIVERY: 'off' });
    const prod = producer(server, users);
    const r = await prod.closed({ connections: CONNECTIONS, maxRequests: BACKLOG_EVENTS });
    prod.close();
    const events = await readFeed(server, cursor);
    await stop(server);
    const eps = endpoints.map((_, i) => i);
    const mark = track.mark();
    const spawnAt = Date.now();
    server = await start('B: phase 4 (drain, 4 endpoints)');
    const cpu = cpuWindow(server, 0);
    const settled = await track.awaitAll(events, eps, DRAIN_DEADLINE_MS);
    const usage = await cpu.end();
    const to = events.at(-1)?.sequence ?? cursor;
    const states = await settledStates(cursor, to, settled.missing === 0);
    cursor = to;
    const arrivals = track.arrivalsSince(mark);
    const firstArrival = arrivals.length ? arrivals.reduce((a, b) => Math.min(a, b)) : null;
    const afterReady = arrivals.filter((a) => a >= server.readyAt).length;
    const expected = events.length * eps.length;
    out.drain = {
      endpoints: eps.length, events: events.length, expected, produceOk: r.ok, non2xx: r.non2xx, errors: r.errors, statuses: r.statuses,
      produceRate: r.ok / r.seconds,
      received: settled.received, missing: settled.missing, duplicates: settled.duplicates, states,
      perSec: firstArrival != null && settled.lastArrival > firstArrival ? settled.received / ((settled.lastArrival - firstArrival) / 1000) : null,
      perSecAfterReady: settled.lastArrival > server.readyAt ? afterReady / ((settled.lastArrival - server.readyAt) / 1000) : null,
      beforeReady: arrivals.length - afterReady,
      seconds: firstArrival != null ? (settled.lastArrival - firstArrival) / 1000 : null,
      spawnToDoneSec: settled.lastArrival ? (settled.lastArrival - spawnAt) / 1000 : null,
      usage,
    };
    const D = out.drain;
    log(`  4. drain: backlog ${D.events} events x ${D.endpoints} endpoints = ${expected} deliveries (made at ${fmt(D.produceRate)} events/s with delivery off); `
      + `drained ${D.received} in ${fmt(D.seconds, 2)} s = ${fmt(D.perSec)} deliveries/s (first->last arrival; ${fmt(D.perSecAfterReady)}/s after /health answered); `
      + `missing ${D.missing}, duplicates ${D.duplicates}; ${describeUsage(usage)}`);
  }

  await stop(server);
  out.receiver = receiver.stats();
  await receiver.stop();
  log(`  receiver: ${out.receiver.requests} requests, ${out.receiver.duplicates} duplicates, ${out.receiver.badRequests} bad requests, `
    + `signatures verified ${out.receiver.verified}, bad ${out.receiver.badSignatures}, unverifiable ${out.receiver.unverifiable}`);
  return out;

  /** CPU of the server (main thread / other threads), PostgreSQL, the receiver and this process, from `afterMs` on. */
  function cpuWindow(s, afterMs) {
    let begin;
    const snap = () => ({ t: Date.now(), threads: threadCpu(s.pid), pg: cluster && dialect === 'postgres' ? treeCpu(cluster.pid) : null, rx: treeCpu(receiver.pid), self: process.cpuUsage() });
    const logSize = () => { try { return statSync(cluster.logFile).size; } catch { return 0; } };
    let logFrom = 0;
    const open = () => { begin = snap(); if (sampler) { void sampler.start(); logFrom = logSize(); } };
    const timer = setTimeout(open, afterMs);
    if (afterMs === 0) { clearTimeout(timer); open(); }
    return {
      async end() {
        const e = snap();
        if (!begin) return null;
        const pgStates = sampler ? await sampler.stop((e.t - begin.t) / 1000) : null;
        if (pgStates) {
          await sleep(200); // the logging collector writes through a pipe
          pgStates.slow = slowPlans(cluster.logFile, logFrom, logSize());
        }
        const sec = (e.t - begin.t) / 1000;
        const th = cpuDelta(s.pid, begin.threads, e.threads);
        return {
          seconds: sec,
          serverMain: th && th.main / sec, serverOther: th && th.other / sec,
          postgres: e.pg == null ? null : (e.pg - begin.pg) / sec,
          receiver: e.rx == null ? null : (e.rx - begin.rx) / sec,
          bench: ((e.self.user - begin.self.user) + (e.self.system - begin.self.system)) / 1e6 / sec,
          pgStates,
        };
      },
    };
  }
}

/** Events committed in each second from `wall0` on. */
function perSecond(events, wall0) {
  const out = [];
  for (const e of events) {
    const i = Math.floor((e.timestamp - wall0) / 1000);
    if (i >= 0) out[i] = (out[i] ?? 0) + 1;
  }
  return Array.from(out, (x) => x ?? 0);
}

function pick(s) {
  return { missing: s.missing, duplicates: s.duplicates, received: s.received, expected: s.expected, states: s.states, events: s.events?.length };
}

/** CPU milliseconds of Latchkey and PostgreSQL per unit of work: steadier than rates on a busy machine. */
function cpuMsPer(u, perSec) {
  if (!u || !perSec) return null;
  return ((u.serverMain ?? 0) + (u.serverOther ?? 0) + (u.postgres ?? 0)) * 1000 / perSec;
}

function pgStatesText(p, top = 5) {
  return p.states.slice(0, top).map((x) => `${x.state} ${x.avg.toFixed(1)}`).join(', ');
}

function describeUsage(u) {
  if (!u) return 'cpu n/a';
  const parts = [`server ${fmt(u.serverMain, 2)} main + ${fmt(u.serverOther, 2)} other cores`];
  if (u.postgres != null) parts.push(`postgres ${fmt(u.postgres, 2)}`);
  parts.push(`receiver ${fmt(u.receiver, 2)}`, `bench ${fmt(u.bench, 2)}`);
  if (u.pgStates) parts.push(`pg backends: ${pgStatesText(u.pgStates)}`);
  return parts.join(', ');
}

/** The receiver's log, indexed: which (endpoint, sequence) pairs arrived, and when. */
function tracker(receiver) {
  const got = new Map();
  let indexed = 0;
  const { log: L } = receiver;
  const pull = async () => {
    await receiver.pull();
    for (; indexed < L.seq.length; indexed++) {
      let set = got.get(L.ep[indexed]);
      if (!set) got.set(L.ep[indexed], (set = new Set()));
      set.add(L.seq[indexed]);
    }
  };
  return {
    pull,
    mark: () => L.seq.length,
    /** Polls until every event reached every endpoint in `eps`, or the deadline. */
    async awaitAll(events, eps, deadlineMs) {
      const deadline = Date.now() + deadlineMs;
      for (;;) {
        await pull();
        let missing = 0;
        for (const ep of eps) {
          const set = got.get(ep);
          for (const e of events) if (!set?.has(e.sequence)) missing++;
        }
        if (missing === 0 || Date.now() > deadline) {
          // Arrivals of this phase's events only; a duplicate is a second arrival of one (endpoint, event).
          const want = new Set(events.map((e) => e.sequence));
          const epSet = new Set(eps);
          const seen = new Set();
          let received = 0;
          let duplicates = 0;
          let lastArrival = null;
          for (let i = 0; i < L.seq.length; i++) {
            if (!want.has(L.seq[i]) || !epSet.has(L.ep[i])) continue;
            const k = `${L.ep[i]}:${L.seq[i]}`;
            if (seen.has(k)) { duplicates++; continue; }
            seen.add(k);
            received++;
            lastArrival = Math.max(lastArrival ?? 0, L.arrival[i]);
          }
          return { missing, received, duplicates, lastArrival };
        }
        await sleep(100);
      }
    },
    /** First arrival per sequence at endpoint `ep`, among log entries from `mark` on. */
    firstArrivals(mark, ep) {
      const m = new Map();
      for (let i = mark; i < L.seq.length; i++) {
        if (L.ep[i] !== ep || m.has(L.seq[i])) continue;
        m.set(L.seq[i], { arrival: L.arrival[i], ts: L.ts[i] });
      }
      return m;
    },
    arrivalsSince: (mark) => L.arrival.slice(mark),
  };
}

// ------------------------------------------------------------------------------------------------

function verdict(pass, value, target) {
  return `${pass ? 'PASS' : 'FAIL'}${Math.abs(value / target - 1) < NOISE ? ' (within noise)' : ''}`;
}

/**
 * Why a phase's figures cannot be trusted, or null: producer errors, deliveries that never came
 * (except in the drain, where the deadline only cuts a slow drain short), failed attempts.
 */
function invalid(phase, { drain = false } = {}) {
  if (!phase) return 'not run';
  const why = [];
  if (phase.errors) why.push(`${phase.errors} producer network errors`);
  if (phase.non2xx) why.push(`${phase.non2xx} producer non-2xx (${JSON.stringify(phase.statuses)})`);
  if (phase.missing && !drain) why.push(`${phase.missing} deliveries missing at the receiver after ${SETTLE_DEADLINE_MS / 1000} s`);
  const failedAttempts = phase.states?.attempts?.failed ?? 0;
  if (failedAttempts) why.push(`${failedAttempts} failed attempts recorded by the server`);
  return why.length ? why.join('; ') : null;
}

function latencyVerdict(L) {
  const bad = invalid(L);
  if (bad) return `INVALID (${bad})`;
  if (L.p99 == null) return 'INVALID (no deliveries measured)';
  if (L.achieved < RATE * 0.95) {
    return `FAIL (the server committed only ${fmt(L.achieved, 1)} of ${RATE} events/s offered; the p99 is at that rate, with the API overloaded)`;
  }
  return verdict(L.p99 < TARGETS.p99Ms, L.p99, TARGETS.p99Ms);
}

function drainVerdict(D, judged) {
  const bad = invalid(D, { drain: true });
  if (bad) return `INVALID (${bad})`;
  const note = D.missing ? ` (did not drain in ${DRAIN_DEADLINE_MS / 1000} s: ${D.missing} of ${D.expected} left; rate of the part drained)` : '';
  const pass = D.perSec >= TARGETS.deliveriesPerSec;
  if (!judged) return `(${pass ? 'would pass' : 'would fail'})${note}`;
  return verdict(pass, D.perSec, TARGETS.deliveriesPerSec) + note;
}

function states(p) {
  const m = Object.entries(p.states?.messages ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  const a = Object.entries(p.states?.attempts ?? {}).map(([k, v]) => `${k} ${v}`).join(', ') || 'none';
  return `messages: ${m}; attempts: ${a}`;
}

function render() {
  const o = [];
  const ds = Object.keys(results);
  const cpuCols = (u) => (u ? `${fmt(u.serverMain, 2)} / ${fmt(u.serverOther, 2)} | ${u.postgres == null ? '–' : fmt(u.postgres, 2)} | ${fmt(u.receiver, 2)} | ${fmt(u.bench, 2)}` : 'n/a | | |');
  o.push('# Webhook benchmark results (bench/webhooks)');
  o.push('');
  o.push(`- Machine: node ${machine.node}, ${machine.cores} cores (os.availableParallelism()), ${machine.cpu}, ${machine.platform}; load average at start ${machine.load}`);
  o.push(`- Date: ${machine.date}`);
  o.push(`- Storage: ${ds.map((d) => results[d].storage).join('; ')}${ds.includes('postgres') ? `; the PostgreSQL cluster is a throwaway one on the same machine with ${POSTGRES_SETTINGS.slice(0, 3).join(', ')} (as the test cluster)` : ''}`);
  o.push(`- Server: \`node packages/server/bin/latchkey.cjs start\`, default webhook settings (LATCHKEY_WEBHOOK_CONCURRENCY 64, timeout 15 s), one process at a time; receiver: node:http in its own process, answering 204 at once; producer: this process. All on the same ${machine.cores} cores.`);
  o.push(`- Events: Backend API \`PATCH /v1/users/{id}/metadata\` (one \`user.updated\` per request, ~${USERS} users cycled), endpoints subscribed to \`user.updated\`. Windows of ${WINDOW_MS / 1000} s after ${WARM_MS / 1000} s of warm-up.`);
  o.push('- Latency ("commit->delivery") = arrival at the receiver (Date.now() when the body was read) − the envelope\'s `timestamp` (the server\'s Date.now() taken in the');
  o.push('  committing transaction just before the event is written; on PostgreSQL before the wait for the per-user event lock). Same clock. It runs from a little');
  o.push('  before the commit, so it bounds commit->delivery from above; phase 1 also gives a lower bound, from the API\'s answer (sent after the commit) to arrival.');
  o.push('- Noise: these shared 2-vCPU machines vary ±15-35% between windows and runs. Compare only figures from the same run.');
  if (QUICK) o.push('- **--quick run: short windows, figures are indicative only.**');
  o.push('');
  o.push('## Verdicts');
  o.push('');
  o.push('| target | dialect | value | verdict |');
  o.push('|---|---|---:|---|');
  for (const d of ds) {
    const L = results[d].latency;
    o.push(`| commit->delivery p99 < ${TARGETS.p99Ms} ms at ${RATE} events/s | ${d} | ${fmt(L.p99)} ms (at ${fmt(L.achieved, 1)} events/s) | ${latencyVerdict(L)} |`);
  }
  for (const d of ds) {
    const D = results[d].drain;
    const judged = d === 'postgres';
    o.push(`| ≥ ${fmt(TARGETS.deliveriesPerSec)} deliveries/s${judged ? '' : ' (the target is for PostgreSQL; for reference)'} | ${d} | ${fmt(D.perSec)} /s (drain, ${D.endpoints} endpoints) | ${drainVerdict(D, judged)} |`);
  }
  if (!ds.includes('postgres')) o.push('| ≥ 2,000 deliveries/s on PostgreSQL | postgres | not run | NOT MEASURED |');
  o.push('');
  o.push('The deliveries/s target is judged on the **drain** (phase 4): the issue asks for deliveries/s, the delivery path\'s own capacity (claim, sign,');
  o.push('POST, settle), and a drain measures exactly that, with one delivering process and nothing else on the machine\'s 2 cores but the receiver.');
  o.push('Producing through the API at the same time (phase 3) puts the API\'s write transactions on the same cores and the same database, so its');
  o.push('deliveries/s is bounded by the API\'s event rate times the endpoint count (compare phase 0, the API alone), not by delivery.');
  o.push('');
  o.push('## Figures');
  o.push('');
  o.push('| | ' + ds.join(' | ') + ' |');
  o.push('|---|' + ds.map(() => '---:|').join(''));
  const row = (label, f) => o.push(`| ${label} | ${ds.map((d) => f(results[d])).join(' | ')} |`);
  row(`**0. the API alone, closed loop c=${CONNECTIONS}, no endpoint**`, () => '');
  row('events/s committed (PATCH 2xx)', (r) => fmt(r.baseline.producedPerSec));
  row('API PATCH p50 / p99 ms', (r) => `${fmt(r.baseline.apiP50, 1)} / ${fmt(r.baseline.apiP99, 1)}`);
  row('CPU ms per event (Latchkey + PostgreSQL)', (r) => fmt(cpuMsPer(r.baseline.usage, r.baseline.producedPerSec), 2));
  row(`**1. at ${RATE} events/s (open loop), 1 endpoint**`, () => '');
  row('achieved events/s in the window (committed, by envelope timestamp)', (r) => fmt(r.latency.achieved, 1));
  row('commit->delivery p50 / p90 / p99 / max ms', (r) => `${fmt(r.latency.p50)} / ${fmt(r.latency.p90)} / ${fmt(r.latency.p99)} / ${fmt(r.latency.max)}`);
  row('API answer->delivery p50 / p99 / max ms (lower bound; events matched)', (r) => `${fmt(r.latency.ack.p50)} / ${fmt(r.latency.ack.p99)} / ${fmt(r.latency.ack.max)} (${r.latency.ack.n})`);
  row('events measured / missing', (r) => `${r.latency.n} / ${r.latency.missing}`);
  row('API PATCH p50 / p99 ms; worst send lag ms', (r) => `${fmt(r.latency.apiP50, 1)} / ${fmt(r.latency.apiP99, 1)}; ${fmt(r.latency.lagMs, 1)}`);
  row('events committed after the sending ended (the API fell behind)', (r) => fmt(r.latency.lateCommits));
  row('CPU ms per event, incl. its delivery (Latchkey + PostgreSQL)', (r) => fmt(cpuMsPer(r.latency.usage, r.latency.achieved), 2));
  row(`**2. sustained, closed loop c=${CONNECTIONS}, 1 endpoint**`, () => '');
  row('events/s delivered (2xx at the receiver, in the window)', (r) => `**${fmt(r.sustained.deliveredPerSec)}**`);
  row('events/s produced (committed in the window)', (r) => fmt(r.sustained.producedPerSec));
  row('undelivered at window end (events)', (r) => fmt(r.sustained.backlogAtEnd));
  row('commit->delivery p50 / p99 ms', (r) => `${fmt(r.sustained.p50)} / ${fmt(r.sustained.p99)}`);
  row('API PATCH p50 / p99 ms', (r) => `${fmt(r.sustained.apiP50, 1)} / ${fmt(r.sustained.apiP99, 1)}`);
  row('CPU ms per event, incl. its delivery (Latchkey + PostgreSQL)', (r) => fmt(cpuMsPer(r.sustained.usage, r.sustained.deliveredPerSec), 2));
  row(`**3. sustained, closed loop c=${CONNECTIONS}, ${ENDPOINTS} endpoints (produce + deliver)**`, () => '');
  row('deliveries/s (2xx at the receiver, in the window)', (r) => `**${fmt(r.sustained4.deliveriesPerSec)}**`);
  row('events/s produced', (r) => fmt(r.sustained4.producedPerSec));
  row('endpoint 0 commit->delivery p50 / p99 ms', (r) => `${fmt(r.sustained4.p50)} / ${fmt(r.sustained4.p99)}`);
  row(`CPU ms per event, incl. its ${ENDPOINTS} deliveries (Latchkey + PostgreSQL)`, (r) => fmt(cpuMsPer(r.sustained4.usage, r.sustained4.producedPerSec), 2));
  row(`**4. drain of a backlog, ${ENDPOINTS} endpoints**`, () => '');
  row('backlog (events x endpoints = deliveries)', (r) => `${r.drain.events} x ${r.drain.endpoints} = ${r.drain.expected}`);
  row('deliveries/s, first to last arrival', (r) => `**${fmt(r.drain.perSec)}**${r.drain.missing ? ` (${r.drain.received} of ${r.drain.expected} in ${DRAIN_DEADLINE_MS / 1000} s)` : ''}`);
  row('deliveries/s after /health answered (excludes start-up)', (r) => fmt(r.drain.perSecAfterReady));
  row('drain time s (process spawn to last arrival)', (r) => `${fmt(r.drain.seconds, 2)} (${fmt(r.drain.spawnToDoneSec, 2)})`);
  row('backlog produced at (events/s, delivery off)', (r) => fmt(r.drain.produceRate));
  row('CPU ms per delivery (Latchkey + PostgreSQL, from /health on)', (r) => fmt(cpuMsPer(r.drain.usage, r.drain.perSecAfterReady), 2));
  o.push('');
  o.push('### CPU (cores = CPU seconds ÷ wall seconds over the window)');
  o.push('');
  o.push('| dialect | phase | server main / other threads | postgres (all backends) | receiver | bench (producer) |');
  o.push('|---|---|---|---:|---:|---:|');
  for (const d of ds) {
    const r = results[d];
    o.push(`| ${d} | 0. API alone | ${cpuCols(r.baseline.usage)} |`);
    o.push(`| ${d} | 1. ${RATE} events/s | ${cpuCols(r.latency.usage)} |`);
    o.push(`| ${d} | 2. sustained, 1 endpoint | ${cpuCols(r.sustained.usage)} |`);
    o.push(`| ${d} | 3. sustained, ${ENDPOINTS} endpoints | ${cpuCols(r.sustained4.usage)} |`);
    o.push(`| ${d} | 4. drain, ${ENDPOINTS} endpoints (from /health on) | ${cpuCols(r.drain.usage)} |`);
  }
  o.push('');
  if (ds.includes('postgres')) renderPostgres(o, results.postgres);
  o.push('### Checks');
  o.push('');
  o.push('Every event of each phase (from `GET /v1/events`) must reach every endpoint; the server\'s own records (webhook_messages, webhook_attempts, read');
  o.push('from the database after the phase) must show every message `succeeded` and no failed attempt. Duplicates are a second arrival of one');
  o.push('(endpoint, event) (delivery is at least once, so they are allowed, but counted only once). The receiver verifies the signature (standardwebhooks,');
  o.push('plus the svix-* copies) of the first delivery and every 50th per endpoint.');
  o.push('');
  for (const d of ds) {
    const r = results[d];
    o.push(`- ${d}: receiver saw ${r.receiver.requests} requests, ${r.receiver.duplicates} duplicates, ${r.receiver.badRequests} bad requests; signatures verified ${r.receiver.verified}, bad ${r.receiver.badSignatures}, unverifiable ${r.receiver.unverifiable}.`);
    for (const [name, p] of [['1', r.latency], ['2', r.sustained], ['3', r.sustained4], ['4', r.drain]]) {
      o.push(`  - phase ${name}: ${p.received}/${p.expected ?? (p.events * p.endpoints)} delivered, missing ${p.missing}, duplicates ${p.duplicates}; producer 2xx ${p.ok ?? p.produceOk}, non-2xx ${p.non2xx}, errors ${p.errors}; server ${states(p)}.`);
    }
  }
  o.push('');
  return o.join('\n');
}

/** Where PostgreSQL's time went in each window: backend states, top statements, slow plans. */
function renderPostgres(o, r) {
  const phases = [['0. API alone', r.baseline], ['1. 500 events/s', r.latency], ['2. sustained, 1 endpoint', r.sustained],
    [`3. sustained, ${ENDPOINTS} endpoints`, r.sustained4], ['4. drain', r.drain]];
  o.push('## Where PostgreSQL\'s time went');
  o.push('');
  o.push('pg_stat_activity sampled every 20 ms: the average number of the server\'s backends in each state (pool of 10, plus the LISTEN connection).');
  o.push('`active` without a wait event = running; `active (Lock:advisory)` = waiting for a per-user event lock (events/outbox.ts);');
  o.push('`idle in transaction (Client:ClientRead)` = a transaction waiting for the Latchkey process to send its next statement.');
  o.push('');
  o.push('| phase | samples | backends by state (average) |');
  o.push('|---|---:|---|');
  for (const [name, p] of phases) {
    const st = p.usage?.pgStates;
    o.push(`| ${name} | ${st?.samples ?? 'n/a'} | ${st ? pgStatesText(st, 6) : 'n/a'} |`);
  }
  o.push('');
  o.push('Top statements by total execution time in each window (pg_stat_statements, reset at the window\'s start; lock waits inside a statement count).');
  o.push('');
  o.push('| phase | statement | calls/s | mean ms | total ms | rows |');
  o.push('|---|---|---:|---:|---:|---:|');
  for (const [name, p] of phases) {
    for (const q of (p.usage?.pgStates?.statements ?? []).slice(0, 5)) {
      o.push(`| ${name} | \`${q.query.replace(/\|/g, '\\|')}\` | ${fmt(q.perSec)} | ${fmt(q.meanMs, 2)} | ${fmt(q.totalMs)} | ${fmt(q.rows)} |`);
    }
  }
  o.push('');
  o.push(`Statements slower than ${SLOW_PLAN_MS} ms (auto_explain, plan only) in each window:`);
  o.push('');
  let slowest = null;
  for (const [name, p] of phases) {
    const slow = p.usage?.pgStates?.slow ?? [];
    o.push(`- ${name}: ${slow.length ? slow.slice(0, 4).map((g) => `${g.n} x \`${g.query}…\` (max ${fmt(g.maxMs)} ms)`).join('; ') : 'none'}`);
    for (const g of slow) if (/lease_owner/.test(g.query) && g.maxMs > (slowest?.maxMs ?? 0)) slowest = { ...g, phase: name };
  }
  if (slowest) {
    o.push('');
    o.push(`The slowest claim (webhooks/queue.ts \`claimDue\`), ${fmt(slowest.maxMs)} ms in phase ${slowest.phase}; its plan:`);
    o.push('');
    o.push('```');
    o.push(slowest.plan);
    o.push('```');
  }
  o.push('');
}

function renderProfiles() {
  const o = ['# Webhook benchmark: server CPU profiles (bench/webhooks --profile)', ''];
  o.push(`- ${machine.date}, node ${machine.node}, ${machine.cores} cores. Figures under --cpu-prof are depressed; read the shape, not the numbers.`);
  o.push('- Self time of the server\'s main thread, % of busy (non-idle) samples. The V8 profile samples wall time on the main thread only.');
  for (const p of profiles) {
    o.push('');
    o.push(`## ${p.dialect}, ${p.role} (busy ${fmt(p.busyMs)} ms)`);
    o.push('');
    o.push('| package | self ms | % |');
    o.push('|---|---:|---:|');
    for (const k of p.packages) o.push(`| ${k.name} | ${fmt(k.ms)} | ${k.pct.toFixed(1)} |`);
    o.push('');
    o.push('| function | self ms | % |');
    o.push('|---|---:|---:|');
    for (const f of p.functions) o.push(`| \`${f.name.replace(/\|/g, '\\|')}\` | ${fmt(f.ms)} | ${f.pct.toFixed(1)} |`);
  }
  o.push('');
  return o.join('\n');
}
