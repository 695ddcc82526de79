import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The keys file: the plaintext publishable and secret keys of a new instance, written
 * once to its data dir (mode 600) because only the secret key's hash is stored.
 *
 * It is the only copy of that secret key, so it is never replaced. A data dir can
 * meet a second instance (SQLite first, then LATCHKEY_DATABASE_URL pointing at
 * PostgreSQL; or two databases given one data dir): `keys.env` then stays the first
 * one's, and the new instance's keys go to `keys.<instance id>.env`.
 */
export const KEYS_ENV = 'keys.env';

const ownFileName = (instanceId: string) => `keys.${instanceId}.env`;

/**
 * Writes a new instance's keys to `keys.env`, or to `keys.<instance id>.env` when
 * `keys.env` exists already (another instance's). Returns the path written.
 */
export function writeKeysFile(dataDir: string, instanceId: string, publishableKey: string, secretKey: string): string {
  mkdirSync(dataDir, { recursive: true });
  const text = `LATCHKEY_PUBLISHABLE_KEY=${publishableKey}\nLATCHKEY_SECRET_KEY=${secretKey}\n`;
  for (const name of [KEYS_ENV, ownFileName(instanceId)]) {
    const file = join(dataDir, name);
    try {
      // 'wx': created here or not at all, so a file that appeared meanwhile is not replaced either.
      writeFileSync(file, text, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue;
      throw err;
    }
    chmodSync(file, 0o600); // in case the umask took away the owner's bits
    return file;
  }
  // Instance ids are unique: a file of this one's own name means something is badly wrong.
  throw new Error(`${join(dataDir, ownFileName(instanceId))} exists already: not replacing it.`);
}

/**
 * What an operator is told when a new instance's keys could not go to `keys.env`;
 * undefined when they did.
 */
export function keysFileNotice(dataDir: string, written: string): string | undefined {
  const usual = join(dataDir, KEYS_ENV);
  if (written === usual) return undefined;
  return `NOTE: ${usual} holds another instance's keys and was left as it is;\n`
    + `      this instance's keys are in ${written} (mode 600).`;
}

export type SecretKeyLookup =
  | { found: true; file: string; secretKey: string }
  /** `others`: keys files whose secret key this instance does not accept (another instance's, or revoked). */
  | { found: false; others: string[] };

function secretKeyIn(file: string): string | undefined {
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0 && line.slice(0, eq).trim() === 'LATCHKEY_SECRET_KEY') return line.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * The instance's secret key from its data dir: its own `keys.<instance id>.env`,
 * else `keys.env`, and only if `accepts` (a check against the stored hashes) says
 * it is one of this instance's keys.
 */
export function findSecretKey(dataDir: string, instanceId: string, accepts: (secretKey: string) => boolean): SecretKeyLookup {
  const others: string[] = [];
  for (const name of [ownFileName(instanceId), KEYS_ENV]) {
    const file = join(dataDir, name);
    if (!existsSync(file)) continue;
    const secretKey = secretKeyIn(file);
    if (secretKey && accepts(secretKey)) return { found: true, file, secretKey };
    others.push(file);
  }
  return { found: false, others };
}
