import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Hono } from 'hono';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { LatchkeyError } from '../errors/latchkey-error.js';
import { renderError } from '../http/errors.js';
import { HASHER_NICE, HasherBusyError, HasherPool, hasherPool } from './hasher-pool.js';
import { ARGON2_PARAMS, hashPassword, hashersBusy, verifyPassword } from './passwords.js';
import { allowedCpus } from './cpus.js';

/** Nice values of this process's threads, from /proc (Linux). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
}

function mainThreadNice(): number {
  if (process.platform !== 'linux') return 0;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

describe('password hasher threads', () => {
  afterAll(() => hasherPool.stop());

  it('hashes with the configured argon2id parameters, and verifies right and wrong passwords', async () => {
    const digest = await hashPassword('correct horse battery staple');
    expect(digest).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}\\$`));
    expect(await verifyPassword(digest, 'correct horse battery staple')).toBe(true);
    expect(await verifyPassword(digest, 'correct horse battery stapler')).toBe(false);
  });

  it('a digest argon2 cannot read matches nothing (and does not throw)', async () => {
    expect(await verifyPassword('not a digest', 'anything')).toBe(false);
    expect(await verifyPassword('$argon2id$v=19$m=19456,t=2,p=1$bad$bad', 'anything')).toBe(false);
  });

  it('answers every job right when many more than the threads arrive at once', async () => {
    const passwords = Array.from({ length: availableParallelism() * 3 + 2 }, (_, i) => `password number ${i}!`);
    const digests = await Promise.all(passwords.map((p) => hashPassword(p)));
    expect(new Set(digests).size).toBe(passwords.length); // salted: all distinct
    const checks = await Promise.all(digests.flatMap((d, i) => [verifyPassword(d, passwords[i]!), verifyPassword(d, passwords[(i + 1) % passwords.length]!)]));
    expect(checks).toEqual(digests.flatMap(() => [true, false]));
    expect(hasherPool.load).toBe(0);
  });

  // (A suite started at nice 19 already has nothing lower to go to.)
  it.runIf(process.platform === 'linux' && mainThreadNice() < HASHER_NICE)('runs on threads at nice 19, below the event loop', async () => {
    await hashPassword('warm the threads up');
    expect(threadNices().filter((n) => n === HASHER_NICE).length).toBeGreaterThanOrEqual(1);
    expect(mainThreadNice()).toBeLessThan(HASHER_NICE);
  });

  it('stopping fails the jobs in hand, and the next job starts fresh threads', async () => {
    const inHand = Array.from({ length: availableParallelism() * 3 }, (_, i) => hashPassword(`stop test ${i}`).then(() => 'done', (e: Error) => e.message));
    await hasherPool.stop();
    const outcomes = await Promise.all(inHand);
    expect(outcomes.some((o) => o !== 'done')).toBe(true);
    for (const o of outcomes) expect(['done', 'password hasher stopped', expect.stringMatching(/hasher thread exited/)]).toContainEqual(o);
    const digest = await hashPassword('after the stop');
    expect(await verifyPassword(digest, 'after the stop')).toBe(true);
  });
});

/** The CPUs each of this process's threads may run on, by thread id (Linux). */
function threadCpus(): Map<string, number[]> {
  return new Map(readdirSync('/proc/self/task').map((tid) => [tid, allowedCpus(() => readFileSync(`/proc/self/task/${tid}/status`, 'utf8'))]));
}

/** The threads a pool of `size` starts, and the CPUs each may run on once it has hashed. */
async function startedThreads(pool: HasherPool, size: number): Promise<number[][]> {
  const before = new Set(threadCpus().keys());
  // Two jobs per thread: every thread starts, and each has answered (so it has pinned itself) before we look.
  await Promise.all(Array.from({ length: size * 2 }, (_, i) => pool.run({ op: 'hash', password: `pinning ${i}`, options: ARGON2_PARAMS })));
  return [...threadCpus()].filter(([tid]) => !before.has(tid)).map(([, cpus]) => cpus);
}

const cpus = process.platform === 'linux' ? allowedCpus() : [];

describe.runIf(cpus.length > 1 && cpus.length <= 16)('hasher threads and CPUs (Linux)', () => {
  it('one thread per allowed CPU: thread k is pinned to CPU k', async () => {
    const pool = new HasherPool({ size: cpus.length });
    try {
      const started = await startedThreads(pool, cpus.length);
      const pinned = started.filter((c) => c.length === 1).map((c) => c[0]!).sort((a, b) => a - b);
      expect(pinned).toEqual(cpus);
    } finally {
      await pool.stop();
    }
  });

  it('pinning off, or fewer threads than CPUs: the kernel places them on any allowed CPU', async () => {
    for (const pool of [new HasherPool({ size: cpus.length, pin: false }), new HasherPool({ size: cpus.length - 1 })]) {
      try {
        const started = await startedThreads(pool, cpus.length);
        expect(started.length).toBeGreaterThan(0);
        for (const c of started) expect(c).toEqual(cpus);
      } finally {
        await pool.stop();
      }
    }
  });
});

/** Stand-in workers that speak the pool's protocol, for the failure paths. */
const fakeWorker = (body: string) => `
const { parentPort } = require('node:worker_threads');
${body}
parentPort.on('message', (job) => {
  if (job.password === 'crash') process.exit(3);
  const until = Date.now() + (job.password === 'slow' ? 300 : 0);
  while (Date.now() < until) {}
  parentPort.postMessage({ ok: true, value: job.op === 'hash' ? 'digest of ' + job.password : job.password === 'right' });
});`;

describe('hasher pool failure paths', () => {
  it('a thread that dies fails the job it was on; the job waiting in its inbox and the queue go on, on a new thread', async () => {
    const pool = new HasherPool({ size: 1, source: fakeWorker('') });
    try {
      const outcomes = await Promise.all(['first', 'crash', 'after', 'last'].map((password) =>
        pool.run({ op: 'hash', password, options: {} }).then((v) => v, (e: Error) => `failed: ${e.message}`)));
      expect(outcomes).toEqual(['digest of first', 'failed: password hasher thread exited (code 3)', 'digest of after', 'digest of last']);
      expect(pool.threadCount).toBe(1);
      expect(pool.load).toBe(0);
    } finally {
      await pool.stop();
    }
  });

  it('a thread that cannot start fails each job once, and is not restarted in a loop', async () => {
    const pool = new HasherPool({ size: 2, source: "throw new Error('no argon2 here');" });
    try {
      const outcomes = await Promise.all(['a', 'b', 'c'].map((password) =>
        pool.run({ op: 'verify', digest: 'x', password }).then(() => 'ok', () => 'failed')));
      expect(outcomes).toEqual(['failed', 'failed', 'failed']);
      expect(pool.threadCount).toBe(0);
    } finally {
      await pool.stop();
    }
  });

  it('refuses new jobs with HasherBusyError once maxWaiting are queued, and takes them again when the queue drains', async () => {
    const pool = new HasherPool({ size: 1, maxWaiting: 2, source: fakeWorker('') });
    try {
      // One thread holds 2 (running + next), 2 may wait: the fifth is refused at once.
      const held = Array.from({ length: 4 }, () => pool.run({ op: 'verify', digest: 'x', password: 'slow' }));
      await expect(pool.run({ op: 'verify', digest: 'x', password: 'right' })).rejects.toBeInstanceOf(HasherBusyError);
      expect(await Promise.all(held)).toEqual([false, false, false, false]);
      expect(await pool.run({ op: 'verify', digest: 'x', password: 'right' })).toBe(true);
    } finally {
      await pool.stop();
    }
  });

  it('a notice every thread sends (it could not lower its priority, say) is warned once per process', async () => {
    const warn = vi.spyOn(process, 'emitWarning').mockImplementation(() => {});
    const pool = new HasherPool({ size: 2, source: fakeWorker("parentPort.postMessage({ notice: 'hashers test notice' });") });
    try {
      await Promise.all(['slow', 'slow', 'slow'].map((password) => pool.run({ op: 'verify', digest: 'x', password })));
      expect(pool.threadCount).toBe(2);
      expect(warn.mock.calls.filter(([m]) => m === 'hashers test notice')).toHaveLength(1);
    } finally {
      warn.mockRestore();
      await pool.stop();
    }
  });

  it('busy is answered as 503 server_busy with a one-second Retry-After', async () => {
    const app = new Hono();
    app.get('/', () => {
      throw hashersBusy();
    });
    app.onError((err, c) => renderError(c, err as LatchkeyError));
    const res = await app.request('/');
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await res.json()).errors[0]).toMatchObject({ code: 'server_busy', meta: { retry_after_seconds: 1 } });
  });
});
