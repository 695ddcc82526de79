// Part B: token minting over HTTP (autocannon) vs the raw RS256 signing rate of this machine.
import { spawn } from 'node:child_process';
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { median } from './median.mjs';
import { cpuDelta, freePort, threadCpu } from './server.mjs';


/** Synchronous RS256 signing, one thread, cached private KeyObject, for `ms`. */
export function signWindow(privateKey, inputs, ms) {
  const n = inputs.length;
  let i = 0; let ops = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  while (performance.now() < end) {
    for (let k = 0; k < 4; k++) {
      cryptoSign('sha256', inputs[i], privateKey);
      i = i + 1 === n ? 0 : i + 1;
      ops++;
    }
  }
  return (ops / (performance.now() - t0)) * 1000;
}

export function signingKey() {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 }).privateKey;
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon(opts, (err, result) => (err ? reject(err) : resolve(result)));
  });
}

/**
 * One autocannon run against POST /v1/sessions/{sid}/tokens, cycling the sessions. The requests are
 * built once (a list autocannon cycles through), not per request with setupRequest: the load
 * generator shares the server's cores, and rebuilding costs it about 40% more CPU per request.
 */
async function mintRun(server, sessions, connections, duration) {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${server.secretKey}` };
  const before = threadCpu(server.pid);
  const selfCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await cannon({
    url: server.base,
    connections,
    duration,
    requests: sessions.map((sid) => ({ method: 'POST', path: `/v1/sessions/${sid}/tokens`, headers, body: '{}' })),
  });
  const elapsed = (performance.now() - t0) / 1000;
  const after = threadCpu(server.pid);
  const self = process.cpuUsage(selfCpu0);
  const serverCpu = cpuDelta(server.pid, before, after);
  const ok = r['2xx'];
  return {
    connections,
    duration: r.duration,
    reqPerSec: ok / r.duration,
    total: r.requests.total,
    ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    p50: r.latency.p50,
    p99: r.latency.p99,
    serverCores: serverCpu && Object.fromEntries(Object.entries(serverCpu).map(([k, v]) => [k, v / elapsed])),
    clientCores: (self.user + self.system) / 1e6 / elapsed,
  };
}

/**
 * Starts lib/floor-minter.cjs (the floor: bare node:http signing the same way) on a free port.
 * It has the same `base`, `pid` and `stop()` as a Latchkey server, so mintRun drives either.
 */
export async function startFloorMinter() {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./floor-minter.cjs', import.meta.url))], {
    env: { ...process.env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exit = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((resolve, reject) => {
    child.stdout.once('data', resolve);
    child.once('exit', (code) => reject(new Error(`floor-minter.cjs exited during start-up (${code})`)));
  });
  return {
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    secretKey: 'sk_test_floor',
    async stop() {
      child.kill('SIGTERM');
      await exit;
    },
  };
}

/**
 * `rounds` rounds of autocannon runs, one per connection count and target (Latchkey, then the
 * floor when one is given; the order alternates between rounds), with a raw signing window
 * before the first run and after every run (sign, Latchkey c10, sign, floor c10, sign, …). Each
 * run is judged against the mean of the two windows around it, so both sides of its ratio come
 * from the same minute of this shared machine; the verdict takes the median of the rounds'
 * ratios, so one slow window on either side does not decide it.
 */
export async function runPartB(server, sessions, signingInputs, {
  floor, connections = [10, 50], rounds = 3, duration = 8, warmup = 2, signMs = 1000, cores = availableParallelism(), log = () => {},
} = {}) {
  const key = signingKey();
  const inputs = signingInputs.map((s) => Buffer.from(s));
  const targets = [['latchkey', server], ...(floor ? [['floor', floor]] : [])];
  signWindow(key, inputs, 300); // warm-up
  if (warmup > 0) for (const [, t] of targets) await mintRun(t, sessions, connections[0], warmup);
  const signRates = [];
  const runs = [];
  const sign = () => {
    const r = signWindow(key, inputs, signMs);
    signRates.push(r);
    return r;
  };
  let before = sign();
  log(`  B raw RS256 sign window: ${Math.round(before).toLocaleString('en-US')} signs/s`);
  for (let round = 1; round <= rounds; round++) {
    for (const c of connections) {
      for (const [name, target] of round % 2 ? targets : [...targets].reverse()) {
        const r = await mintRun(target, sessions, c, duration);
        const sc = r.serverCores;
        log(`  B round ${round} ${name} c=${c}: ${Math.round(r.reqPerSec).toLocaleString('en-US')} req/s, p99 ${r.p99} ms, non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}` +
          (sc ? `; server cores main thread ${sc.main.toFixed(2)} other threads ${sc.other.toFixed(2)}` : '') +
          `; autocannon ${r.clientCores.toFixed(2)} cores`);
        const after = sign();
        Object.assign(r, { target: name, round, signRate: (before + after) / 2 });
        r.ratio = r.reqPerSec / (r.signRate * cores);
        before = after;
        runs.push(r);
        log(`  B raw RS256 sign window: ${Math.round(after).toLocaleString('en-US')} signs/s; the run's ratio ${r.ratio.toFixed(2)}`);
      }
    }
  }
  const summary = (name) => connections.map((c) => {
    const rs = runs.filter((r) => r.target === name && r.connections === c);
    return { connections: c, ratios: rs.map((r) => r.ratio), ratio: median(rs.map((r) => r.ratio)), clean: rs.every((r) => r.non2xx === 0 && r.errors === 0 && r.timeouts === 0) };
  });
  return {
    signRate: median(signRates),
    signRates,
    inputBytes: Math.round(inputs.reduce((a, b) => a + b.length, 0) / inputs.length),
    runs,
    byConnections: summary('latchkey'),
    floor: floor ? summary('floor') : undefined,
  };
}
