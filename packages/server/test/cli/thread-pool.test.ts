import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCliServer } from '../support/cli.js';
import { describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';

/**
 * The `latchkey` command sizes libuv's pool (where tokens are signed) before
 * Node first uses it: one thread per core, at least 2, unless the operator set
 * UV_THREADPOOL_SIZE. The pool's size is only observable as threads, so this
 * counts the server's threads in /proc. Both servers run on one CPU
 * (`taskset -c 0`), where the command must choose 2 threads, not libuv's own 4:
 * a server given 5 must then have exactly 3 threads more. Were the size set
 * too late, or not at all, the difference would be 1.
 */
const hasTaskset = (() => {
  try {
    execFileSync('taskset', ['-c', '0', 'true']);
    return true;
  } catch {
    return false;
  }
})();

async function threadsOfServer(env: Record<string, string>): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-pool-'));
  const server = await startCliServer({ ...env, PORT: String(await freePort()), LATCHKEY_DATA_DIR: dataDir }, ['taskset', '-c', '0']);
  try {
    // Node loads the ES modules of the CLI through the pool, so all its threads exist by now.
    return readdirSync(`/proc/${server.pid}/task`).length;
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(process.platform !== 'linux' || !hasTaskset)('the thread pool of `latchkey start`', () => {
  it('has 2 threads on one core by default, and the operator’s size when set', async () => {
    const byDefault = await threadsOfServer({});
    const five = await threadsOfServer({ UV_THREADPOOL_SIZE: '5' });
    expect(five - byDefault).toBe(3);
  }, 60_000);
});
