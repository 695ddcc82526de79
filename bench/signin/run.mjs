#!/usr/bin/env node
// Latchkey sign-in benchmark: the argon2id bound, Latchkey password sign-in over HTTP, the token
// endpoint's p99 during a sign-in storm, and Better Auth's email sign-in as a peer, in one run.
// `npm run bench:signin` builds first, then runs this. See bench/README.md.
//   --quick     short windows (smoke test; prints, writes nothing)
//   --no-write  do not write bench/signin/RESULTS.md
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { median } from '../tokens/lib/median.mjs';
import { ROOT, api, startServer, threadCpu } from '../tokens/lib/server.mjs';
import { argon2Fixture, argon2Window } from './lib/argon2.mjs';
import { cannonRun, pct } from './lib/cannon.mjs';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const WRITE = !args.has('--no-write') && !QUICK;
const DURATION = QUICK ? 3 : 10;
const IDLE_DURATION = QUICK ? 2 : 5;
const WARMUP_DURATION = QUICK ? 1 : 3;
const SIGNIN_WARMUP = QUICK ? 1 : 2; // both servers' sign-in paths are compiled by the JIT before they are timed
const STORM_ROUNDS = QUICK ? 1 : 5;
const ARGON_MS = QUICK ? 700 : 2000;
const USERS = 50;
const CONNS = [4, 16];
const PASSWORD = 'Bench-signin-7f3k!Qz9pLm-latchkey';
const TARGETS = { signInOverArgon: 0.8, tokenStormOverIdle: 2 };
const NOISE = 0.15;

const { ARGON2_PARAMS } = await import(join(ROOT, 'packages/server/dist/passwords/passwords.js'));
const started = performance.now();
const log = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) => (n == null ? 'n/a' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const verdict = (value, target, higherIsBetter = true) => {
  const pass = higherIsBetter ? value >= target : value <= target;
  return `${pass ? 'PASS' : 'FAIL'}${Math.abs(value / target - 1) < NOISE ? ' (within noise)' : ''}`;
};
const cores = availableParallelism();
const machine = { node: process.version, cores, cpu: cpus()[0]?.model ?? 'unknown', date: new Date().toISOString(), platform: `${process.platform} ${process.arch}` };
log(`Latchkey sign-in bench: node ${machine.node}, ${cores} cores (${machine.cpu}), ${machine.date}${QUICK ? ' [quick]' : ''}`);

// ---------- (1) the argon2id bound, measured before, between and after the HTTP runs ----------
const argonFx = await argon2Fixture(ARGON2_PARAMS, PASSWORD);
await argon2Window(argonFx, 2, 300); // warm-up
const argonRates = { 2: [], 4: [] };
async function argonRound(label) {
  for (const n of [2, 4]) argonRates[n].push(await argon2Window(argonFx, n, ARGON_MS));
  log(`  argon2id verify (${label}): 2 in flight ${fmt(argonRates[2].at(-1))} ops/s, 4 in flight ${fmt(argonRates[4].at(-1))} ops/s`);
}
log(`(1) argon2id bound, @node-rs/argon2 verify, m=${ARGON2_PARAMS.memoryCost} KiB t=${ARGON2_PARAMS.timeCost} p=${ARGON2_PARAMS.parallelism}`);
await argonRound('before');

// ---------- (2) Latchkey sign-in; a fresh server per run, since the limits live in memory ----------
// One load generator is one IP: lift the Frontend API's buckets for the benchmark (LATCHKEY_RATE_LIMITS).
const BENCH_LIMITS = JSON.stringify({
  signInPerIp: { points: 1_000_000, durationSec: 60 },
  signInPerIdentifier: { points: 1_000_000, durationSec: 60 },
});
async function latchkeyWithUsers() {
  const server = await startServer({ env: { LATCHKEY_RATE_LIMITS: BENCH_LIMITS } });
  const emails = Array.from({ length: USERS }, (_, u) => `signin${u}-${Date.now()}@example.com`);
  for (let i = 0; i < emails.length; i += 4) {
    await Promise.all(emails.slice(i, i + 4).map((e) => api(server, 'POST', '/v1/users', { email_address: [e], password: PASSWORD })));
  }
  return { server, bodies: emails.map((identifier) => JSON.stringify({ identifier, password: PASSWORD })) };
}
const signInHeaders = { 'content-type': 'application/json', 'latchkey-native': '1' };
const signInRun = (server, bodies, connections, duration = DURATION) =>
  cannonRun({ url: server.base, path: '/v1/client/sign_ins', headers: signInHeaders, bodies, connections, duration, pid: server.pid });
const describeSignIn = (name, r) => `${name} c=${r.connections}: ${r.total} responses, 2xx ${r.ok} (${fmt(r.okPerSec, 1)} req/s, p99 ${fmt(r.okP99, 1)} ms), 429 ${r.limited}, other non-2xx ${r.otherNon2xx}, errors ${r.errors}, timeouts ${r.timeouts}`;

log(`(2) Latchkey POST /v1/client/sign_ins, ${USERS} users, latchkey-native: 1, ${DURATION} s per run, fresh server per run after ${SIGNIN_WARMUP} s of warm-up`);
const lkRuns = [];
for (const c of CONNS) {
  const { server, bodies } = await latchkeyWithUsers();
  try {
    // Warmed up like Better Auth below: a cold server spends its first seconds in the JIT compiler,
    // and the sign-ins still in flight after the warm-up get a second to finish.
    await signInRun(server, bodies, 4, SIGNIN_WARMUP);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const r = await signInRun(server, bodies, c);
    r.burstPerSec = r.ok && r.lastOkAt ? r.ok / (r.lastOkAt / 1000) : null;
    lkRuns.push(r);
    log(`  ${describeSignIn('latchkey', r)}`);
  } finally { await server.stop(); }
}
await argonRound('between');

// ---------- (3) token endpoint p99, idle vs during a sign-in storm, in rounds ----------
log(`(3) token endpoint: Backend API POST /v1/sessions/{sid}/tokens, sid from one sign-in, c=1; warm-up, then ${STORM_ROUNDS} rounds of idle and beside a sign-in storm (c=16)`);
const storm = { rounds: [] };
{
  const { server, bodies } = await latchkeyWithUsers();
  try {
    const res = await fetch(`${server.base}/v1/client/sign_ins`, { method: 'POST', headers: signInHeaders, body: bodies[0] });
    const sj = await res.json();
    const sid = sj?.response?.created_session_id;
    if (!res.ok || !sid) throw new Error(`sign-in for the token session failed: ${res.status} ${JSON.stringify(sj)}`);
    const tokenOpts = { url: server.base, path: `/v1/sessions/${sid}/tokens`, headers: { 'content-type': 'application/json', authorization: `Bearer ${server.secretKey}` }, connections: 1 };
    // Warm-up: both paths compiled by the JIT before the idle baseline, or the baseline's p99 is the compiler's.
    await cannonRun({ ...tokenOpts, duration: WARMUP_DURATION });
    await signInRun(server, bodies, 4, WARMUP_DURATION);
    // Each round pairs an idle window with the storm right after it, so both p99s come from the same minute of this shared machine.
    for (let round = 1; round <= STORM_ROUNDS; round++) {
      // After a storm (and after the warm-up's sign-ins), the sign-ins autocannon left in flight are still
      // hashing for a moment: the idle window waits them out, or its p99 is theirs and the ratio flatters.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const idle = await cannonRun({ ...tokenOpts, duration: IDLE_DURATION });
      if (!idle.ok) throw new Error(`no token request succeeded in round ${round}'s idle window`);
      const before = threadCpu(server.pid);
      const [signIns, tokens] = await Promise.all([signInRun(server, bodies, 16), cannonRun({ ...tokenOpts, duration: DURATION, pid: server.pid })]);
      const threads = threadGroups(before, threadCpu(server.pid), server.pid, tokens.duration || DURATION);
      // Token latencies while sign-ins were still succeeding (hashing), on one clock.
      const hashEnd = signIns.lastOkAt == null ? null : signIns.t0 + signIns.lastOkAt;
      const during = hashEnd == null ? [] : tokens.samples.filter((x) => tokens.t0 + x[0] <= hashEnd && x[1] < 300).map((x) => x[2]);
      const r = { round, idle, signIns, tokens, threads, duringHash: { n: during.length, p99: pct(during, 99), ms: hashEnd == null ? 0 : hashEnd - tokens.t0 } };
      r.ratio = tokens.okP99 / idle.okP99;
      storm.rounds.push(r);
      log(`  round ${round}: idle ${idle.ok} tokens, p99 ${idle.okP99} ms; storm ${tokens.ok} tokens, p99 ${tokens.okP99} ms (${r.ratio.toFixed(2)}x); while sign-ins hashed (first ${fmt(r.duringHash.ms)} ms): ${during.length} tokens, p99 ${r.duringHash.p99 ?? 'n/a'} ms`);
      log(`  ${describeSignIn('storm sign-ins', signIns)}`);
    }
    storm.ratio = median(storm.rounds.map((r) => r.ratio));
  } finally { await server.stop(); }
}

/** The server's threads during the storm, grouped: the event loop, threads at a raised nice value (the hashers), the rest. */
function threadGroups(before, after, pid, seconds) {
  if (!before || !after) return null;
  const groups = new Map();
  for (const [tid, a] of after) {
    const key = String(tid) === String(pid) ? 'event loop' : a.nice > 0 ? 'password hashers' : 'other threads (libuv pool: token signing; V8 helpers)';
    const g = groups.get(key) ?? { threads: 0, cores: 0, nice: a.nice };
    g.threads++;
    g.cores += (a.sec - (before.get(tid)?.sec ?? 0)) / seconds;
    groups.set(key, g);
  }
  return groups;
}

// ---------- (4) Better Auth email sign-in, own process, own SQLite ----------
log(`(4) Better Auth POST /api/auth/sign-in/email, ${USERS} users, ${DURATION} s per run`);
const baRuns = [];
let baVersion;
{
  const { default: pkg } = await import(join(ROOT, 'node_modules/better-auth/package.json'), { with: { type: 'json' } });
  baVersion = pkg.version;
  const dir = mkdtempSync(join(tmpdir(), 'better-auth-bench-'));
  const child = spawn(process.execPath, [join(ROOT, 'bench/signin/lib/better-auth-peer.mjs'), dir], {
    env: { ...process.env, NODE_ENV: 'production' }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stderr.on('data', (d) => { out += d; });
  try {
    const port = await new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`Better Auth peer did not start:\n${out}`)), 30_000);
      child.stdout.on('data', (d) => { out += d; const m = /READY (\d+)/.exec(out); if (m) { clearTimeout(t); resolve(Number(m[1])); } });
      child.on('exit', (code) => reject(new Error(`Better Auth peer exited (${code}):\n${out}`)));
    });
    const base = `http://127.0.0.1:${port}`;
    const headers = { 'content-type': 'application/json', origin: 'http://localhost:3000' };
    const emails = Array.from({ length: USERS }, (_, u) => `ba${u}@example.com`);
    for (let i = 0; i < emails.length; i += 4) {
      await Promise.all(emails.slice(i, i + 4).map(async (email) => {
        const r = await fetch(`${base}/api/auth/sign-up/email`, { method: 'POST', headers, body: JSON.stringify({ email, password: PASSWORD, name: email }) });
        if (!r.ok) throw new Error(`Better Auth sign-up ${email}: ${r.status} ${await r.text()}`);
        await r.arrayBuffer();
      }));
    }
    const bodies = emails.map((email) => JSON.stringify({ email, password: PASSWORD }));
    await cannonRun({ url: base, path: '/api/auth/sign-in/email', headers, bodies, connections: 4, duration: SIGNIN_WARMUP }); // warm-up
    for (const c of CONNS) {
      const r = await cannonRun({ url: base, path: '/api/auth/sign-in/email', headers, bodies, connections: c, duration: DURATION, pid: child.pid });
      baRuns.push(r);
      log(`  ${describeSignIn('better-auth', r)}`);
    }
  } finally {
    // SIGKILL: hashes still queued in its pool after autocannon stops would otherwise go on
    // and depress the argon2 windows that follow.
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  }
}
await argonRound('after');

const argon = { 2: median(argonRates[2]), 4: median(argonRates[4]) };
const report = render();
log('');
log(report);
if (WRITE) { writeFileSync(join(ROOT, 'bench/signin/RESULTS.md'), report); log('Wrote bench/signin/RESULTS.md'); }
log(`Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`);
process.exit(0);

function render() {
  const o = [];
  const p = ARGON2_PARAMS;
  const lkHasher = `argon2id m=${p.memoryCost} KiB, t=${p.timeCost}, p=${p.parallelism} (@node-rs/argon2)`;
  const baHasher = 'scrypt N=16384, r=16, p=1, dkLen=64 (node:crypto, async; Better Auth default)';
  const sc = (r) => (r.serverCores ? `${r.serverCores.main.toFixed(2)} / ${r.serverCores.other.toFixed(2)}` : 'n/a');
  const blocked = lkRuns.some((r) => r.limited > r.ok);
  o.push('# Sign-in benchmark results (bench/signin)');
  o.push('');
  o.push(`- Machine: node ${machine.node}, ${machine.cores} cores (os.availableParallelism()), ${machine.cpu}, ${machine.platform}`);
  o.push(`- Date: ${machine.date}`);
  o.push(`- Hashers: Latchkey ${lkHasher}; Better Auth ${better()} ${baHasher}`);
  o.push(`- ${USERS} users on each server, cycled; autocannon in this process, ${DURATION} s per run; servers on SQLite in their own processes; throughput and p50/p99 count 2xx responses only`);
  o.push('- Noise: these shared 2-vCPU machines vary ±15-35% between windows. Compare only figures from the same run, as ratios.');
  if (QUICK) o.push('- **--quick run: short windows, figures are indicative only.**');
  if (blocked) {
    o.push('');
    o.push('**BLOCKED: Latchkey\'s sign-in rate limits (in memory: 30 per IP per 60 s, 10 per identifier per 60 s) turn almost every benchmark request into a 429,');
    o.push('so the sign-in throughput below is the limiter\'s, not the server\'s. The benchmark needs a server switch that raises those limits (see the end).**');
  }
  o.push('');
  o.push('## 1. The argon2id bound');
  o.push('');
  o.push(`@node-rs/argon2 \`verify\` (async, on libuv's pool at normal priority) with the server's own ARGON2_PARAMS (${lkHasher}), in this process, N calls kept in flight;`);
  o.push(`median of ${argonRates[2].length} windows of ${ARGON_MS / 1000} s taken before, between and after the HTTP runs.`);
  o.push('');
  o.push('| in flight | ops/s (median) | windows | ms/op per thread |');
  o.push('|---:|---:|---|---:|');
  for (const n of [2, 4]) o.push(`| ${n} | ${fmt(argon[n])} | ${argonRates[n].map((x) => fmt(x)).join(' / ')} | ${fmt((1000 * n) / argon[n], 1)} |`);
  o.push('');
  o.push(`The bound used below is the 2-in-flight figure (${fmt(argon[2])} verifies/s), one hash per core. 4 in flight is no faster on 2 cores`);
  o.push('(each hash touches 19 MiB, so more concurrent hashes than cores only add memory contention and queueing).');
  o.push('');
  o.push('## 2. Latchkey password sign-in');
  o.push('');
  o.push('`POST /v1/client/sign_ins` `{identifier, password}`, header `latchkey-native: 1` (each request creates a client and a session). A fresh server per run, warmed up by ' + `${SIGNIN_WARMUP} s of sign-ins at c=4 (as Better Auth is) before its timed run.`);
  o.push('');
  o.push('| connections | responses | 2xx | 2xx req/s | 2xx p50 ms | 2xx p99 ms | 429 | 429 p99 ms | other non-2xx | errors | burst 2xx/s* | server cores main / other |');
  o.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of lkRuns) o.push(`| ${r.connections} | ${r.total} | ${r.ok} | ${fmt(r.okPerSec, 1)} | ${fmt(r.okP50, 1)} | ${fmt(r.okP99, 1)} | ${r.limited} | ${fmt(r.limitedP99, 1)} | ${r.otherNon2xx} | ${r.errors + r.timeouts} | ${fmt(r.burstPerSec, 1)} | ${sc(r)} |`);
  o.push('');
  o.push('\\* burst 2xx/s = 2xx count ÷ time of the last 2xx from the start of the run: the rate of the sign-ins the limiter let through, before it closed.');
  o.push('It rests on about 30 requests at a cold start and is indicative only, not a throughput figure.');
  o.push('');
  o.push('| ratio | connections | value | target | verdict |');
  o.push('|---|---:|---:|---:|---|');
  for (const r of lkRuns) {
    const v = r.okPerSec / argon[2];
    const clean = r.otherNon2xx === 0 && r.errors === 0 && r.timeouts === 0 && r.limited === 0;
    o.push(`| sign-in 2xx req/s ÷ argon2id bound | ${r.connections} | ${v.toFixed(2)} | ≥ ${TARGETS.signInOverArgon} | ${clean ? verdict(v, TARGETS.signInOverArgon) : `NOT MEASURABLE (${r.limited} of ${r.total} were 429)`} |`);
    if (r.burstPerSec) o.push(`| *burst 2xx/s ÷ argon2id bound (indicative)* | ${r.connections} | ${(r.burstPerSec / argon[2]).toFixed(2)} | | |`);
  }
  o.push('');
  o.push('## 3. Token endpoint during a sign-in storm');
  o.push('');
  const rounds = storm.rounds;
  o.push('Backend API `POST /v1/sessions/{sid}/tokens` (Bearer secret key, body `{}`), one connection, for the session of one Latchkey sign-in;');
  o.push(`after a warm-up (${WARMUP_DURATION} s of tokens, then ${WARMUP_DURATION} s of sign-ins at c=4, so the JIT has compiled both paths), ${rounds.length} rounds of: idle for ${IDLE_DURATION} s,`);
  o.push(`then ${DURATION} s beside a sign-in storm (autocannon c=16 on \`/v1/client/sign_ins\`, same server). Each round's storm is compared with its own idle window;`);
  o.push('the verdict takes the median of the rounds.');
  o.push('');
  o.push('| round | phase | tokens (2xx) | req/s | p50 ms | p99 ms | non-2xx |');
  o.push('|---:|---|---:|---:|---:|---:|---:|');
  for (const r of rounds) {
    o.push(`| ${r.round} | idle | ${r.idle.ok} | ${fmt(r.idle.okPerSec)} | ${fmt(r.idle.okP50, 1)} | ${fmt(r.idle.okP99, 1)} | ${r.idle.total - r.idle.ok} |`);
    o.push(`| ${r.round} | during the storm (whole run) | ${r.tokens.ok} | ${fmt(r.tokens.okPerSec)} | ${fmt(r.tokens.okP50, 1)} | ${fmt(r.tokens.okP99, 1)} | ${r.tokens.total - r.tokens.ok} |`);
    o.push(`| ${r.round} | while storm sign-ins were still succeeding (first ${fmt(r.duringHash.ms)} ms) | ${r.duringHash.n} | | | ${fmt(r.duringHash.p99, 1)} | |`);
  }
  o.push('');
  o.push('The storms themselves:');
  o.push('');
  o.push('| round | sign-in responses | 2xx | 2xx p99 ms | 429 | other non-2xx | server cores main / other |');
  o.push('|---:|---:|---:|---:|---:|---:|---|');
  for (const r of rounds) o.push(`| ${r.round} | ${r.signIns.total} | ${r.signIns.ok} | ${fmt(r.signIns.okP99, 1)} | ${r.signIns.limited} | ${r.signIns.otherNon2xx} | ${sc(r.tokens)} |`);
  o.push('');
  const mostly429 = rounds.some((r) => r.signIns.limited > r.signIns.ok);
  // A round with fewer than 100 token samples while sign-ins hashed says nothing about a p99.
  const hashed = rounds.filter((r) => r.duringHash.p99 != null && r.duringHash.n >= 100);
  o.push('| ratio | rounds | median | target | verdict |');
  o.push('|---|---|---:|---:|---|');
  o.push(`| token p99 storm ÷ idle (whole run) | ${rounds.map((r) => `${r.ratio.toFixed(2)}x`).join(' / ')} | ${storm.ratio.toFixed(2)}x | ≤ ${TARGETS.tokenStormOverIdle}x | ${verdict(storm.ratio, TARGETS.tokenStormOverIdle, false)}${mostly429 ? ' (but a storm was mostly 429s, not hashing)' : ''} |`);
  if (hashed.length) {
    const hs = hashed.map((r) => r.duringHash.p99 / r.idle.okP99);
    const n = hashed.reduce((a, r) => a + r.duringHash.n, 0);
    o.push(`| token p99 while sign-ins hashed ÷ idle (${n} samples in ${hashed.length} rounds, indicative) | ${hs.map((h) => `${h.toFixed(2)}x`).join(' / ')} | ${median(hs).toFixed(2)}x | ≤ ${TARGETS.tokenStormOverIdle}x | ${verdict(median(hs), TARGETS.tokenStormOverIdle, false)} |`);
  }
  o.push('');
  o.push('### 3b. Why it holds: the hashers run at the lowest CPU priority, one pinned to each CPU');
  o.push('');
  o.push('The server hashes passwords on threads of its own that lower their Linux nice value to 19 (`packages/server/src/passwords/hasher-pool.ts`),');
  o.push('so the event loop and token signing preempt hashing whenever they have work; with one hasher per CPU, each is pinned to its own CPU,');
  o.push('so the kernel does not move them about as requests wake up (bench/README.md). The server\'s threads during the last storm, from /proc:');
  o.push('');
  o.push('| threads | count | nice | cores used |');
  o.push('|---|---:|---:|---:|');
  for (const [k, g] of rounds.at(-1)?.threads ?? []) o.push(`| ${k} | ${g.threads} | ${g.nice} | ${g.cores.toFixed(2)} |`);
  o.push('');
  o.push('## 4. Better Auth email sign-in (peer)');
  o.push('');
  o.push(`better-auth ${baVersion}, own process, own SQLite file (better-sqlite3, WAL), schema by \`getMigrations\`, \`toNodeHandler\` on node:http, NODE_ENV=production,`);
  o.push('rate limiter and telemetry off, `Origin` header sent. `POST /api/auth/sign-in/email` `{email, password}`; 2 s warm-up first.');
  o.push(`Hasher: ${baHasher}.`);
  o.push('');
  o.push('| connections | 2xx | 2xx req/s | 2xx p50 ms | 2xx p99 ms | non-2xx | errors | server cores main / other |');
  o.push('|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const r of baRuns) o.push(`| ${r.connections} | ${r.ok} | ${fmt(r.okPerSec, 1)} | ${fmt(r.okP50, 1)} | ${fmt(r.okP99, 1)} | ${r.total - r.ok} | ${r.errors + r.timeouts} | ${sc(r)} |`);
  o.push('');
  o.push('Better Auth is bound by its scrypt (16 MiB, about 80-100 ms of one pool thread per hash; see the "other" cores): its sign-in rate is in effect its scrypt rate,');
  o.push('and says how expensive its default hash is, not how fast the rest of its server is.');
  const ba = baRuns.find((r) => r.connections === 4) ?? baRuns[0];
  if (ba) o.push(`Same run: Latchkey's argon2id bound (${fmt(argon[2])}/s) is ${(argon[2] / ba.okPerSec).toFixed(1)}x Better Auth's sign-in rate at c=4 (${fmt(ba.okPerSec, 1)}/s); Latchkey's own sign-in rate is in section 2.`);
  o.push('');
  o.push('## What the Latchkey sign-in figures need');
  o.push('');
  if (blocked) {
    o.push('Sign-in throughput cannot be measured while the Frontend API\'s in-memory limits stand: one load generator on 127.0.0.1 is one IP,');
    o.push('so `signInPerIp` (30 / 60 s) refuses everything after the first 30 sign-ins of each server\'s life, and `signInPerIdentifier` (10 / 60 s)');
    o.push(`caps ${USERS} users at ${USERS * 10} per minute. The switch needed, read once at start-up in \`packages/server/src/latchkey.ts\` where`);
    o.push('`new RateLimits(DEFAULT_RATE_LIMITS)` is built: an environment variable, e.g. `LATCHKEY_RATE_LIMIT_MULTIPLIER=<n>` (multiplies every');
    o.push('bucket\'s `points`; 0 or absent = defaults), or a `LATCHKEY_BENCH_DISABLE_RATE_LIMITS=1` that swaps in limits of e.g. 1e9 points, logged as a');
    o.push('warning at start-up and refused when NODE_ENV=production. With it, this script needs only to pass the variable to `startServer({ env })`.');
  } else {
    o.push('Nothing: the sign-in runs were not dominated by 429s.');
  }
  o.push('');
  return o.join('\n');
  function better() { return `${baVersion}:`; }
}
