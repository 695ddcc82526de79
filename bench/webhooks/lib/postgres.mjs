// A throwaway PostgreSQL cluster for the benchmark, mirroring packages/server/test/support/postgres.ts
// (that file is TypeScript and the benches run as plain Node): initdb into a temp dir, start on a free
// loopback port, trust auth, durability off (fsync, synchronous_commit, full_page_writes) as in the
// test cluster. PostgreSQL refuses to run as root, so as root the binaries run as `postgres` via runuser.
import { execFileSync, spawn } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { freePort } from '../../tokens/lib/server.mjs';

function findBinDir() {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  for (const v of readdirSync(base).sort((a, b) => Number(b) - Number(a))) {
    if (existsSync(join(base, v, 'bin', 'initdb'))) return join(base, v, 'bin');
  }
  return undefined;
}

export const postgresAvailable = () => findBinDir() !== undefined;

/** The server version string of the binaries (e.g. "postgres (PostgreSQL) 16.4"). */
export function postgresVersion() {
  const bin = findBinDir();
  try { return bin ? execFileSync(join(bin, 'postgres'), ['--version']).toString().trim() : null; } catch { return null; }
}

export const POSTGRES_SETTINGS = ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off', 'max_connections=200'];
// Diagnostics: statement times (pg_stat_statements) and the plans of statements slower than
// SLOW_PLAN_MS (auto_explain, plan only, no ANALYZE) written to <dir>/log/pg.log.
export const SLOW_PLAN_MS = 50;
const diagnostics = (dir) => [
  'shared_preload_libraries=pg_stat_statements,auto_explain', 'pg_stat_statements.track=all',
  `auto_explain.log_min_duration=${SLOW_PLAN_MS}`, 'logging_collector=on', `log_directory=${join(dir, 'log')}`, 'log_filename=pg.log',
];

/**
 * Starts the cluster. `pid` is the spawned process (runuser as root, else postgres): the
 * postmaster and its backends are its descendants, which is how their CPU is found in /proc.
 */
export async function startPostgres() {
  const bin = findBinDir();
  if (!bin) throw new Error('PostgreSQL binaries (initdb, pg_ctl) not found');
  const asRoot = process.getuid?.() === 0;
  const run = (cmd, args) => (asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]] : [join(bin, cmd), args]);
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-bench-pg-'));
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, 'data');
  execFileSync(...run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']), { stdio: 'pipe' });
  const port = await freePort();
  const child = spawn(...run('postgres', ['-D', data, '-p', String(port), '-k', dir, '-h', '127.0.0.1',
    ...[...POSTGRES_SETTINGS, ...diagnostics(dir)].flatMap((s) => ['-c', s])]), { stdio: 'ignore' });
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    try {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      await c.end();
      break;
    } catch (err) {
      if (i > 150 || child.exitCode !== null) {
        child.kill('SIGKILL');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PostgreSQL did not start: ${err.message}`);
      }
      await sleep(100);
    }
  }
  {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try { await c.query('create extension if not exists pg_stat_statements'); } finally { await c.end(); }
  }
  let stopped = false;
  return {
    url,
    pid: child.pid,
    logFile: join(dir, 'log', 'pg.log'),
    async stop() {
      if (stopped) return;
      stopped = true;
      // As root the child is runuser, which does not forward signals: ask pg_ctl.
      const exited = child.exitCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', r));
      try {
        execFileSync(...run('pg_ctl', ['-D', data, 'stop', '-m', 'fast', '-w']), { stdio: 'pipe' });
      } catch {
        child.kill('SIGKILL');
      }
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let counter = 0;

/** A fresh, empty database on the cluster; returns its URL. */
export async function createDatabase(adminUrl) {
  const name = `lk_bench_${process.pid}_${Date.now()}_${counter++}`;
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  try { await c.query(`create database ${name}`); } finally { await c.end(); }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
