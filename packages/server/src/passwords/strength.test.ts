import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { MAX_SCORED, checkPasswordStrength, preparePasswordStrength } from './strength.js';

const jane = ['jane.doe@example.com', 'Jane', 'Doe', 'jdoe'];

/** The error checkPasswordStrength throws, or undefined if it accepts the password. */
function refusal(password: string, userInputs: string[] = [], minScore?: number): LatchkeyError | undefined {
  try {
    checkPasswordStrength(password, userInputs, minScore);
    return undefined;
  } catch (err) {
    if (err instanceof LatchkeyError) return err;
    throw err;
  }
}

function expectWeak(password: string, userInputs: string[] = []): LatchkeyError {
  const err = refusal(password, userInputs);
  expect(err, `${password} should be refused`).toBeInstanceOf(LatchkeyError);
  expect(err!.kind).toBe('unprocessable');
  expect(err!.code).toBe('form_password_not_strong_enough');
  expect(err!.meta).toEqual({ param_name: 'password' });
  expect(err!.longMessage).toMatch(/^This password is too easy to guess\. \S/);
  return err!;
}

describe('checkPasswordStrength', () => {
  it('refuses common passwords, saying why', () => {
    expect(expectWeak('password').longMessage).toContain('This is a heavily used password.');
    expect(expectWeak('password123').longMessage).toContain('This is a commonly used password.');
    expect(expectWeak('qwertyuiop').longMessage).toContain('This is a frequently used password.');
    expect(expectWeak('iloveyou1').longMessage).toContain('Add more words that are less common.');
  });

  it("refuses the user's own email local part + 123, and names", () => {
    expect(expectWeak('jane.doe123', jane).longMessage).toContain('It contains your name, email address or username.');
    // The local part is also tried with its punctuation removed.
    expect(refusal('janedoe123')).toBeUndefined();
    expectWeak('janedoe123', jane);
    expect(refusal('JaneDoe1985')).toBeUndefined();
    expect(expectWeak('JaneDoe1985', jane).longMessage).toContain('It contains your name, email address or username.');
  });

  it('refuses l33t-speak versions of common passwords (Tr0ub4dor&3-style)', () => {
    for (const p of ['P@ssw0rd1', 'M0nk3y!!', 'Dr4g0n2024', 'Sunsh1ne!', 'L3tm31n!', 'ha11oween!']) {
      expect(expectWeak(p).longMessage).toMatch(/similar to a commonly used password|Avoid predictable letter substitutions/);
    }
    // 'Tr0ub4dor&3' itself scores 4: "troubador" (sic) is in none of the shipped
    // dictionaries, and zxcvbn only finds near-misses with useLevenshteinDistance,
    // which costs ~300 ms a call.
  });

  it('accepts a long passphrase and random passwords', () => {
    expect(refusal('correct horse battery staple violin', jane)).toBeUndefined();
    expect(refusal(randomBytes(15).toString('base64'), jane)).toBeUndefined();
  });

  it('still applies the length rules first', () => {
    const short = refusal('Xq7#vLp');
    expect(short?.code).toBe('form_password_length_too_short');
    expect(short?.meta).toEqual({ param_name: 'password' });
    expect(refusal('aaaaaaa')?.code).toBe('form_password_length_too_short'); // not "too easy to guess"
    const long = refusal('x'.repeat(257));
    expect(long?.code).toBe('form_password_length_too_long');
    expect(long?.meta).toEqual({ param_name: 'password' });
    expect(refusal('correct horse battery staple violin'.padEnd(256, ' and more words'))).toBeUndefined();
  });

  it('takes a minimum score', () => {
    expectWeak('Summer2024!'); // scores 2
    expect(refusal('Summer2024!', [], 2)).toBeUndefined();
    expect(refusal('password', [], 0)).toBeUndefined();
    expect(refusal('correct horse battery staple violin', [], 4)).toBeUndefined();
    expect(() => checkPasswordStrength('correct horse battery staple violin', [], 5)).toThrow(RangeError);
  });

  it('scores only the first 100 characters, so 256-character inputs stay quick', () => {
    preparePasswordStrength();
    // A weak head is weak however strong the tail beyond MAX_SCORED.
    expectWeak('a'.repeat(MAX_SCORED) + randomBytes(60).toString('base64'));
    const slowest = ['random', 'l33t', 'digits'].map((kind) => {
      const p = kind === 'random' ? randomBytes(192).toString('base64')
        : kind === 'l33t' ? 'P@ssw0rd!'.repeat(29).slice(0, 256)
        : '1234567890'.repeat(26).slice(0, 256);
      const start = performance.now();
      refusal(p);
      return performance.now() - start;
    });
    // ~100-250 ms on a busy 2-core machine; unbounded, 256 random characters take seconds.
    expect(Math.max(...slowest)).toBeLessThan(1500);
  });

  it('ignores empty user inputs', () => {
    expect(refusal('correct horse battery staple violin', ['', '  '])).toBeUndefined();
  });
});
