import { createHash, timingSafeEqual } from 'node:crypto';
import type { Db } from '../storage/database.js';
import { newId, randomToken } from '../ids/ids.js';
import type { Clock } from '../clock/clock.js';

/**
 * Clerk's publishable key format: `pk_test_` / `pk_live_` + base64(host + "$").
 * Clerk's SDKs decode it to find the Frontend API host, and require a dot in the
 * host (so 127.0.0.1:4000 works where localhost:4000 does not).
 */
export function publishableKey(publicUrl: string, environment: 'development' | 'production'): string {
  const host = new URL(publicUrl).host;
  const kind = environment === 'production' ? 'live' : 'test';
  return `pk_${kind}_${Buffer.from(`${host}$`).toString('base64')}`;
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Creates a secret key. Only its hash is stored; the plaintext is returned once. */
export async function createSecretKey(db: Db, clock: Clock, environment: 'development' | 'production'): Promise<string> {
  const kind = environment === 'production' ? 'live' : 'test';
  const secret = `sk_${kind}_${randomToken(32)}`;
  await db
    .insertInto('secret_keys')
    .values({
      id: newId('ak', clock.now()),
      key_hash: sha256(secret).toString('hex'),
      key_prefix: secret.slice(0, 12),
      created_at: clock.now(),
      revoked_at: null,
    })
    .execute();
  return secret;
}

/**
 * The set of valid secret keys, as hashes, refreshed from storage every few
 * seconds so keys created or revoked by the CLI take effect in a running server.
 */
export class SecretKeyVerifier {
  private keys: { id: string; hash: Buffer }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  async reload(): Promise<void> {
    const rows = await this.db.selectFrom('secret_keys').select(['id', 'key_hash']).where('revoked_at', 'is', null).execute();
    this.keys = rows.map((r) => ({ id: r.id, hash: Buffer.from(r.key_hash, 'hex') }));
  }

  startAutoReload(intervalMs = 5_000, onError: (err: unknown) => void = () => {}): void {
    this.timer = setInterval(() => this.reload().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The id of the key presented, or undefined. Compares in constant time against every key (there are only a few). */
  identify(presented: string): string | undefined {
    const h = sha256(presented);
    let found: string | undefined;
    for (const stored of this.keys) if (timingSafeEqual(h, stored.hash)) found = stored.id;
    return found;
  }

}
