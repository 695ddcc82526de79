import type { Clock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { checkEncryptionKey, ensureSigningKey, sealStoredKeys } from '../keys/keyring.js';
import { newId } from '../ids/ids.js';
import type { Storage } from '../storage/database.js';
import { migrate, withStartupLock } from '../storage/migrate.js';
import type { InstanceTable } from '../storage/schema.js';
import { createSecretKey, publishableKey } from './api-keys.js';
import { writeKeysFile } from './keys-file.js';
import { defaultSettings } from './settings.js';

export interface BootstrapResult {
  instance: InstanceTable;
  publishableKey: string;
  /** Set only on the start that created the instance: the one time it is shown. */
  newSecretKey?: string;
  /** Where that start wrote the new keys: `<data dir>/keys.env`, or `keys.<instance id>.env` beside another instance's (keys-file.ts). */
  keysFile?: string;
  migrated: string[];
}

/**
 * Migrates, then creates the instance on first start: signing key, secret key
 * (hash stored; plaintext written to <data dir>/keys.env with mode 600, or beside
 * it when it holds another instance's: keys-file.ts).
 * Runs under the start-up lock so concurrent instances do this once.
 * Refuses, after migrating but before anything else is written, when
 * LATCHKEY_ENCRYPTION_KEY does not open the stored signing keys (sealed ones and no
 * key, or a wrong key): whatever the command, it would otherwise go on, and a key
 * written later (a rotation, a first key) would be stored in plaintext.
 */
export async function bootstrap(storage: Storage, config: Config, clock: Clock): Promise<BootstrapResult> {
  return withStartupLock(storage, async () => {
    const migrated = await migrate(storage);
    const { db } = storage;
    await checkEncryptionKey(db, config.encryptionKey);
    let instance = await db.selectFrom('instance').selectAll().executeTakeFirst();
    let newSecretKey: string | undefined;
    let keysFile: string | undefined;
    if (!instance) {
      const now = clock.now();
      const created: InstanceTable = {
        id: newId('ins', now),
        environment: config.production ? 'production' : 'development',
        settings: JSON.stringify(defaultSettings()),
        created_at: now,
        updated_at: now,
      };
      // One transaction, and the keys file written before it commits: a crash can
      // leave a keys file without an instance (the next one writes its keys beside
      // it, and print-config checks a key against the stored hashes before printing
      // it), never an instance whose only secret key nobody has seen.
      newSecretKey = await db.transaction().execute(async (trx) => {
        await trx.insertInto('instance').values(created).execute();
        const secret = await createSecretKey(trx, clock, created.environment);
        keysFile = writeKeysFile(config.dataDir, created.id, publishableKey(config.publicUrl, created.environment), secret);
        return secret;
      });
      instance = created;
    }
    await ensureSigningKey(db, clock, config.encryptionKey);
    await sealStoredKeys(db, config.encryptionKey);
    return { instance, publishableKey: publishableKey(config.publicUrl, instance.environment), newSecretKey, keysFile, migrated };
  });
}
