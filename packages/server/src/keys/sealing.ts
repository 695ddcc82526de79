import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Encryption at rest for private keys: AES-256-GCM under a key derived with HKDF
 * from LATCHKEY_ENCRYPTION_KEY. Sealed values look like `enc:v1:<iv>.<tag>.<ciphertext>`.
 */
const PREFIX = 'enc:v1:';

function deriveKey(secret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'latchkey', 'private-key-sealing', 32));
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

export function seal(plaintext: string, secret: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', deriveKey(secret), iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const parts = [iv, cipher.getAuthTag(), ct].map((b) => b.toString('base64url'));
  return PREFIX + parts.join('.');
}

/**
 * Throws unless `secret` opens every sealed value among `stored`: with `unseal`'s
 * message when it is missing or wrong. Whatever writes a signing key checks this
 * first, so that a key is never stored in plaintext beside sealed ones, nor sealed
 * under a different key from theirs.
 */
export function checkSealingKey(stored: Iterable<string>, secret: string | undefined): void {
  for (const value of stored) unseal(value, secret);
}

export function unseal(stored: string, secret: string | undefined): string {
  if (!isSealed(stored)) return stored;
  if (!secret) {
    throw new Error('The signing keys are encrypted: set LATCHKEY_ENCRYPTION_KEY to the key used when they were created.');
  }
  const [iv, tag, ct] = stored.slice(PREFIX.length).split('.').map((p) => Buffer.from(p, 'base64url'));
  if (!iv || !tag || !ct) throw new Error('A stored signing key is corrupt.');
  const decipher = createDecipheriv('aes-256-gcm', deriveKey(secret), iv);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('LATCHKEY_ENCRYPTION_KEY does not decrypt the stored signing keys (wrong key?).');
  }
}
