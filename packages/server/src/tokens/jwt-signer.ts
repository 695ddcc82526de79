import { sign, type KeyObject } from 'node:crypto';
import type { Keyring } from '../keys/keyring.js';

/**
 * RS256 signing with node:crypto's callback form, which runs on libuv's thread
 * pool: the event loop keeps serving requests while RSA (≈0.35 ms a signature)
 * uses the other cores. See bench/tokens for the figures.
 */
function rs256(input: string, key: KeyObject): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    sign('sha256', Buffer.from(input), key, (err, sig) => (err ? reject(err) : resolve(sig)));
  });
}

export class JwtSigner {
  constructor(private readonly keyring: Keyring) {}

  /** Signs `claims` (which must include `exp` in seconds) with the active key. */
  async sign(claims: Record<string, unknown> & { exp: number }): Promise<string> {
    const key = this.keyring.activeKey;
    await this.keyring.noteSigned(key.kid, claims.exp * 1000);
    const input = `${key.encodedHeader}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
    const signature = await rs256(input, key.privateKey);
    return `${input}.${signature.toString('base64url')}`;
  }
}
