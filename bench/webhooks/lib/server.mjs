// Latchkey server processes for the webhook bench. Unlike tokens/lib/server.mjs, several processes
// in turn share one storage (a producing process with LATCHKEY_WEBHOOK_DELIVERY=off, then a
// delivering one), so the data dir and the database URL are the caller's and outlive each process.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnLatchkey } from '../../tokens/lib/server.mjs';

/** The parent's environment without Latchkey/Clerk settings, so only what the bench passes counts. */
function cleanEnv() {
  const out = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(LATCHKEY_|CLERK_)/.test(k) || ['PORT', 'HOST', 'NODE_ENV'].includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * A Latchkey process on `dataDir` (SQLite there, or the PostgreSQL database at `databaseUrl`);
 * the storage outlives it.
 */
export function startLatchkey({ dataDir, databaseUrl, env = {}, cpuProfDir } = {}) {
  return spawnLatchkey({
    dataDir, cpuProfDir, baseEnv: cleanEnv(), startupMs: 60_000,
    env: { ...env, ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}) },
  });
}

/** The newest .cpuprofile in `dir` (what --cpu-prof wrote), or null. */
export function newestProfile(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  return files.length ? join(dir, files.at(-1)) : null;
}
