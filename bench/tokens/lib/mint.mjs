// Part B: token minting over HTTP (autocannon) vs the raw RS256 signing rate of this machine.
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { cpuDelta, threadCpu } from './server.mjs';

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

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

/** One autocannon run against POST /v1/sessions/{sid}/tokens, cycling the sessions. */
async function mintRun(server, sessions, connections, duration) {
  let i = 0;
  const paths = sessions.map((sid) => `/v1/sessions/${sid}/tokens`);
  const before = threadCpu(server.pid);
  const selfCpu0 = process.cpuUsage();
  const t0 = performance.now();
  const r = await cannon({
    url: server.base,
    connections,
    duration,
    requests: [{
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${server.secretKey}` },
      body: '{}',
      setupRequest: (req) => { req.path = paths[i++ % paths.length]; return req; },
    }],
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
 * Interleaves raw signing windows with the autocannon runs (sign, c10, sign, c50, sign) so the
 * signing rate is measured under the same machine conditions as the HTTP figures.
 */
export async function runPartB(server, sessions, signingInputs, {
  connections = [10, 50], duration = 10, warmup = 2, signMs = 1000, log = () => {},
} = {}) {
  const key = signingKey();
  const inputs = signingInputs.map((s) => Buffer.from(s));
  signWindow(key, inputs, 300); // warm-up
  if (warmup > 0) await mintRun(server, sessions, connections[0], warmup);
  const signRates = [];
  const runs = [];
  const sign = () => {
    const r = signWindow(key, inputs, signMs);
    signRates.push(r);
    log(`  B raw RS256 sign window: ${Math.round(r).toLocaleString('en-US')} signs/s`);
  };
  sign();
  for (const c of connections) {
    const r = await mintRun(server, sessions, c, duration);
    runs.push(r);
    const sc = r.serverCores;
    log(`  B mint c=${c}: ${Math.round(r.reqPerSec).toLocaleString('en-US')} req/s, p99 ${r.p99} ms, non2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts}` +
      (sc ? `; server cores main thread ${sc.main.toFixed(2)} other threads ${sc.other.toFixed(2)}` : '') +
      `; autocannon ${r.clientCores.toFixed(2)} cores`);
    sign();
  }
  return {
    signRate: median(signRates),
    signRates,
    inputBytes: Math.round(inputs.reduce((a, b) => a + b.length, 0) / inputs.length),
    runs,
  };
}
