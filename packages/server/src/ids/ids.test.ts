import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { base62, newId, newJti, randomToken, type IdPrefix } from './ids.js';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The seconds encoded in an id's first 4 bytes (base62 → 20 bytes, big-endian). */
function secondsOf(id: string): number {
  const body = id.slice(id.indexOf('_') + 1);
  let n = 0n;
  for (const ch of body) n = n * 62n + BigInt(ALPHABET.indexOf(ch));
  return Number(n >> 128n);
}

describe('newId', () => {
  it('is the prefix, "_" and exactly 27 base62 characters', () => {
    const prefixes: IdPrefix[] = ['user', 'sess', 'client', 'idn', 'ins', 'sk', 'jtmpl', 'ak'];
    for (const prefix of prefixes) {
      for (let i = 0; i < 50; i++) expect(newId(prefix)).toMatch(new RegExp(`^${prefix}_[0-9A-Za-z]{27}$`));
    }
  });

  it('keeps 27 characters at the edges of the time range (zero-padded, never longer)', () => {
    expect(newId('user', 0)).toMatch(/^user_[0-9A-Za-z]{27}$/);
    expect(newId('user', 0xffffffff * 1000)).toMatch(/^user_[0-9A-Za-z]{27}$/);
  });

  it('does not repeat, even within one millisecond', () => {
    const now = Date.now();
    const ids = new Set<string>();
    for (let i = 0; i < 20_000; i++) ids.add(newId('user', now));
    expect(ids.size).toBe(20_000);
  });

  it('encodes the creation second in its leading bytes', () => {
    const ms = Date.UTC(2025, 0, 2, 3, 4, 5, 678);
    expect(secondsOf(newId('user', ms))).toBe(Math.floor(ms / 1000));
    expect(secondsOf(newId('sess'))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) - 1);
  });

  it('sorts roughly by time: an id from a later second sorts after one from an earlier second', () => {
    const t0 = Date.UTC(2025, 5, 1);
    for (let i = 0; i < 500; i++) {
      const earlier = newId('user', t0 + i * 1000);
      const later = newId('user', t0 + (i + 1) * 1000);
      expect(earlier < later).toBe(true);
    }
    // Across years too, with plain string comparison (the alphabet is in ASCII order).
    const ids = [Date.UTC(2030, 0, 1), Date.UTC(2021, 0, 1), Date.UTC(2026, 6, 1)].map((t) => newId('user', t));
    expect([...ids].sort()).toEqual([ids[1], ids[2], ids[0]]);
  });

  it('within one second, order is random (ids do not leak a counter)', () => {
    const now = Date.UTC(2025, 5, 1);
    const ids = Array.from({ length: 200 }, () => newId('user', now));
    expect([...ids].sort()).not.toEqual(ids);
  });
});

describe('randomToken', () => {
  it('is base62 of a fixed length for the byte count, and random', () => {
    const a = randomToken(32);
    const b = randomToken(32);
    expect(a).toMatch(/^[0-9A-Za-z]{43}$/);
    expect(b).toMatch(/^[0-9A-Za-z]{43}$/);
    expect(a).not.toBe(b);
  });
});

describe('base62 encoding', () => {
  // The reference: BigInt arithmetic, as the encoding is defined.
  const reference = (bytes: Uint8Array, width: number) => {
    let n = 0n;
    for (const b of bytes) n = (n << 8n) | BigInt(b);
    let out = '';
    while (n > 0n) {
      out = ALPHABET[Number(n % 62n)] + out;
      n /= 62n;
    }
    return out.padStart(width, '0');
  };

  it('matches the BigInt definition for every length and at the edges', () => {
    const cases: Uint8Array[] = [new Uint8Array(20), new Uint8Array(20).fill(255), Uint8Array.of(1), Uint8Array.of(0, 0, 0, 62)];
    for (let len = 1; len <= 33; len++) for (let i = 0; i < 20; i++) cases.push(randomBytes(len));
    for (const bytes of cases) {
      const width = Math.ceil((bytes.length * 8) / Math.log2(62));
      expect(base62(bytes, width)).toBe(reference(bytes, width));
    }
  });

  it('randomToken has the width its byte count needs, and never repeats', () => {
    const seen = new Set<string>();
    for (const bytes of [1, 3, 16, 20, 24, 32]) {
      const width = Math.ceil((bytes * 8) / Math.log2(62));
      for (let i = 0; i < 200; i++) {
        const t = randomToken(bytes);
        expect(t).toMatch(new RegExp(`^[0-9A-Za-z]{${width}}$`));
        if (bytes >= 16) seen.add(t);
      }
    }
    expect(seen.size).toBe(800);
  });
});

describe('newJti', () => {
  it('is 20 hex characters and does not repeat across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const jti = newJti();
      expect(jti).toMatch(/^[0-9a-f]{20}$/);
      seen.add(jti);
    }
    expect(seen.size).toBe(5000);
  });
});
