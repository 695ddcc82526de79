// The argon2id bound: verify rate of @node-rs/argon2 (async, its own threads) with the server's
// own parameters (ARGON2_PARAMS from the built server), N calls kept in flight for a window.
import { performance } from 'node:perf_hooks';
import { hash, verify } from '@node-rs/argon2';

export async function argon2Fixture(params, password) {
  return { digest: await hash(password, params), password };
}

/** Verifies (all succeeding) with `inflight` calls kept in flight for `ms`; ops/s. */
export async function argon2Window({ digest, password }, inflight, ms) {
  let ops = 0; let fails = 0;
  const t0 = performance.now();
  const end = t0 + ms;
  const worker = async () => {
    while (performance.now() < end) {
      if (await verify(digest, password)) ops++; else fails++;
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  const elapsed = performance.now() - t0;
  if (fails) throw new Error(`argon2 verify failed ${fails} times`);
  return (ops / elapsed) * 1000;
}

/**
 * Latency of callback-form RS256 `crypto.sign` (how the server mints tokens; it runs on the libuv
 * pool) one call at a time for `ms`, while `argonInflight` argon2 verifies are kept in flight in
 * this same process. Shows whether the two share a thread pool. Returns { n, p50, p99 } in ms.
 */
export async function signLatencyBesideArgon(fx, argonInflight, ms) {
  const { generateKeyPairSync, sign } = await import('node:crypto');
  const key = (signLatencyBesideArgon.key ??= generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
  const input = Buffer.alloc(410, 97);
  const end = performance.now() + ms;
  let stop = false;
  const argonWorker = async () => { while (!stop) await verify(fx.digest, fx.password); };
  const argons = Array.from({ length: argonInflight }, argonWorker);
  const lat = [];
  while (performance.now() < end) {
    const t = performance.now();
    await new Promise((res, rej) => sign('sha256', input, key, (e) => (e ? rej(e) : res())));
    lat.push(performance.now() - t);
  }
  stop = true;
  await Promise.all(argons);
  lat.sort((a, b) => a - b);
  const q = (p) => lat[Math.min(lat.length - 1, Math.ceil(p * lat.length) - 1)];
  return { n: lat.length, p50: q(0.5), p99: q(0.99) };
}
