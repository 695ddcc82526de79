import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cleanEnv, CLI, ROOT, runCli } from '../support/cli.js';
import { freePort } from '../support/postgres.js';
import { databaseUrlFor, dialects, type DialectName } from '../support/server.js';

/**
 * keys.env holds the only plaintext copy of an instance's secret key. A second
 * instance created with the same data dir (SQLite first, then PostgreSQL) must
 * not replace it, and print-config must print only a secret key the instance
 * it is configured for accepts.
 */

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

function keysIn(file: string): Record<string, string> {
  const text = readFileSync(file, 'utf8');
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

const secretPrinted = (stdout: string) => /^LATCHKEY_SECRET_KEY=(.*)$/m.exec(stdout)?.[1];

/** The secret-key hashes an instance accepts (not revoked). */
async function acceptedHashes(dataDir: string, databaseUrl: string | undefined): Promise<string[]> {
  if (databaseUrl) {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    try {
      return (await client.query<{ key_hash: string }>('select key_hash from secret_keys where revoked_at is null')).rows.map((r) => r.key_hash);
    } finally {
      await client.end();
    }
  }
  const db = new Database(join(dataDir, 'latchkey.db'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('select key_hash from secret_keys where revoked_at is null').all() as { key_hash: string }[]).map((r) => r.key_hash);
  } finally {
    db.close();
  }
}

/** `latchkey start` until its banner is out; returns the banner, then stops the server. */
function startBanner(env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'start'], { cwd: ROOT, env: { ...cleanEnv(), LATCHKEY_LOG_LEVEL: 'silent', ...env } });
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('App config:')) child.kill('SIGTERM');
    });
    child.once('exit', (code, signal) => (out.includes('App config:') ? resolve(out) : reject(new Error(`start exited (${code ?? signal}):\n${out}${err}`))));
  });
}

describe.each(dialects())('two instances in one data dir, the second on %s', (second: DialectName) => {
  let dataDir: string;
  let port: number;
  let firstEnv: Record<string, string>;
  let secondEnv: Record<string, string>;
  /** Which instance's SQLite files are at <data dir>/latchkey.db when both are SQLite: the other's are moved aside. */
  let inPlace: 'first' | 'second' | 'none' = 'first';
  const SQLITE_FILES = ['latchkey.db', 'latchkey.db-wal', 'latchkey.db-shm'];

  /** Makes `which` the instance at the data dir's SQLite path (a no-op when the second is on PostgreSQL). */
  function use(which: 'first' | 'second' | 'none'): void {
    if (second === 'postgres' && which !== 'none') return;
    if (inPlace === which) return;
    for (const f of SQLITE_FILES) {
      if (existsSync(join(dataDir, f))) renameSync(join(dataDir, f), join(dataDir, `${f}.${inPlace}`));
      if (existsSync(join(dataDir, `${f}.${which}`))) renameSync(join(dataDir, `${f}.${which}`), join(dataDir, f));
    }
    inPlace = which;
  }

  beforeAll(async () => {
    assertBuilt();
    dataDir = mkdtempSync(join(tmpdir(), 'latchkey-keysfile-'));
    port = await freePort();
    firstEnv = { LATCHKEY_DATA_DIR: dataDir, PORT: String(port), LATCHKEY_LOG_LEVEL: 'silent' };
    secondEnv = second === 'postgres' ? { ...firstEnv, LATCHKEY_DATABASE_URL: (await databaseUrlFor('postgres'))! } : firstEnv;
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('the second keeps keys.env as it is, writes its keys to keys.<instance id>.env and says so; print-config gives each its own secret', async () => {
    // The first instance: SQLite.
    const first = await runCli(['migrate'], firstEnv);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toBe('');
    const keysEnv = join(dataDir, 'keys.env');
    const keysEnvText = readFileSync(keysEnv, 'utf8');
    const firstSecret = keysIn(keysEnv).LATCHKEY_SECRET_KEY!;
    expect(await acceptedHashes(dataDir, undefined)).toEqual([sha256(firstSecret)]);

    // The second instance, same data dir.
    use('second');
    const created = await runCli(['migrate'], secondEnv);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toBe('Database is up to date.\n');
    expect(readFileSync(keysEnv, 'utf8')).toBe(keysEnvText); // untouched
    const files = readdirSync(dataDir).filter((f) => /^keys\..*env$/.test(f)).sort();
    expect(files).toHaveLength(2);
    const ownName = files.find((f) => f !== 'keys.env')!;
    expect(ownName).toMatch(/^keys\.ins_[0-9A-Za-z]+\.env$/);
    const ownFile = join(dataDir, ownName);
    expect(statSync(ownFile).mode & 0o777).toBe(0o600);
    const secondSecret = keysIn(ownFile).LATCHKEY_SECRET_KEY!;
    expect(secondSecret).toMatch(/^sk_test_/);
    expect(secondSecret).not.toBe(firstSecret);
    const secondHashes = await acceptedHashes(dataDir, secondEnv.LATCHKEY_DATABASE_URL);
    expect(secondHashes).toEqual([sha256(secondSecret)]);
    // Said loudly (on stderr: stdout may be data), naming both files.
    expect(created.stderr).toContain(keysEnv);
    expect(created.stderr).toContain(ownFile);
    expect(created.stderr).toMatch(/another instance/);

    // Nothing more is said or written once the instance exists.
    const again = await runCli(['migrate'], secondEnv);
    expect(again.code).toBe(0);
    expect(again.stderr).toBe('');
    expect(readdirSync(dataDir).filter((f) => /^keys\..*env$/.test(f)).sort()).toEqual(files);

    // print-config: each instance its own secret key.
    const printedSecond = await runCli(['print-config'], secondEnv);
    expect(printedSecond.code).toBe(0);
    expect(printedSecond.stderr).toBe('');
    expect(secretPrinted(printedSecond.stdout)).toBe(secondSecret);
    expect(printedSecond.stdout).toContain(`CLERK_SECRET_KEY=${secondSecret}\n`);
    use('first');
    const printedFirst = await runCli(['print-config'], firstEnv);
    expect(printedFirst.stderr).toBe('');
    expect(secretPrinted(printedFirst.stdout)).toBe(firstSecret);

    // Without its own file, the second instance is never given the first one's secret key.
    rmSync(ownFile);
    use('second');
    const withoutOwn = await runCli(['print-config'], secondEnv);
    expect(withoutOwn.code).toBe(0);
    expect(withoutOwn.stdout).not.toContain(firstSecret);
    expect(secretPrinted(withoutOwn.stdout)).toBe('<the secret key printed at first start>');
    expect(withoutOwn.stdout).toContain('CLERK_SECRET_KEY=<the secret key printed at first start>\n');
    expect(withoutOwn.stderr).toContain(keysEnv);
    expect(withoutOwn.stderr).toMatch(/not a secret key of this instance/);
    expect(withoutOwn.stderr).not.toContain(firstSecret);

    // start says the same in its banner.
    const banner = await startBanner(secondEnv);
    expect(banner).toMatch(/^ {2}Secret key: {7}not in .*keys\.env holds another instance's/m);
    expect(banner).not.toContain(firstSecret);
    use('first');
    expect(await startBanner(firstEnv)).toContain(`  Secret key:       in ${keysEnv}`);
  });

  it('a new instance started in that data dir shows its secret key once and names its own keys file, loudly', async () => {
    use('none');
    const env = second === 'postgres' ? { ...firstEnv, LATCHKEY_DATABASE_URL: (await databaseUrlFor('postgres'))! } : firstEnv;
    const before = readFileSync(join(dataDir, 'keys.env'), 'utf8');
    const banner = await startBanner(env);
    const secret = /^ {2}Secret key: {7}(sk_test_\S+)$/m.exec(banner)?.[1];
    expect(secret, banner).toBeDefined();
    const own = /^ {20}\(shown once; also in (\S+keys\.ins_[0-9A-Za-z]+\.env), mode 600\)$/m.exec(banner)?.[1];
    expect(own, banner).toBeDefined();
    expect(keysIn(own!).LATCHKEY_SECRET_KEY).toBe(secret);
    expect(banner).toMatch(/NOTE: .*keys\.env .*another instance/);
    expect(readFileSync(join(dataDir, 'keys.env'), 'utf8')).toBe(before);
  });
});
