import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import type { Db } from '../storage/database.js';
import { checkSealingKey, isSealed, seal, unseal } from './sealing.js';
import { generateSigningKey, loadSigningKey, type PublicJwk, type SigningKey } from './signing-key.js';

/**
 * `signed_until` is raised in steps of this much, so a busy instance writes it at
 * most about once a minute instead of on every token.
 */
const SIGNED_UNTIL_STEP_MS = 60_000;

/**
 * The instance's signing keys, cached in memory and re-read from storage every few
 * seconds so that a rotation made by another process (the CLI, another instance)
 * takes effect everywhere.
 *
 * A retired key stays in the JWKS while `signed_until` (an upper bound on the `exp`
 * of every token it signed) is in the future, then leaves. Each instance raises
 * `signed_until` before handing out a token whose `exp` passes it, so the bound
 * holds even for an instance that has not yet noticed a rotation.
 *
 * The JWKS itself is read from storage on every request, not from this cache:
 * with several instances, one may sign with a key another has not reloaded yet
 * (a new key), or raise the bound of a retired key another would already drop.
 * Storage is where every instance wrote before handing out a token.
 */
export class Keyring {
  private signer!: SigningKey;
  /** `signed_until` per kid, as last read or written by this instance: spares noteSigned a write per token. */
  private signedUntil = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly encryptionKey: string | undefined,
  ) {}

  static async load(db: Db, clock: Clock, encryptionKey: string | undefined): Promise<Keyring> {
    const ring = new Keyring(db, clock, encryptionKey);
    await ring.reload();
    return ring;
  }

  async reload(): Promise<void> {
    const rows = await this.db.selectFrom('signing_keys').selectAll().orderBy('created_at', 'desc').execute();
    const activeRow = rows.find((r) => r.status === 'active');
    if (!activeRow) throw new Error('No active signing key: run `latchkey migrate` or start the server once.');
    if (this.signer?.kid !== activeRow.kid) {
      this.signer = loadSigningKey(activeRow.kid, unseal(activeRow.private_key, this.encryptionKey));
    }
    this.signedUntil = new Map(rows.map((r) => [r.kid, r.signed_until]));
  }

  /** Re-reads keys every `intervalMs`; the timer does not keep the process alive. */
  startAutoReload(intervalMs = 5_000, onError: (err: unknown) => void = () => {}): void {
    this.timer = setInterval(() => this.reload().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get activeKey(): SigningKey {
    return this.signer;
  }

  /** The JWKS, read from storage: the active key and every retired key a live token may still carry. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    const rows = await this.db.selectFrom('signing_keys').select(['public_jwk', 'status', 'signed_until'])
      .orderBy('created_at', 'desc').execute();
    const now = this.clock.now();
    const live = rows.filter((r) => r.status === 'active' || r.signed_until > now);
    return { keys: live.map((r) => JSON.parse(r.public_jwk) as PublicJwk) };
  }

  /**
   * Call before handing out a token signed by `kid` that expires at `expMs`.
   * Writes only when the stored bound would be passed.
   */
  async noteSigned(kid: string, expMs: number): Promise<void> {
    if ((this.signedUntil.get(kid) ?? 0) >= expMs) return;
    const bound = expMs + SIGNED_UNTIL_STEP_MS;
    await this.db
      .updateTable('signing_keys')
      .set({ signed_until: bound })
      .where('kid', '=', kid)
      .where('signed_until', '<', bound)
      .execute();
    this.signedUntil.set(kid, Math.max(this.signedUntil.get(kid) ?? 0, bound));
  }
}

type Generated = Awaited<ReturnType<typeof generateSigningKey>>;

function keyRow(key: Generated, now: number, encryptionKey: string | undefined) {
  return {
    kid: key.kid,
    alg: 'RS256',
    private_key: encryptionKey ? seal(key.pem, encryptionKey) : key.pem,
    public_jwk: JSON.stringify(key.jwk),
    status: 'active' as const,
    created_at: now,
    retired_at: null,
    signed_until: 0,
  };
}

async function storedPrivateKeys(db: Db): Promise<string[]> {
  return (await db.selectFrom('signing_keys').select('private_key').execute()).map((r) => r.private_key);
}

/**
 * Refuses (throws, writing nothing) when `encryptionKey` does not open the stored
 * keys: sealed ones and no key, or a wrong key. Bootstrap checks this before it
 * writes anything, so every command on such an instance stops at once.
 */
export async function checkEncryptionKey(db: Db, encryptionKey: string | undefined): Promise<void> {
  checkSealingKey(await storedPrivateKeys(db), encryptionKey);
}

/** Creates the first signing key if the instance has none. Returns true when it did. */
export async function ensureSigningKey(db: Db, clock: Clock, encryptionKey: string | undefined): Promise<boolean> {
  const existing = await db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').executeTakeFirst();
  if (existing) return false;
  // Retired keys may be sealed: the new one is then sealed with the same key, or not written.
  await checkEncryptionKey(db, encryptionKey);
  await db.insertInto('signing_keys').values(keyRow(await generateSigningKey(), clock.now(), encryptionKey)).execute();
  return true;
}

/**
 * Rotation: a new key signs at once; the old one is retired and stays published
 * until `signed_until`. Both changes commit together.
 */
export async function rotateSigningKey(
  db: Db,
  clock: Clock,
  encryptionKey: string | undefined,
): Promise<{ newKid: string; retiredKids: string[] }> {
  // Generate outside the transaction: RSA key generation takes a while.
  const key = await generateSigningKey();
  return db.transaction().execute(async (trx) => {
    // Without the key that sealed the stored keys, the new one would be stored in
    // plaintext (and a server without the key would then start on it): refuse.
    checkSealingKey(await storedPrivateKeys(trx), encryptionKey);
    const now = clock.now();
    const retired = await trx.selectFrom('signing_keys').select('kid').where('status', '=', 'active').execute();
    await trx.updateTable('signing_keys').set({ status: 'retired', retired_at: now }).where('status', '=', 'active').execute();
    await trx.insertInto('signing_keys').values(keyRow(key, now, encryptionKey)).execute();
    const retiredKids = retired.map((r) => r.kid);
    await recordAudit(trx, now, { type: 'signing_key.rotated', target: { type: 'signing_key', id: key.kid }, data: { retired: retiredKids } });
    return { newKid: key.kid, retiredKids };
  });
}

/**
 * When LATCHKEY_ENCRYPTION_KEY is set, encrypts any key stored in plaintext. Throws,
 * sealing nothing, when the key does not open the keys already sealed, or when
 * some are sealed and no key is set.
 */
export async function sealStoredKeys(db: Db, encryptionKey: string | undefined): Promise<number> {
  const rows = await db.selectFrom('signing_keys').select(['kid', 'private_key']).execute();
  checkSealingKey(rows.map((r) => r.private_key), encryptionKey);
  if (!encryptionKey) return 0;
  let sealed = 0;
  for (const row of rows) {
    if (isSealed(row.private_key)) continue;
    await db.updateTable('signing_keys').set({ private_key: seal(row.private_key, encryptionKey) })
      .where('kid', '=', row.kid).execute();
    sealed++;
  }
  return sealed;
}
