import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { assertBuilt, cleanEnv, CLI, ROOT } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { verifyToken } from '../../../backend/src/index.js';
import { freePort } from '../support/postgres.js';
import { databaseUrlFor } from '../support/server.js';

/**
 * Two server processes started at the same moment on one fresh PostgreSQL
 * database, as behind a load balancer: one public URL, one data directory.
 * The start-up lock must make their migrations and bootstrap happen once.
 */
const PUBLIC_URL = 'http://auth.latchkey.test';
const noPostgres = !inject('pgUrl');

interface Proc {
  name: string;
  child: ChildProcess;
  url: string;
  stdout: string;
  stderr: string;
}

function startProcess(name: string, port: number, env: Record<string, string>): Proc {
  const child = spawn(process.execPath, [CLI, 'start'], {
    cwd: ROOT,
    env: { ...cleanEnv(), ...env, PORT: String(port), HOST: '127.0.0.1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc: Proc = { name, child, url: `http://127.0.0.1:${port}`, stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (proc.stdout += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (proc.stderr += d));
  return proc;
}

/** Polls GET /health until it answers 200; fails at once if the process exits. */
async function waitReady(p: Proc): Promise<void> {
  for (;;) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before it was ready:\n${p.stderr}\n${p.stdout}`);
    }
    try {
      const res = await fetch(`${p.url}/health`);
      if (res.status === 200) {
        await res.arrayBuffer();
        return;
      }
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function stop(p: Proc | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

describe('two server processes on one PostgreSQL database', () => {
  let dataDir: string;
  let databaseUrl: string;
  let a: Proc | undefined;
  let b: Proc | undefined;
  let secretKey: string;

  const api = async (p: Proc, path: string, init: { method?: string; json?: unknown } = {}) => {
    const res = await fetch(`${p.url}${path}`, {
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status, `${p.name} ${path}: ${JSON.stringify(body)}`).toBe(200);
    return body;
  };

  const query = async <T>(sql: string): Promise<T[]> => {
    const c = new pg.Client({ connectionString: databaseUrl });
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    if (noPostgres) return;
    assertBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-multi-'));
    databaseUrl = (await databaseUrlFor('postgres'))!;
    const [portA, portB] = [await freePort(), await freePort()];
    expect(portA).not.toBe(portB);
    const env = { LATCHKEY_DATABASE_URL: databaseUrl, LATCHKEY_PUBLIC_URL: PUBLIC_URL, LATCHKEY_DATA_DIR: dataDir, LATCHKEY_LOG_LEVEL: 'warn' };
    // Both at once, before either has touched the database.
    a = startProcess('A', portA, env);
    b = startProcess('B', portB, env);
    await Promise.all([waitReady(a), waitReady(b)]);
    const keys = readFileSync(join(dataDir, 'keys.env'), 'utf8');
    secretKey = /^LATCHKEY_SECRET_KEY=(\S+)$/m.exec(keys)![1]!;
  });
  afterAll(async () => {
    await Promise.all([stop(a), stop(b)]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it.skipIf(noPostgres)('both start: migrations ran once, one instance, one active signing key, one secret key', async () => {
    expect(await query('select name from kysely_migration order by name')).toEqual([
      { name: '001_core' }, { name: '002_events' }, { name: '003_frontend' }, { name: '004_dev_emails' }, { name: '005_lockout' }, { name: '006_webhooks' },
      { name: '007_roles_suspension' }, { name: '008_rate_limits' }, { name: '009_frontend_retention' },
      { name: '010_email_code_identifier' }, { name: '011_session_factor_age' },
    ]);
    expect(await query('select count(*)::int as n from instance')).toEqual([{ n: 1 }]);
    expect(await query("select count(*)::int as n from signing_keys where status = 'active'")).toEqual([{ n: 1 }]);
    expect(await query('select count(*)::int as n from signing_keys')).toEqual([{ n: 1 }]);
    expect(await query('select count(*)::int as n from secret_keys')).toEqual([{ n: 1 }]);
    // Neither process logged an error while starting.
    expect(a!.stderr).not.toMatch(/error/i);
    expect(b!.stderr).not.toMatch(/error/i);
    // Both serve the same instance.
    const [ia, ib] = [await api(a!, '/v1/instance'), await api(b!, '/v1/instance')];
    expect(ia.id).toBe(ib.id);
    expect(ia.issuer).toBe(PUBLIC_URL);
    expect(ib.publishable_key).toBe(ia.publishable_key);
  });

  it.skipIf(noPostgres)('keys.env was written once, by the process that created the instance, with the stored secret key', async () => {
    const env = Object.fromEntries(readFileSync(join(dataDir, 'keys.env'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(Object.keys(env).sort()).toEqual(['LATCHKEY_PUBLISHABLE_KEY', 'LATCHKEY_SECRET_KEY']);
    const [row] = await query<{ key_hash: string }>('select key_hash from secret_keys');
    expect(createHash('sha256').update(env.LATCHKEY_SECRET_KEY!).digest('hex')).toBe(row!.key_hash);
    // Exactly one process created the instance and showed the secret key; the other found it.
    const showed = [a!, b!].filter((p) => p.stdout.includes(`Secret key:       ${env.LATCHKEY_SECRET_KEY}`));
    const found = [a!, b!].filter((p) => p.stdout.includes('Secret key:       in '));
    expect(showed).toHaveLength(1);
    expect(found).toHaveLength(1);
    expect(showed[0]).not.toBe(found[0]);
    // The secret key works on both.
    await api(a!, '/v1/users/count');
    await api(b!, '/v1/users/count');
  });

  it.skipIf(noPostgres)('both publish the same signing key', async () => {
    const [ja, jb] = await Promise.all([a!, b!].map(async (p) => (await (await fetch(`${p.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] }));
    expect(ja!.keys).toHaveLength(1);
    expect(jb).toEqual(ja);
  });

  it.skipIf(noPostgres)('a token minted by one process verifies against the other\'s JWKS, both ways; users created on A are visible on B', async () => {
    const user = await api(a!, '/v1/users', { json: { email_address: ['shared@example.com'], first_name: 'Shared' } });
    const userId = user.id as string;

    // Users created on A are visible on B, by id and in lists.
    expect((await api(b!, `/v1/users/${userId}`)).first_name).toBe('Shared');
    const list = (await (await fetch(`${b!.url}/v1/users?email_address=shared@example.com`, { headers: { authorization: `Bearer ${secretKey}` } })).json()) as { id: string }[];
    expect(list.map((u) => u.id)).toEqual([userId]);

    // Minted through A, verified with B's JWKS.
    const sessA = await api(a!, '/v1/sessions', { json: { user_id: userId } });
    const tokA = (await api(a!, `/v1/sessions/${sessA.id as string}/tokens`, { json: {} })).jwt as string;
    const claimsA = await verifyToken(tokA, { jwksUrl: `${b!.url}/.well-known/jwks.json`, issuer: PUBLIC_URL });
    expect(claimsA).toMatchObject({ sub: userId, sid: sessA.id, iss: PUBLIC_URL });

    // Minted through B (for a session B created), verified with A's JWKS.
    const sessB = await api(b!, '/v1/sessions', { json: { user_id: userId } });
    const tokB = (await api(b!, `/v1/sessions/${sessB.id as string}/tokens`, { json: {} })).jwt as string;
    const claimsB = await verifyToken(tokB, { jwksUrl: `${a!.url}/.well-known/jwks.json`, issuer: PUBLIC_URL });
    expect(claimsB).toMatchObject({ sub: userId, sid: sessB.id, iss: PUBLIC_URL });

    // A session created on A mints on B too, and that token verifies via A's Backend API JWKS.
    const tokAB = (await api(b!, `/v1/sessions/${sessA.id as string}/tokens`, { json: {} })).jwt as string;
    const claimsAB = await verifyToken(tokAB, { apiUrl: a!.url, secretKey, issuer: PUBLIC_URL });
    expect(claimsAB).toMatchObject({ sub: userId, sid: sessA.id });

    // Both signed with the one key.
    const kid = (t: string) => (JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;
    expect(kid(tokA)).toBe(kid(tokB));

    // Both see both sessions.
    const sessions = (await (await fetch(`${a!.url}/v1/sessions?user_id=${userId}&paginated=true`, { headers: { authorization: `Bearer ${secretKey}` } })).json()) as { total_count: number };
    expect(sessions.total_count).toBe(2);
  });
});
