/**
 * Account lockout after repeated failed password attempts: pure functions over a
 * small state the caller stores on the user row, with the time passed in (clock.now()).
 *
 *   if (isLocked(state, now)) refuse, whatever the password (lockoutExpiresInSeconds(state, now) says how long);
 *   state = passwordOk ? registerSuccess() : registerFailure(state, now, policy);
 *
 * After `maxAttempts` consecutive failures the account is locked for `lockoutMinutes`
 * (defaults: 10 attempts, 60 minutes). A success resets the count. While locked,
 * further failures change nothing (the lock is not extended); once it has expired
 * the count starts again from zero. In the user JSON, `locked` is isLocked(...) (or
 * the manual lock) and `lockout_expires_in_seconds` is lockoutExpiresInSeconds(...).
 */

export interface LockoutPolicy {
  /** Consecutive failures that lock the account. */
  maxAttempts: number;
  /** How long the lock lasts. */
  lockoutMinutes: number;
}

export interface LockoutState {
  failed_attempts: number;
  /** Epoch milliseconds; null when not locked. */
  locked_until: number | null;
}

export const DEFAULT_LOCKOUT_POLICY: Readonly<LockoutPolicy> = Object.freeze({ maxAttempts: 10, lockoutMinutes: 60 });

/** The state of an account with no failures. */
export function registerSuccess(): LockoutState {
  return { failed_attempts: 0, locked_until: null };
}

export function isLocked(state: LockoutState, now: number): boolean {
  return state.locked_until !== null && now < state.locked_until;
}

/** Whole seconds until the lock ends (rounded up), or null when not locked. */
export function lockoutExpiresInSeconds(state: LockoutState, now: number): number | null {
  return isLocked(state, now) ? Math.ceil((state.locked_until! - now) / 1000) : null;
}

/** The state after one more failed attempt; it locks when the count reaches maxAttempts. */
export function registerFailure(state: LockoutState, now: number, policy: LockoutPolicy = DEFAULT_LOCKOUT_POLICY): LockoutState {
  checkPolicy(policy);
  if (isLocked(state, now)) return { ...state };
  // A lock that has run out leaves a clean slate.
  const failed = (state.locked_until === null ? state.failed_attempts : 0) + 1;
  if (failed >= policy.maxAttempts) {
    return { failed_attempts: failed, locked_until: now + policy.lockoutMinutes * 60_000 };
  }
  return { failed_attempts: failed, locked_until: null };
}

function checkPolicy(p: LockoutPolicy): void {
  if (!Number.isInteger(p.maxAttempts) || p.maxAttempts < 1) throw new RangeError('lockout maxAttempts must be a whole number, 1 or more');
  if (!Number.isFinite(p.lockoutMinutes) || p.lockoutMinutes <= 0) throw new RangeError('lockout lockoutMinutes must be more than 0');
}
