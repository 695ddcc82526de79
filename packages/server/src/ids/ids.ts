import { randomBytes } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Base62 of a big-endian byte string, left-padded to a fixed width. */
function base62(bytes: Uint8Array, width: number): string {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = ALPHABET[Number(n % 62n)] + out;
    n /= 62n;
  }
  return out.padStart(width, '0');
}

export type IdPrefix = 'user' | 'sess' | 'client' | 'idn' | 'ins' | 'sk' | 'jtmpl' | 'ak' | 'evt' | 'sua' | 'code' | 'eml'
  | 'ep' | 'msg' | 'atmpt' | 'aud';

/**
 * Clerk-shaped ids (`user_2b…`): a prefix and 27 base62 characters encoding
 * 4 bytes of seconds since epoch and 16 random bytes, so ids sort roughly by
 * creation time and never collide in practice.
 */
export function newId(prefix: IdPrefix, nowMs: number = Date.now()): string {
  const buf = new Uint8Array(20);
  new DataView(buf.buffer).setUint32(0, Math.floor(nowMs / 1000));
  buf.set(randomBytes(16), 4);
  return `${prefix}_${base62(buf, 27)}`;
}

/** A random token of `bytes` bytes in base62 (used for secrets, not ids). */
export function randomToken(bytes: number): string {
  return base62(randomBytes(bytes), Math.ceil((bytes * 8) / Math.log2(62)));
}
