// Latchkey server processes for the webhook bench. Unlike tokens/lib/server.mjs, several processes
// in turn share one storage (a producing process with LATCHKEY_WEBHOOK_DELIVERY=off, then a
// delivering one), so the data dir and the database URL are the caller's and outlive each process.
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ROOT, freePort } from '../../tokens/lib/server.mjs';

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
 * Spawns `node packages/server/dist/cli/main.js start` on `dataDir` (SQLite there, or the
 * PostgreSQL database at `databaseUrl`). With `cpuProfDir` it runs under --cpu-prof and writes
 * the profile there when it exits (SIGTERM -> graceful close -> process.exit).
 */
export async function startLatchkey({ dataDir, databaseUrl, env = {}, cpuProfDir } = {}) {
  const port = await freePort();
  const nodeArgs = cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, join(ROOT, 'packages/server/dist/cli/main.js'), 'start'], {
    cwd: ROOT,
    env: {
      ...cleanEnv(),
      ...env,
      PORT: String(port),
      LATCHKEY_DATA_DIR: dataDir,
      LATCHKEY_LOG_LEVEL: 'warn',
      ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`Latchkey exited during start-up (${JSON.stringify(exited)}):\n${output}`);
    try {
      const res = await fetch(`${base}/health`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`Latchkey did not become healthy in 60 s:\n${output}`); }
    await sleep(50);
  }
  const secretKey = /^LATCHKEY_SECRET_KEY=(.+)$/m.exec(readFileSync(join(dataDir, 'keys.env'), 'utf8'))?.[1]?.trim();
  if (!secretKey) throw new Error(`No LATCHKEY_SECRET_KEY in ${dataDir}/keys.env`);
  return {
    pid: child.pid,
    port,
    base,
    secretKey,
    readyAt: Date.now(),
    output: () => output,
    exited: () => exited,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exit;
        clearTimeout(t);
      }
    },
  };
}

/** The newest .cpuprofile in `dir` (what --cpu-prof wrote), or null. */
export function newestProfile(dir) {
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort();
  return files.length ? join(dir, files.at(-1)) : null;
}
