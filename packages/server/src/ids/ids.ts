import { randomBytes, randomFillSync } from 'node:crypto';

const ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/**
 * Base62 of a big-endian byte string, left-padded to `width` digits (which must
 * hold the value). Long division by 62 over 32-bit limbs in plain numbers
 * (remainder × 2³² + limb < 2⁵³): ids are made several times per request, and
 * BigInt arithmetic was a visible part of a sign-in's time.
 */
export function base62(bytes: Uint8Array, width: number): string {
  const limbs = new Array<number>(Math.ceil(bytes.length / 4)).fill(0);
  const lead = limbs.length * 4 - bytes.length;
  for (let i = 0; i < bytes.length; i++) {
    const at = i + lead;
    limbs[at >> 2] = limbs[at >> 2]! * 256 + bytes[i]!;
  }
  const digits = new Array<string>(width);
  for (let d = width - 1; d >= 0; d--) {
    let rem = 0;
    for (let i = 0; i < limbs.length; i++) {
      const cur = rem * 0x1_0000_0000 + limbs[i]!;
      const q = Math.floor(cur / 62);
      limbs[i] = q;
      rem = cur - q * 62;
    }
    digits[d] = ALPHABET[rem]!;
  }
  return digits.join('');
}

/**
 * Random bytes for ids, drawn from a buffer refilled 4 KiB at a time: one
 * system call for hundreds of ids instead of one each. Only ids (and token ids)
 * use it; secrets (randomToken, client tokens) take fresh bytes of their own.
 */
const pool = Buffer.allocUnsafe(4096);
let poolOffset = pool.length;
function idRandom(n: number): Buffer {
  if (poolOffset + n > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  poolOffset += n;
  return pool.subarray(poolOffset - n, poolOffset);
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
  buf.set(idRandom(16), 4);
  return `${prefix}_${base62(buf, 27)}`;
}

/** A token id (`jti`): 10 random bytes in hex, unique per token; drawn from the ids' pool, since every token needs one. */
export const newJti = (): string => idRandom(10).toString('hex');

/** A random token of `bytes` bytes in base62 (used for secrets, not ids). */
export function randomToken(bytes: number): string {
  return base62(randomBytes(bytes), Math.ceil((bytes * 8) / Math.log2(62)));
}
