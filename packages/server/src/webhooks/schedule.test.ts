import { describe, expect, it } from 'vitest';
import { DISABLE_AFTER_FAILING_MS, JITTER, MAX_ATTEMPTS, RETRY_DELAYS_MS, retryDelay } from './schedule.js';

// The documented schedule (Svix's), written out independently of RETRY_DELAYS_MS:
// the delay after the nth failed attempt.
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DOCUMENTED = [0, 5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

describe('retry schedule', () => {
  it('allows nine attempts: the first, then one per documented delay', () => {
    expect(RETRY_DELAYS_MS).toEqual(DOCUMENTED);
    expect(MAX_ATTEMPTS).toBe(9);
    expect(JITTER).toBe(0.1);
  });

  it('waits exactly the documented delay when the jitter draws 0', () => {
    DOCUMENTED.forEach((delay, i) => expect(retryDelay(i + 1, () => 0), `after attempt ${i + 1}`).toBe(delay));
  });

  it('adds at most 10% when the jitter draws its maximum (0.999…)', () => {
    DOCUMENTED.forEach((delay, i) => {
      const d = retryDelay(i + 1, () => 0.999)!;
      expect(d, `after attempt ${i + 1}`).toBe(Math.round(delay * 1.0999));
      expect(d).toBeGreaterThanOrEqual(delay);
      expect(d).toBeLessThanOrEqual(delay * 1.1);
    });
  });

  it('never retries earlier than documented, nor more than 10% later, with real randomness', () => {
    for (let round = 0; round < 50; round++) {
      DOCUMENTED.forEach((delay, i) => {
        const d = retryDelay(i + 1)!;
        expect(d).toBeGreaterThanOrEqual(delay);
        expect(d).toBeLessThanOrEqual(Math.round(delay * 1.1));
      });
    }
  });

  it('has no retry left after the last attempt', () => {
    expect(retryDelay(MAX_ATTEMPTS, () => 0)).toBeNull();
    expect(retryDelay(MAX_ATTEMPTS + 1, () => 0)).toBeNull();
    // Attempt 8 is the last with a retry after it, so the ninth is the last attempt.
    expect(retryDelay(MAX_ATTEMPTS - 1, () => 0)).toBe(10 * HOUR);
  });

  it('has no delay before any attempt was made', () => {
    expect(retryDelay(0, () => 0)).toBeNull();
  });

  it('disables an endpoint after five days of failures', () => {
    expect(DISABLE_AFTER_FAILING_MS).toBe(5 * 24 * HOUR);
  });
});
