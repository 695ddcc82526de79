// Starts a real Latchkey server (SQLite, temp data dir) and mints real session tokens from it.
import { spawn, execFileSync } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ROOT = new URL('../../../', import.meta.url).pathname;

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Spawns `node packages/server/bin/latchkey.cjs start` on `dataDir`, waits until /health answers,
 * and reads the secret key from keys.env. With `cpuProfDir`, the server runs under `--cpu-prof`
 * and writes its profile there when it exits (SIGTERM -> process.exit). The data dir is the
 * caller's: `stop()` leaves it (several processes may use one storage in turn).
 */
export async function spawnLatchkey({ dataDir, cpuProfDir, env = {}, baseEnv = process.env, nodeArgs: extraNodeArgs = [], root = ROOT, startupMs = 30_000 }) {
  const port = await freePort();
  const nodeArgs = [...(cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`] : []), ...extraNodeArgs];
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'packages/server/bin/latchkey.cjs'), 'start'], {
    cwd: root,
    env: { ...baseEnv, ...env, PORT: String(port), LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + startupMs;
  for (;;) {
    if (exited) throw new Error(`Latchkey exited during start-up (${JSON.stringify(exited)}):\n${output}`);
    try {
      const res = await fetch(`${base}/health`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error(`Latchkey did not become healthy in ${startupMs / 1000} s:\n${output}`); }
    await sleep(50);
  }
  const secretKey = /^LATCHKEY_SECRET_KEY=(.+)$/m.exec(readFileSync(join(dataDir, 'keys.env'), 'utf8'))?.[1]?.trim();
  if (!secretKey) throw new Error(`No LATCHKEY_SECRET_KEY in ${dataDir}/keys.env`);

  return {
    pid: child.pid,
    port,
    base,
    dataDir,
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

/** A server on a fresh SQLite data dir of its own, removed by `stop()`. */
export async function startServer(opts = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-bench-'));
  const server = await spawnLatchkey({ ...opts, dataDir });
  return {
    ...server,
    async stop() {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function api(server, method, path, body) {
  const res = await fetch(`${server.base}${path}`, {
    method,
    headers: { authorization: `Bearer ${server.secretKey}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} -> ${res.status}: ${text}`);
  return JSON.parse(text);
}

/** `users` users with one session each; `perSession` tokens (1 h) per session. */
export async function mintFixtures(server, { users = 8, perSession = 40 } = {}) {
  const sessions = [];
  for (let u = 0; u < users; u++) {
    const user = await api(server, 'POST', '/v1/users', { email_address: [`bench${u}-${Date.now()}@example.com`] });
    const session = await api(server, 'POST', '/v1/sessions', { user_id: user.id });
    sessions.push(session.id);
  }
  const jobs = [];
  for (const sid of sessions) for (let i = 0; i < perSession; i++) jobs.push(sid);
  const tokens = [];
  for (let i = 0; i < jobs.length; i += 16) {
    const batch = await Promise.all(jobs.slice(i, i + 16).map((sid) =>
      api(server, 'POST', `/v1/sessions/${sid}/tokens`, { expires_in_seconds: 3600 })));
    for (const t of batch) tokens.push(t.jwt);
  }
  const jwks = await (await fetch(`${server.base}/.well-known/jwks.json`)).json();
  if (jwks.keys?.length !== 1) throw new Error(`Expected one key in the JWKS, got ${jwks.keys?.length}`);
  const pem = createPublicKey({ key: jwks.keys[0], format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
  return { sessions, tokens, jwks, pem };
}

let clkTck;
/** CPU seconds per thread of a process, from /proc (Linux only; null elsewhere). */
export function threadCpu(pid) {
  try {
    clkTck ??= Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
    const out = new Map();
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const comm = stat.slice(stat.indexOf('(') + 1, close);
      const f = stat.slice(close + 2).split(' ');
      out.set(tid, { comm, sec: (Number(f[11]) + Number(f[12])) / clkTck, nice: Number(f[16]) });
    }
    return out;
  } catch {
    return null;
  }
}

/**
 * CPU seconds between two threadCpu snapshots: the main (event-loop) thread and all other
 * threads (libuv pool, where node:crypto's callback-form sign runs, plus V8 GC/compiler helpers).
 * Node 20 names every thread "node", so they cannot be told apart by name.
 */
export function cpuDelta(pid, before, after) {
  if (!before || !after) return null;
  const groups = { main: 0, other: 0 };
  for (const [tid, a] of after) {
    const d = a.sec - (before.get(tid)?.sec ?? 0);
    if (String(tid) === String(pid)) groups.main += d;
    else groups.other += d;
  }
  return groups;
}
