import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, it } from 'vitest';
import { HASHER_NICE, hasherPool } from './hasher-pool.js';
import { ARGON2_PARAMS, hashPassword, verifyPassword } from './passwords.js';

/** Nice values of this process's threads, from /proc (Linux). */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
  });
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

  it.runIf(process.platform === 'linux')('runs on threads at nice 19 while the event loop keeps nice 0', async () => {
    await hashPassword('warm the threads up');
    const nices = threadNices();
    expect(nices.filter((n) => n === HASHER_NICE).length).toBeGreaterThanOrEqual(1);
    expect(readFileSync('/proc/self/stat', 'utf8').slice(readFileSync('/proc/self/stat', 'utf8').lastIndexOf(')') + 2).split(' ')[16]).toBe('0');
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
