import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { DEFAULT_RATE_LIMITS, RateLimits, rateLimitKey } from './rate-limits.js';

/** The error `p` rejects with (a LatchkeyError), failing the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<LatchkeyError> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LatchkeyError);
  return err as LatchkeyError;
}

// rate-limiter-flexible reads Date.now and sets (unref'd) timers: fake both, never sleep.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'], now: 1_700_000_000_000 });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('RateLimits', () => {
  const policies = {
    signInPerIp: { points: 3, durationSec: 60 },
    signInPerIdentifier: { points: 2, durationSec: 60 },
  };

  it('allows `points` calls per window, then throws rate_limited with retry_after_seconds', async () => {
    const limits = new RateLimits(policies);
    expect(await limits.consume('signInPerIp', '203.0.113.7')).toEqual({ remaining: 2, resetInSeconds: 60 });
    vi.advanceTimersByTime(15_000);
    expect(await limits.consume('signInPerIp', '203.0.113.7')).toEqual({ remaining: 1, resetInSeconds: 45 });
    expect((await limits.consume('signInPerIp', '203.0.113.7')).remaining).toBe(0);

    const err = await rejection(limits.consume('signInPerIp', '203.0.113.7'));
    expect(err.kind).toBe('rate_limited');
    expect(err.code).toBe('too_many_requests');
    expect(err.message).toBe('Too many requests');
    expect(err.meta).toEqual({ retry_after_seconds: 45 });
    expect(err.longMessage).toBe('Too many requests; try again in 45 seconds.');

    vi.advanceTimersByTime(44_500);
    const late = await rejection(limits.consume('signInPerIp', '203.0.113.7'));
    expect(late.meta.retry_after_seconds).toBe(1); // 0.5 s, rounded up
    expect(late.longMessage).toBe('Too many requests; try again in 1 second.');

    vi.advanceTimersByTime(500); // the window is over
    expect((await limits.consume('signInPerIp', '203.0.113.7')).remaining).toBe(2);
  });

  it('keeps keys and buckets apart', async () => {
    const limits = new RateLimits(policies);
    await limits.consume('signInPerIdentifier', 'jane@example.com');
    await limits.consume('signInPerIdentifier', 'jane@example.com');
    await rejection(limits.consume('signInPerIdentifier', 'jane@example.com'));
    expect((await limits.consume('signInPerIdentifier', 'john@example.com')).remaining).toBe(1);
    expect((await limits.consume('signInPerIp', 'jane@example.com')).remaining).toBe(2);
    // A second RateLimits has its own counts.
    expect((await new RateLimits(policies).consume('signInPerIdentifier', 'jane@example.com')).remaining).toBe(1);
  });

  it('normalises and hashes identifiers', async () => {
    expect(rateLimitKey('  Jane@Example.COM ')).toBe(createHash('sha256').update('jane@example.com').digest('hex'));
    expect(rateLimitKey('jane@example.com')).not.toContain('jane');
    const limits = new RateLimits(policies);
    await limits.consume('signInPerIdentifier', 'jane@example.com');
    await limits.consume('signInPerIdentifier', ' JANE@example.com');
    const err = await rejection(limits.consume('signInPerIdentifier', 'Jane@Example.com  '));
    expect(err.meta.retry_after_seconds).toBe(60);
  });

  it('reset forgets a key', async () => {
    const limits = new RateLimits(policies);
    await limits.consume('signInPerIdentifier', 'jane@example.com');
    await limits.consume('signInPerIdentifier', 'jane@example.com');
    await rejection(limits.consume('signInPerIdentifier', 'jane@example.com'));
    await limits.reset('signInPerIdentifier', 'Jane@Example.com');
    expect((await limits.consume('signInPerIdentifier', 'jane@example.com')).remaining).toBe(1);
    await limits.reset('signInPerIp', 'never-seen'); // no-op
  });

  it('can take several points at once', async () => {
    const limits = new RateLimits(policies);
    expect((await limits.consume('signInPerIp', 'k', 2)).remaining).toBe(1);
    await rejection(limits.consume('signInPerIp', 'k', 2));
  });

  it('blockDurationSec keeps an offender out for longer than the window', async () => {
    const limits = new RateLimits({ signUpPerIp: { points: 1, durationSec: 60, blockDurationSec: 600 } });
    await limits.consume('signUpPerIp', '198.51.100.1');
    vi.advanceTimersByTime(10_000);
    expect((await rejection(limits.consume('signUpPerIp', '198.51.100.1'))).meta.retry_after_seconds).toBe(600);
    vi.advanceTimersByTime(120_000);
    expect((await rejection(limits.consume('signUpPerIp', '198.51.100.1'))).meta.retry_after_seconds).toBe(480);
    vi.advanceTimersByTime(480_000);
    expect((await limits.consume('signUpPerIp', '198.51.100.1')).remaining).toBe(0);
  });

  it('has defaults for sign-in and sign-up', async () => {
    const limits = new RateLimits(DEFAULT_RATE_LIMITS);
    expect((await limits.consume('signInPerIp', 'ip')).remaining).toBe(29);
    expect((await limits.consume('signInPerIdentifier', 'id')).remaining).toBe(9);
    expect((await limits.consume('signUpPerIp', 'ip')).remaining).toBe(9);
  });

  it('refuses bad policies and unknown buckets', async () => {
    expect(() => new RateLimits({ a: { points: 0, durationSec: 60 } })).toThrow(RangeError);
    expect(() => new RateLimits({ a: { points: 5, durationSec: 0 } })).toThrow(RangeError);
    const limits = new RateLimits(policies);
    await expect(limits.consume('nope' as 'signInPerIp', 'k')).rejects.toThrow('unknown rate limit bucket "nope"');
  });

  it('with PostgreSQL unreachable, each instance falls back to counting in memory: still limited, never all refused', async () => {
    vi.useRealTimers();
    const pool = new pg.Pool({ connectionString: 'postgres://latchkey@127.0.0.1:9/none', connectionTimeoutMillis: 200 });
    try {
      const limits = new RateLimits({ signInPerIp: { points: 2, durationSec: 60 } }, pool);
      expect((await limits.consume('signInPerIp', '203.0.113.1')).remaining).toBe(1);
      expect((await limits.consume('signInPerIp', '203.0.113.1')).remaining).toBe(0);
      expect((await rejection(limits.consume('signInPerIp', '203.0.113.1'))).code).toBe('too_many_requests');
      expect((await limits.consume('signInPerIp', '203.0.113.2')).remaining).toBe(1);
    } finally {
      await pool.end();
    }
  });
});
