import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertBuilt, cleanEnv, CLI, ROOT } from '../support/cli.js';
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
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'start'], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env, PORT: String(port), HOST: '127.0.0.1', LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'silent' },
    stdio: 'ignore',
  });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`the server exited with ${child.exitCode}`);
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // Node loads the ES modules of the CLI through the pool, so all its threads exist by now.
    return readdirSync(`/proc/${child.pid}/task`).length;
  } finally {
    child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe.skipIf(process.platform !== 'linux')('the thread pool of `latchkey start`', () => {
  it('has one thread per core (at least 2) by default, and the operator’s size when set', async () => {
    assertBuilt();
    const byDefault = await threadsOfServer({});
    const larger = await threadsOfServer({ UV_THREADPOOL_SIZE: String(expected + 3) });
    expect(larger - byDefault).toBe(3);
  }, 60_000);
});
