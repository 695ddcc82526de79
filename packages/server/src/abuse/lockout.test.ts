import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/clock.js';
import {
  DEFAULT_LOCKOUT_POLICY, isLocked, lockoutExpiresInSeconds, registerFailure, registerSuccess,
  type LockoutPolicy, type LockoutState,
} from './lockout.js';

const MIN = 60_000;

/** A sign-in as the integration would do it: refuse while locked, whatever the password. */
function signIn(state: LockoutState, now: number, passwordOk: boolean, policy?: LockoutPolicy) {
  if (isLocked(state, now)) return { outcome: 'locked' as const, state };
  return passwordOk
    ? { outcome: 'ok' as const, state: registerSuccess() }
    : { outcome: 'wrong' as const, state: registerFailure(state, now, policy) };
}

describe('lockout', () => {
  it('defaults to 10 attempts and 60 minutes', () => {
    expect(DEFAULT_LOCKOUT_POLICY).toEqual({ maxAttempts: 10, lockoutMinutes: 60 });
    expect(registerSuccess()).toEqual({ failed_attempts: 0, locked_until: null });
  });

  it('locks after N failures, refuses the right password while locked, and allows it after M minutes', () => {
    const clock = new ManualClock(1_700_000_000_000);
    let state = registerSuccess();
    for (let i = 1; i < 10; i++) {
      state = signIn(state, clock.now(), false).state;
      expect(state).toEqual({ failed_attempts: i, locked_until: null });
      expect(isLocked(state, clock.now())).toBe(false);
      expect(lockoutExpiresInSeconds(state, clock.now())).toBeNull();
      clock.advance(1_000);
    }
    state = signIn(state, clock.now(), false).state; // the 10th
    expect(state).toEqual({ failed_attempts: 10, locked_until: clock.now() + 60 * MIN });
    expect(isLocked(state, clock.now())).toBe(true);
    expect(lockoutExpiresInSeconds(state, clock.now())).toBe(3600);

    clock.advance(30 * MIN);
    expect(signIn(state, clock.now(), true)).toEqual({ outcome: 'locked', state });
    expect(lockoutExpiresInSeconds(state, clock.now())).toBe(1800);

    clock.advance(30 * MIN - 1);
    expect(signIn(state, clock.now(), true).outcome).toBe('locked');
    expect(lockoutExpiresInSeconds(state, clock.now())).toBe(1); // rounded up

    clock.advance(1);
    expect(isLocked(state, clock.now())).toBe(false);
    expect(lockoutExpiresInSeconds(state, clock.now())).toBeNull();
    expect(signIn(state, clock.now(), true)).toEqual({ outcome: 'ok', state: { failed_attempts: 0, locked_until: null } });
  });

  it('a success resets the count', () => {
    let state = registerSuccess();
    for (let i = 0; i < 9; i++) state = registerFailure(state, 0);
    expect(state.failed_attempts).toBe(9);
    state = signIn(state, 0, true).state;
    expect(state).toEqual(registerSuccess());
    state = registerFailure(state, 0);
    expect(state).toEqual({ failed_attempts: 1, locked_until: null });
  });

  it('failures while locked change nothing; after the lock, counting starts again', () => {
    const policy = { maxAttempts: 3, lockoutMinutes: 5 };
    let state = registerSuccess();
    for (let i = 0; i < 3; i++) state = registerFailure(state, 0, policy);
    expect(state).toEqual({ failed_attempts: 3, locked_until: 5 * MIN });
    expect(registerFailure(state, 4 * MIN, policy)).toEqual(state); // not extended
    state = registerFailure(state, 5 * MIN, policy);
    expect(state).toEqual({ failed_attempts: 1, locked_until: null });
    expect(isLocked(state, 5 * MIN)).toBe(false);
    state = registerFailure(registerFailure(state, 6 * MIN, policy), 6 * MIN, policy);
    expect(state).toEqual({ failed_attempts: 3, locked_until: 11 * MIN });
  });

  it('honours a custom policy and does not mutate its input', () => {
    const policy = { maxAttempts: 1, lockoutMinutes: 0.5 };
    const before = Object.freeze(registerSuccess());
    const after = registerFailure(before, 1000, policy);
    expect(before).toEqual({ failed_attempts: 0, locked_until: null });
    expect(after).toEqual({ failed_attempts: 1, locked_until: 31_000 });
    expect(lockoutExpiresInSeconds(after, 1000)).toBe(30);
  });

  it('refuses nonsensical policies', () => {
    expect(() => registerFailure(registerSuccess(), 0, { maxAttempts: 0, lockoutMinutes: 60 })).toThrow(RangeError);
    expect(() => registerFailure(registerSuccess(), 0, { maxAttempts: 2.5, lockoutMinutes: 60 })).toThrow(RangeError);
    expect(() => registerFailure(registerSuccess(), 0, { maxAttempts: 10, lockoutMinutes: 0 })).toThrow(RangeError);
  });
});
