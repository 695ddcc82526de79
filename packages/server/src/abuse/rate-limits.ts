/**
 * Named rate-limit buckets (fixed windows), e.g. per IP and per identifier for sign-in:
 *
 *   const limits = new RateLimits({
 *     signInPerIp: { points: 30, durationSec: 60 },
 *     signInPerIdentifier: { points: 10, durationSec: 60 },
 *   });
 *   await limits.consume('signInPerIp', clientIp);            // throws when exhausted
 *   await limits.consume('signInPerIdentifier', identifier);
 *   await limits.reset('signInPerIdentifier', identifier);    // e.g. after a successful sign-in
 *
 * An exhausted bucket throws LatchkeyError('rate_limited', 'too_many_requests', …,
 * { retry_after_seconds: N }): a 429, for which the HTTP layer should send
 * `Retry-After: N`. Each call takes one point (or `points`); a key gets `points`
 * per `durationSec` window, counted from its first use, and one refused call does
 * not extend the window unless `blockDurationSec` is set.
 *
 * Keys are normalised (trimmed, lowercased) and hashed with SHA-256 before use, so
 * raw emails and phone numbers are not kept in memory; the same identifier spelt
 * with different case or spaces shares one bucket.
 *
 * Storage: on SQLite (one process) rate-limiter-flexible's RateLimiterMemory;
 * on PostgreSQL, RateLimiterPostgres on the `rate_limits` table, so every
 * instance counts in the same buckets (a client spreading its attempts over
 * instances gains nothing). Should the database not answer, each instance
 * falls back to counting in its own memory rather than letting requests through
 * or refusing them all.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { z } from 'zod';
import { LatchkeyError } from '../errors/latchkey-error.js';

export interface BucketPolicy {
  /** Calls allowed per window. */
  points: number;
  /** Window length. */
  durationSec: number;
  /** If set, a key that goes over the limit is refused for this long, counted from then. */
  blockDurationSec?: number;
}

export interface RateLimitStatus {
  /** Points left in the current window. */
  remaining: number;
  /** Seconds until the window ends and the points come back. */
  resetInSeconds: number;
}

/** The Frontend API's buckets; LATCHKEY_RATE_LIMITS overrides any of them. */
export const DEFAULT_RATE_LIMITS = {
  signInPerIp: { points: 30, durationSec: 60 },
  signInPerIdentifier: { points: 10, durationSec: 60 },
  signUpPerIp: { points: 10, durationSec: 60 },
  // Email codes. The key is the address a code verifies, or the identifier it signs in
  // or resets with, as typed (so known and unknown identifiers count alike).
  // A wrong code costs only a new code: a 6-digit code is safe only if the guesses
  // at one address are counted across all of its codes. After 10 in an hour, any
  // code is refused, a new one and the right one too.
  codeAttemptsPerIdentifier: { points: 10, durationSec: 3600 },
  // Whoever types an address decides where codes go: bound the mail one address gets.
  codesSentPerIdentifier: { points: 10, durationSec: 3600 },
  // The 30 s resend cool-down of sign-in and reset codes.
  codeCooldownPerIdentifier: { points: 1, durationSec: 30 },
  // Guesses at the current password through a signed-in session (change_password).
  passwordChecksPerUser: { points: 10, durationSec: 600 },
} as const satisfies Record<string, BucketPolicy>;

export type FrontendBucket = keyof typeof DEFAULT_RATE_LIMITS;
export type FrontendRateLimits = RateLimits<FrontendBucket>;

const bucketSchema = z.strictObject({
  points: z.number().int().min(1).max(1_000_000),
  durationSec: z.number().int().min(1).max(86_400),
  blockDurationSec: z.number().int().min(0).max(86_400).optional(),
});
/** LATCHKEY_RATE_LIMITS: a JSON object of the buckets to change, e.g. {"signInPerIp":{"points":100,"durationSec":60}}. */
export const rateLimitsOverrideSchema = z.strictObject(
  Object.fromEntries(Object.keys(DEFAULT_RATE_LIMITS).map((bucket) => [bucket, bucketSchema.optional()])) as
    Record<FrontendBucket, z.ZodOptional<typeof bucketSchema>>,
);
export type RateLimitsOverride = z.infer<typeof rateLimitsOverrideSchema>;

/** The key a raw IP or identifier is stored under: sha256 of the trimmed, lowercased value (hex). */
export function rateLimitKey(raw: string): string {
  return createHash('sha256').update(raw.trim().toLowerCase()).digest('hex');
}

export class RateLimits<B extends string = string> {
  private readonly limiters = new Map<B, RateLimiterAbstract>();

  /** With `pgPool`, the counts live in PostgreSQL's `rate_limits` table (migration 008), shared by every instance. */
  constructor(policies: Readonly<Record<B, BucketPolicy>>, pgPool?: pg.Pool) {
    for (const [bucket, p] of Object.entries(policies) as [B, BucketPolicy][]) {
      if (!Number.isInteger(p.points) || p.points < 1) throw new RangeError(`rate limit ${bucket}: points must be a whole number, 1 or more`);
      if (!Number.isInteger(p.durationSec) || p.durationSec < 1) throw new RangeError(`rate limit ${bucket}: durationSec must be a whole number, 1 or more`);
      const opts = { keyPrefix: bucket, points: p.points, duration: p.durationSec, blockDuration: p.blockDurationSec ?? 0 };
      this.limiters.set(bucket, pgPool
        ? new RateLimiterPostgres({
          ...opts, storeClient: pgPool, storeType: 'pool', tableName: 'rate_limits', tableCreated: true,
          insuranceLimiter: new RateLimiterMemory(opts),
        })
        : new RateLimiterMemory(opts));
    }
  }

  /** Takes `points` from `key`'s bucket, or throws a rate_limited LatchkeyError if too few are left. */
  async consume(bucket: B, key: string, points = 1): Promise<RateLimitStatus> {
    try {
      const res = await this.limiter(bucket).consume(rateLimitKey(key), points);
      return { remaining: res.remainingPoints, resetInSeconds: seconds(res.msBeforeNext) };
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      const retry = seconds(err.msBeforeNext);
      throw new LatchkeyError('rate_limited', 'too_many_requests', 'Too many requests',
        `Too many requests; try again in ${retry} ${retry === 1 ? 'second' : 'seconds'}.`, { retry_after_seconds: retry });
    }
  }

  /** Forgets `key`'s count in `bucket`, e.g. the identifier's after a successful sign-in. */
  async reset(bucket: B, key: string): Promise<void> {
    await this.limiter(bucket).delete(rateLimitKey(key));
  }

  private limiter(bucket: B): RateLimiterAbstract {
    const limiter = this.limiters.get(bucket);
    if (!limiter) throw new Error(`unknown rate limit bucket "${bucket}"`);
    return limiter;
  }
}

/** Whole seconds, rounded up and at least 1 (Retry-After: 0 would invite an immediate retry). */
const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
