import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { ensureSigningKey, sealStoredKeys } from '../keys/keyring.js';
import { newId } from '../ids/ids.js';
import type { Storage } from '../storage/database.js';
import { migrate, withStartupLock } from '../storage/migrate.js';
import type { InstanceTable } from '../storage/schema.js';
import { createSecretKey, publishableKey } from './api-keys.js';
import { defaultSettings } from './settings.js';

export interface BootstrapResult {
  instance: InstanceTable;
  publishableKey: string;
  /** Set only on the start that created the instance: the one time it is shown. */
  newSecretKey?: string;
  migrated: string[];
}

/**
 * Migrates, then creates the instance on first start: signing key, secret key
 * (hash stored; plaintext written to <data dir>/keys.env with mode 600).
 * Runs under the start-up lock so concurrent instances do this once.
 */
export async function bootstrap(storage: Storage, config: Config, clock: Clock): Promise<BootstrapResult> {
  return withStartupLock(storage, async () => {
    const migrated = await migrate(storage);
    const { db } = storage;
    let instance = await db.selectFrom('instance').selectAll().executeTakeFirst();
    let newSecretKey: string | undefined;
    if (!instance) {
      const now = clock.now();
      const created: InstanceTable = {
        id: newId('ins', now),
        environment: config.production ? 'production' : 'development',
        settings: JSON.stringify(defaultSettings()),
        created_at: now,
        updated_at: now,
      };
      // One transaction, and keys.env written before it commits: a crash can leave
      // a keys.env without an instance (the next start replaces it), never an
      // instance whose only secret key nobody has seen.
      newSecretKey = await db.transaction().execute(async (trx) => {
        await trx.insertInto('instance').values(created).execute();
        const secret = await createSecretKey(trx, clock, created.environment);
        writeKeysEnv(config.dataDir, publishableKey(config.publicUrl, created.environment), secret);
        return secret;
      });
      instance = created;
    }
    await ensureSigningKey(db, clock, config.encryptionKey);
    await sealStoredKeys(db, config.encryptionKey);
    return { instance, publishableKey: publishableKey(config.publicUrl, instance.environment), newSecretKey, migrated };
  });
}

function writeKeysEnv(dataDir: string, pk: string, sk: string): void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, 'keys.env');
  writeFileSync(file, `LATCHKEY_PUBLISHABLE_KEY=${pk}\nLATCHKEY_SECRET_KEY=${sk}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // writeFileSync's mode applies only when it creates the file
}
