// autocannon run that keeps every response's status, latency and finish time, so that
// throughput and percentiles can be given for 2xx responses only (429s are counted apart).
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { cpuDelta, threadCpu } from '../../tokens/lib/server.mjs';

export const pct = (xs, p) => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};

/** The finish time of the last sample, or null. (Not Math.max(...xs): a spread of 100k+ samples overflows the stack.) */
const latest = (samples) => samples.reduce((m, s) => (m === null || s[0] > m ? s[0] : m), null);

/**
 * `bodies` (optional) are cycled, one per request. Or `requests` (optional): a list of
 * `{ method?, path?, headers?, body? }` that each connection cycles through, built once by
 * autocannon (no per-request rebuild, so the load generator spends less CPU than with
 * setupRequest); it replaces `path`/`headers`/`bodies`. A GET carries no body.
 * Returns counts per status class, req/s of 2xx, latency percentiles of the 2xx (and of the
 * 429s), per-thread server CPU, and the raw samples.
 */
export function cannonRun({ url, path = '', headers, bodies, requests, connections, duration, pid, method = 'POST' }) {
  let i = 0;
  const samples = []; // [finishMs (relative to start), status, latencyMs]
  const before = pid ? threadCpu(pid) : null;
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const inst = autocannon({
      url: url + path,
      connections,
      duration,
      requests: requests ?? [{
        method,
        headers,
        ...(bodies ? { setupRequest: (req) => { req.body = bodies[i++ % bodies.length]; return req; } } : method === 'GET' ? {} : { body: '{}' }),
      }],
    }, (err, r) => {
      if (err) return reject(err);
      const elapsed = (performance.now() - t0) / 1000;
      const after = pid ? threadCpu(pid) : null;
      const cpu = pid ? cpuDelta(pid, before, after) : null;
      const ok = samples.filter((s) => s[1] >= 200 && s[1] < 300);
      const limited = samples.filter((s) => s[1] === 429);
      const other = samples.length - ok.length - limited.length;
      resolve({
        connections,
        duration: r.duration,
        t0,
        samples,
        total: samples.length,
        ok: ok.length,
        limited: limited.length,
        otherNon2xx: other,
        errors: r.errors,
        timeouts: r.timeouts,
        okPerSec: ok.length / r.duration,
        okP50: pct(ok.map((s) => s[2]), 50),
        okP99: pct(ok.map((s) => s[2]), 99),
        limitedP99: pct(limited.map((s) => s[2]), 99),
        lastOkAt: latest(ok),
        serverCores: cpu && Object.fromEntries(Object.entries(cpu).map(([k, v]) => [k, v / elapsed])),
      });
    });
    inst.on('response', (_client, status, _bytes, latency) => {
      samples.push([performance.now() - t0, status, latency]);
    });
  });
}
