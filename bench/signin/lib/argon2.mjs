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
