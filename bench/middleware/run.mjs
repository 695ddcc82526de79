#!/usr/bin/env node
// Middleware benchmark: requests/s of one Express 5 route behind requireAuth with @latchkey/express,
// with @clerk/express (networkless, same tokens and key), and with no auth, in one run.
// `npm run bench:middleware` builds first, then runs this. See bench/README.md.
//   --quick     one short round (smoke test; prints, writes nothing)
//   --no-write  full run, prints only
//   --profile   the apps run under --cpu-prof; writes bench/middleware/PROFILE.md instead
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { cannonRun } from '../signin/lib/cannon.mjs';
import { summariseProfile } from '../tokens/lib/profile.mjs';
import { median } from '../tokens/lib/median.mjs';
import { ROOT, mintFixtures, startServer } from '../tokens/lib/server.mjs';
import { startApp } from './lib/apps.mjs';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const PROFILE = args.has('--profile');
const WRITE = !args.has('--no-write') && !QUICK;
const ROUNDS = QUICK ? 1 : 3;
const WINDOW_S = QUICK ? 2 : 5;
const WARMUP_S = QUICK ? 1 : 2;
const CONNECTIONS = 32;
const USERS = 8;
const TOKENS_PER_USER = 16;
const TARGET = 1.5; // @latchkey/express req/s ÷ @clerk/express req/s
const NOISE = 0.15;
const PATH = '/api/me';

const VARIANTS = [
  { id: 'none', label: 'no auth (Express alone)' },
  { id: 'latchkey', label: '@latchkey/express latchkeyMiddleware({ jwtKey }) + requireAuth()' },
  { id: 'clerk', label: '@clerk/express clerkMiddleware({ jwtKey, secretKey, publishableKey }) + 401 guard' },
];

const started = performance.now();
const log = (s) => process.stdout.write(`${s}\n`);
const fmt = (n, d = 0) => (n == null ? 'n/a' : Number(n).toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d }));
const verdict = (value, target) => `${value >= target ? 'PASS' : 'FAIL'}${Math.abs(value / target - 1) < NOISE ? ' (within noise)' : ''}`;
// Machine-wide busy CPU seconds (all processes), from /proc/stat (Linux; null elsewhere): what is not the app's or
// autocannon's is other load on the machine during a window, which would depress that window.
let clkTck;
const machineBusySec = () => {
  try {
    clkTck ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / clkTck; // user nice system irq softirq steal (not idle, iowait)
  } catch {
    return null;
  }
};
const version = (pkg) => JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;

const machine = {
  node: process.version,
  cores: availableParallelism(),
  cpu: cpus()[0]?.model ?? 'unknown',
  date: new Date().toISOString(),
  platform: `${process.platform} ${process.arch}`,
  load: loadavg().map((l) => l.toFixed(2)).join(' '),
  versions: { express: version('express'), clerk: version('@clerk/express'), clerkBackend: version('@clerk/backend'), autocannon: version('autocannon') },
};
log(`Latchkey middleware bench: node ${machine.node}, ${machine.cores} cores (${machine.cpu}), load ${machine.load}, ${machine.date}${QUICK ? ' [quick]' : ''}${PROFILE ? ' [profile]' : ''}`);

// ---------- fixtures: real session tokens from a real Latchkey (SQLite), then Latchkey is stopped ----------
const server = await startServer();
let fx, publishableKey;
try {
  fx = await mintFixtures(server, { users: USERS, perSession: TOKENS_PER_USER });
  publishableKey = /^LATCHKEY_PUBLISHABLE_KEY=(.+)$/m.exec(readFileSync(join(server.dataDir, 'keys.env'), 'utf8'))?.[1]?.trim();
  if (!publishableKey) throw new Error('No LATCHKEY_PUBLISHABLE_KEY in keys.env');
} finally {
  // Nothing below may need it: both SDKs verify with the PEM alone. Stopping it makes any JWKS or API call fail loudly.
  await server.stop();
}
const tokens = fx.tokens.map((jwt) => ({ jwt, sub: JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url')).sub }));
const avgTokenBytes = Math.round(tokens.reduce((a, t) => a + t.jwt.length, 0) / tokens.length);
log(`Minted ${tokens.length} session tokens (${USERS} users × ${TOKENS_PER_USER}, 1 h, avg ${avgTokenBytes} bytes); Latchkey stopped.`);

const profDir = PROFILE ? mkdtempSync(join(tmpdir(), 'latchkey-mw-prof-')) : undefined;
const apps = {};
let report;
try {
  for (const v of VARIANTS) apps[v.id] = await startApp(v.id, { pem: fx.pem, secretKey: server.secretKey, publishableKey, cpuProfDir: profDir });
  await checkApps();
  log('Every app answers 200 with the token\'s userId (no auth: null) for every token; both auth apps answer 401 to a forged token and to none; no fetch made.');

  // ---------- timed rounds: every variant gets one window per round, order rotated ----------
  const requests = tokens.map((t) => ({ method: 'GET', path: PATH, headers: { authorization: `Bearer ${t.jwt}` } }));
  const runs = Object.fromEntries(VARIANTS.map((v) => [v.id, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + r) % VARIANTS.length]);
    for (const v of order) {
      const app = apps[v.id];
      await cannonRun({ url: app.base, requests, connections: CONNECTIONS, duration: WARMUP_S });
      const cpu0 = process.cpuUsage();
      const busy0 = machineBusySec();
      const t0 = performance.now();
      const run = await cannonRun({ url: app.base, requests, connections: CONNECTIONS, duration: WINDOW_S, pid: app.pid });
      const elapsedS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const busy1 = machineBusySec();
      run.genCores = (cpu.user + cpu.system) / 1e6 / elapsedS;
      run.appCores = run.serverCores ? run.serverCores.main + run.serverCores.other : null;
      run.otherCores = busy0 == null || busy1 == null || run.appCores == null ? null : Math.max(0, (busy1 - busy0) / elapsedS - run.appCores - run.genCores);
      run.appCpuUsPerReq = run.appCores == null ? null : (run.appCores * 1e6) / (run.total / run.duration);
      run.samples = undefined; // not needed past here; keeps memory flat
      runs[v.id].push(run);
      log(`  round ${r + 1} ${v.id.padEnd(8)} ${fmt(run.okPerSec)} req/s, p50 ${fmt(run.okP50, 1)} ms, p99 ${fmt(run.okP99, 1)} ms, non-2xx ${run.total - run.ok}, errors ${run.errors}, timeouts ${run.timeouts}; app ${fmt(run.appCores, 2)} cores (${fmt(run.appCpuUsPerReq)} µs/req), autocannon ${fmt(run.genCores, 2)} cores, rest of the machine ${fmt(run.otherCores, 2)} cores`);
    }
  }
  const fetches = {};
  for (const v of VARIANTS) fetches[v.id] = (await apps[v.id].stats()).fetches;

  let profiles;
  if (PROFILE) {
    for (const v of VARIANTS) await apps[v.id].stop();
    profiles = Object.fromEntries(VARIANTS.map((v) => {
      const file = join(profDir, `${v.id}.cpuprofile`);
      return [v.id, { ...summariseProfile(file, 30), file }];
    }));
  }
  report = render(summarise(runs), fetches, profiles);
} finally {
  for (const app of Object.values(apps)) await app.stop();
}

log('');
log(report);
if (PROFILE) {
  writeFileSync(join(ROOT, 'bench/middleware/PROFILE.md'), report);
  log(`Wrote bench/middleware/PROFILE.md (profiles kept in ${profDir})`);
} else if (WRITE) {
  writeFileSync(join(ROOT, 'bench/middleware/RESULTS.md'), report);
  log('Wrote bench/middleware/RESULTS.md');
}
log(`Total bench time ${((performance.now() - started) / 1000).toFixed(0)} s`);

// Before anything is timed: each app must do its work, or a variant would measure a no-op.
async function checkApps() {
  const get = async (app, authorization) => {
    const res = await fetch(`${app.base}${PATH}`, { headers: authorization ? { authorization } : {} });
    return { status: res.status, body: await res.json() };
  };
  const [h, p, s] = tokens[0].jwt.split('.');
  const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url')), sub: 'user_forged' })).toString('base64url');
  const forged = `${h}.${forgedPayload}.${s}`;
  const expect = (cond, what) => { if (!cond) throw new Error(`Check failed: ${what}`); };
  for (const v of VARIANTS) {
    const app = apps[v.id];
    for (const t of tokens) {
      const r = await get(app, `Bearer ${t.jwt}`);
      const want = v.id === 'none' ? null : t.sub;
      expect(r.status === 200 && r.body.userId === want, `${v.id}: valid token for ${t.sub} -> ${r.status} ${JSON.stringify(r.body)}`);
    }
    if (v.id === 'none') continue;
    const bad = await get(app, `Bearer ${forged}`);
    expect(bad.status === 401 && bad.body.error === 'Invalid authentication token', `${v.id}: forged token -> ${bad.status} ${JSON.stringify(bad.body)}`);
    const none = await get(app);
    expect(none.status === 401 && none.body.error === 'Authentication required', `${v.id}: no token -> ${none.status} ${JSON.stringify(none.body)}`);
    const { fetches } = await app.stats();
    expect(fetches === 0, `${v.id}: made ${fetches} fetch(es) while verifying; it must verify networkless`);
  }
}

function summarise(runs) {
  const out = {};
  for (const v of VARIANTS) {
    const rs = runs[v.id];
    const m = (f) => { const xs = rs.map(f).filter((x) => x != null); return xs.length ? median(xs) : null; };
    out[v.id] = {
      ...v,
      rs,
      reqPerSec: m((r) => r.okPerSec),
      p50: m((r) => r.okP50),
      p99: m((r) => r.okP99),
      appMain: m((r) => r.serverCores?.main),
      appOther: m((r) => r.serverCores?.other),
      appUsPerReq: m((r) => r.appCpuUsPerReq),
      genCores: m((r) => r.genCores),
      otherCores: m((r) => r.otherCores),
      bad: rs.reduce((a, r) => a + (r.total - r.ok) + r.errors + r.timeouts, 0),
    };
  }
  return out;
}

function render(s, fetches, profiles) {
  const o = [];
  const { none, latchkey, clerk } = s;
  const valid = VARIANTS.every((v) => s[v.id].bad === 0 && fetches[v.id] === 0);
  const lkClerk = latchkey.reqPerSec / clerk.reqPerSec;
  const lkNone = latchkey.reqPerSec / none.reqPerSec;
  const clerkNone = clerk.reqPerSec / none.reqPerSec;
  const perRound = latchkey.rs.map((r, i) => r.okPerSec / clerk.rs[i].okPerSec);

  o.push(PROFILE ? '# Middleware benchmark under the CPU profiler (bench/middleware --profile)' : '# Middleware benchmark results (bench/middleware)');
  o.push('');
  o.push(`- Machine: node ${machine.node}, ${machine.cores} cores (os.availableParallelism()), ${machine.cpu}, ${machine.platform}; load average at start ${machine.load}`);
  o.push(`- Date: ${machine.date}`);
  o.push(`- Versions: express ${machine.versions.express}, @clerk/express ${machine.versions.clerk} (@clerk/backend ${machine.versions.clerkBackend}), @latchkey/express from packages/express/dist, autocannon ${machine.versions.autocannon}`);
  o.push(`- Route: \`GET ${PATH}\` answering \`{ userId }\` (JSON), Express 5, one app per variant, each in its own process (NODE_ENV=production), 127.0.0.1`);
  o.push(`- Tokens: ${tokens.length} RS256 session tokens (${USERS} users × ${TOKENS_PER_USER}, \`expires_in_seconds: 3600\`, avg ${avgTokenBytes} bytes) minted by a real Latchkey (SQLite), sent as \`Authorization: Bearer\`, cycled (each connection walks the list); the no-auth app gets the same requests`);
  o.push('- Key: the Latchkey JWKS key as SPKI PEM, passed as `jwtKey` to both SDKs (networkless: Latchkey was stopped before the apps started, and each app counts its fetches: 0 for all)');
  o.push(`- Load: autocannon (programmatic, in the bench process), ${CONNECTIONS} connections; ${ROUNDS} round(s), in each every variant gets a ${WARMUP_S} s warm-up then a ${WINDOW_S} s window, order rotated per round; figures are the median of the windows`);
  o.push(`- **The machine has ${machine.cores} cores, shared by the load generator and the app under test** (see the autocannon cores column): req/s are what one app process reaches with the other core(s) busy generating load, not a dedicated server's. The ratios are the result.`);
  o.push('- Noise: these shared 2-vCPU machines vary ±15-35% between windows. Compare only figures from the same run, as ratios.');
  if (PROFILE) o.push('- **The apps ran under `--cpu-prof`: the throughput figures are depressed by the profiler; read them for the shape only.**');
  if (QUICK) o.push('- **--quick run: one short round, figures are indicative only.**');
  o.push('');
  o.push('## Verdict');
  o.push('');
  o.push('| ratio | value | per round | target | verdict |');
  o.push('|---|---:|---|---:|---|');
  o.push(`| @latchkey/express ÷ @clerk/express (req/s) | **${lkClerk.toFixed(2)}x** | ${perRound.map((x) => x.toFixed(2)).join(' / ')} | ≥ ${TARGET}x | ${valid ? verdict(lkClerk, TARGET) : 'INVALID (see below)'} |`);
  o.push(`| @latchkey/express ÷ no auth (req/s) | ${lkNone.toFixed(2)} | ${latchkey.rs.map((r, i) => (r.okPerSec / none.rs[i].okPerSec).toFixed(2)).join(' / ')} | | |`);
  o.push(`| @clerk/express ÷ no auth (req/s) | ${clerkNone.toFixed(2)} | ${clerk.rs.map((r, i) => (r.okPerSec / none.rs[i].okPerSec).toFixed(2)).join(' / ')} | | |`);
  o.push('');
  if (!valid) {
    o.push(`**INVALID: ${VARIANTS.map((v) => `${v.id}: ${s[v.id].bad} non-2xx/errors/timeouts, ${fetches[v.id]} fetches`).join('; ')}**`);
    o.push('');
  }
  o.push('## Figures');
  o.push('');
  o.push('| variant | req/s (median) | windows | p50 ms | p99 ms | app cores: main / other threads | app CPU µs per request | (windows) | autocannon cores | rest of the machine, cores (windows) |');
  o.push('|---|---:|---|---:|---:|---|---:|---|---:|---|');
  for (const v of VARIANTS) {
    const x = s[v.id];
    o.push(`| ${x.label} | **${fmt(x.reqPerSec)}** | ${x.rs.map((r) => fmt(r.okPerSec)).join(' / ')} | ${fmt(x.p50, 1)} | ${fmt(x.p99, 1)} | ${fmt(x.appMain, 2)} / ${fmt(x.appOther, 2)} | ${fmt(x.appUsPerReq)} | ${x.rs.map((r) => fmt(r.appCpuUsPerReq)).join(' / ')} | ${fmt(x.genCores, 2)} | ${x.rs.map((r) => fmt(r.otherCores, 2)).join(' / ')} |`);
  }
  o.push('');
  const authUs = (x) => x.appUsPerReq - none.appUsPerReq;
  o.push(`Auth cost per request (app CPU µs per request minus the no-auth app's): @latchkey/express ${fmt(authUs(latchkey))} µs, @clerk/express ${fmt(authUs(clerk))} µs` +
    ` (${(authUs(clerk) / authUs(latchkey)).toFixed(1)}x). App CPU per request, @clerk/express ÷ @latchkey/express: ${(clerk.appUsPerReq / latchkey.appUsPerReq).toFixed(2)}x.`);
  o.push('');
  o.push('Latency is autocannon\'s per-response time at the client (median of the windows\' p50 and p99), all responses 200. App cores come from /proc/<pid>/task/*/stat:');
  o.push('"main" is the event loop; "other threads" are the libuv pool (where @clerk/backend\'s Web Crypto `verify` runs) and V8\'s GC/compiler helpers. CPU per');
  o.push('request (all threads ÷ responses/s) is steadier than req/s on these machines, though the host\'s speed drifts too. "Rest of the machine" is the');
  o.push('busy CPU of every other process during the window (/proc/stat minus the app and this process): load that is not the benchmark\'s. Every window had ' +
    `${VARIANTS.map((v) => `${v.id} ${s[v.id].bad}`).join(', ')} non-2xx/errors/timeouts; fetches made by the apps during the whole run: ${VARIANTS.map((v) => `${v.id} ${fetches[v.id]}`).join(', ')}.`);
  o.push('');
  o.push('Before timing, every app was asked once per token: 200 with that token\'s `sub` as `userId` (the no-auth app: `null`); both auth apps answered 401');
  o.push('`Invalid authentication token` to the first token with its payload\'s `sub` changed (signature kept) and 401 `Authentication required` to no token.');
  o.push('The @clerk/express guard is `getAuth(req).userId ? next() : 401 JSON` (Clerk\'s own `requireAuth` redirects to a sign-in page); Clerk\'s telemetry was off');
  o.push('(`CLERK_TELEMETRY_DISABLED=1`).');

  if (profiles) {
    for (const v of VARIANTS) {
      const p = profiles[v.id];
      o.push('');
      o.push(`## CPU profile: ${v.label}`);
      o.push('');
      o.push(`\`${p.file}\`; busy main-thread time ${fmt(p.busyMs)} ms (whole process life: start-up, checks, warm-ups and windows).`);
      o.push('');
      o.push('| self time by package | ms | % of busy |');
      o.push('|---|---:|---:|');
      for (const x of p.packages) o.push(`| ${x.name} | ${fmt(x.ms)} | ${x.pct.toFixed(1)} |`);
      o.push('');
      o.push('| top self-time functions | ms | % of busy |');
      o.push('|---|---:|---:|');
      for (const f of p.functions) o.push(`| \`${f.name.replace(/\|/g, '\\|')}\` | ${fmt(f.ms)} | ${f.pct.toFixed(1)} |`);
    }
  }
  o.push('');
  return o.join('\n');
}
