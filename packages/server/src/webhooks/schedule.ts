/**
 * When a failed message is tried again: Svix's schedule. The first attempt goes
 * at once; after it fails, the retries follow these delays, each counted from
 * the failure before it. After the last one the message has failed.
 */
export const RETRY_DELAYS_MS = [
  0, // at once
  5_000,
  5 * 60_000,
  30 * 60_000,
  2 * 3_600_000,
  5 * 3_600_000,
  10 * 3_600_000,
  10 * 3_600_000,
] as const;

export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;

/** Up to this fraction is added to each delay, so endpoints that failed together do not retry together. */
export const JITTER = 0.1;

/**
 * The delay before the next attempt once `attemptsMade` attempts have failed,
 * or null when none is left. Jitter only ever adds: no retry comes earlier
 * than the documented delay.
 */
export function retryDelay(attemptsMade: number, random: () => number = Math.random): number | null {
  const base = RETRY_DELAYS_MS[attemptsMade - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 + JITTER * random()));
}

/** An endpoint whose attempts have all failed for this long is disabled. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3_600_000;
