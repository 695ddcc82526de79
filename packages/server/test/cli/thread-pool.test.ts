import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCliServer } from '../support/cli.js';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';

/**
 * The `latchkey` command sizes libuv's pool (where tokens are signed) before
 * Node first uses it: one thread per core, at least 2, unless the operator set
 * UV_THREADPOOL_SIZE. The pool's size is only observable as threads, so this
 * counts the server's threads in /proc: a server given 3 more pool threads than
 * the default must have exactly 3 more threads. Were the size set too late,
 * the default server would run libuv's own 4 and the difference would not be 3.
 */
const expected = Math.min(Math.max(availableParallelism(), 2), 64);

async function threadsOfServer(env: Record<string, string>): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-pool-'));
  const server = await startCliServer({ ...env, PORT: String(await freePort()), LATCHKEY_DATA_DIR: dataDir });
  try {
    // Node loads the ES modules of the CLI through the pool, so all its threads exist by now.
    return readdirSync(`/proc/${server.pid}/task`).length;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(process.platform !== 'linux')('the thread pool of `latchkey start`', () => {
  it('has one thread per core (at least 2) by default, and the operator’s size when set', async () => {
    const byDefault = await threadsOfServer({});
    const larger = await threadsOfServer({ UV_THREADPOOL_SIZE: String(expected + 3) });
    expect(larger - byDefault).toBe(3);
  }, 60_000);
});
