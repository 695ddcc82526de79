// Part A: verification ops/s in one process, on the same tokens, windows interleaved.
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { verifyToken as clerkVerify } from '@clerk/backend';
import { median } from './median.mjs';
import { ROOT } from './server.mjs';

const { verifyToken: lkVerify } = await import(`${ROOT}packages/backend/dist/index.js`);


/** The verifiers: each takes a prepared token and resolves truthy when it is valid. */
export function verifiers({ pem, jwks }) {
  const key = createPublicKey(pem); // cached KeyObject, as a hot path would hold it
  const pemOpts = { jwtKey: pem };
  const jwksOpts = { keys: jwks }; // the same object on every call, as an app would pass it
  const clerkOpts = { jwtKey: pem };
  return [
    { id: 'raw', label: 'node:crypto RS256 verify (cached KeyObject, pre-split token)', fn: (t) => cryptoVerify('sha256', t.input, key, t.sig) },
    { id: 'lk-pem', label: '@latchkey/backend verifyToken { jwtKey: pem }', fn: (t) => lkVerify(t.jwt, pemOpts) },
    { id: 'lk-jwks', label: '@latchkey/backend verifyToken { keys: jwks }', fn: (t) => lkVerify(t.jwt, jwksOpts) },
    { id: 'clerk', label: '@clerk/backend verifyToken { jwtKey: pem }', fn: (t) => clerkVerify(t.jwt, clerkOpts) },
  ];
}

export function prepare(tokens) {
  return tokens.map((jwt) => {
    const dot = jwt.lastIndexOf('.');
    return { jwt, input: Buffer.from(jwt.slice(0, dot)), sig: Buffer.from(jwt.slice(dot + 1), 'base64url') };
  });
}

/** Every verifier must accept every token and refuse a tampered one, or the figures mean nothing. */
export async function checkVerifiers(vs, prepared) {
  for (const v of vs) {
    for (const t of prepared) {
      let ok;
      try { ok = await v.fn(t); } catch (err) { throw new Error(`${v.id} refused a valid token: ${err.message}`); }
      if (!ok) throw new Error(`${v.id} refused a valid token`);
    }
    const t = prepared[0];
    const payload = JSON.parse(Buffer.from(t.jwt.split('.')[1], 'base64url'));
    const forgedPayload = Buffer.from(JSON.stringify({ ...payload, sub: 'user_forged' })).toString('base64url');
    const [h, , s] = t.jwt.split('.');
    const forged = `${h}.${forgedPayload}.${s}`;
    let accepted;
    try { accepted = await v.fn(prepare([forged])[0]); } catch { accepted = false; }
    if (accepted) throw new Error(`${v.id} accepted a forged token`);
  }
}

/** One timed window: `inflight` loops each awaiting one call at a time. */
async function window(fn, prepared, ms, inflight) {
  const n = prepared.length;
  let i = 0; let ops = 0; let fails = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + ms;
  const loop = async () => {
    while (performance.now() < end) {
      for (let k = 0; k < 8; k++) {
        const t = prepared[i]; i = i + 1 === n ? 0 : i + 1;
        try { if (!(await fn(t))) fails++; } catch { fails++; }
        ops++;
      }
    }
  };
  await Promise.all(Array.from({ length: inflight }, loop));
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { opsPerSec: (ops / elapsed) * 1000, fails, cores: (cpu.user + cpu.system) / 1000 / elapsed };
}

/**
 * For each mode (in-flight count), warms every verifier, then runs `windows` rounds; in each
 * round every verifier gets one window, so drift on a noisy machine hits all of them alike.
 */
export async function runPartA(vs, prepared, { modes = [1, 16], windows = 3, windowMs = 2000, warmupMs = 1000, log = () => {} } = {}) {
  const results = {};
  for (const inflight of modes) {
    for (const v of vs) await window(v.fn, prepared, warmupMs, inflight);
    const per = Object.fromEntries(vs.map((v) => [v.id, []]));
    for (let w = 0; w < windows; w++) {
      // rotate the order each round so no verifier always follows the same one
      const order = vs.map((_, k) => vs[(k + w) % vs.length]);
      for (const v of order) {
        const r = await window(v.fn, prepared, windowMs, inflight);
        per[v.id].push(r);
        log(`  A in-flight=${inflight} window ${w + 1}/${windows} ${v.id.padEnd(8)} ${Math.round(r.opsPerSec).toLocaleString('en-US').padStart(7)} ops/s  ${r.cores.toFixed(2)} cores${r.fails ? `  FAILS=${r.fails}` : ''}`);
      }
    }
    results[inflight] = Object.fromEntries(vs.map((v) => {
      const ws = per[v.id];
      return [v.id, {
        label: v.label,
        opsPerSec: median(ws.map((r) => r.opsPerSec)),
        windows: ws.map((r) => r.opsPerSec),
        cores: median(ws.map((r) => r.cores)),
        fails: ws.reduce((a, r) => a + r.fails, 0),
      }];
    }));
  }
  return results;
}
