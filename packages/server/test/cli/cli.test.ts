import { createHash, createPublicKey } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { assertBuilt, runCli } from '../support/cli.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';

/** The built CLI, run as a user would (SQLite). */
const cli = runCli;

function readKeysEnv(dataDir: string): Record<string, string> {
  const text = readFileSync(join(dataDir, 'keys.env'), 'utf8');
  return Object.fromEntries(text.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** KEY=value lines of print-config; a double-quoted value may span lines (the PEM). */
function parseDotenv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /^([A-Z_][A-Z0-9_]*)=(?:"([^"]*)"|(.*))$/gm;
  for (const m of text.matchAll(re)) out[m[1]!] = m[2] ?? m[3]!;
  return out;
}

function openDb(dataDir: string) {
  return new Database(join(dataDir, 'latchkey.db'), { readonly: true, fileMustExist: true });
}

function count(dataDir: string, sql: string, ...params: unknown[]): number {
  const db = openDb(dataDir);
  try {
    return (db.prepare(sql).get(...params) as { n: number }).n;
  } finally {
    db.close();
  }
}

function activeKid(dataDir: string): string {
  const db = openDb(dataDir);
  try {
    const rows = db.prepare("select kid from signing_keys where status = 'active'").all() as { kid: string }[];
    expect(rows).toHaveLength(1);
    return rows[0]!.kid;
  } finally {
    db.close();
  }
}

describe('latchkey CLI (built, SQLite)', () => {
  const dirs: string[] = [];
  let port: number;

  /** A fresh data dir and the env to use it. */
  function workspace(): { dataDir: string; env: Record<string, string> } {
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
    dirs.push(dataDir);
    return { dataDir, env: { LATCHKEY_DATA_DIR: dataDir, PORT: String(port), LATCHKEY_LOG_LEVEL: 'silent' } };
  }

  beforeAll(async () => {
    assertBuilt();
    port = await freePort();
  });
  afterAll(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('migrate creates the database and instance; running it again changes nothing (exit 0 both times)', async () => {
    const { dataDir, env } = workspace();
    const first = await cli(['migrate'], env);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Database is up to date.');

    const db1 = openDb(dataDir);
    const migrations = db1.prepare('select name from kysely_migration order by name').all();
    const keysBefore = db1.prepare('select * from signing_keys').all();
    const secretsBefore = db1.prepare('select * from secret_keys').all();
    const instanceBefore = db1.prepare('select * from instance').all();
    db1.close();
    expect(migrations).toEqual([{ name: '001_core' }, { name: '002_events' }, { name: '003_frontend' }, { name: '004_dev_emails' }, { name: '005_lockout' }, { name: '006_webhooks' },
      { name: '007_roles_suspension' }, { name: '008_rate_limits' }, { name: '009_frontend_retention' },
      { name: '010_email_code_identifier' }, { name: '011_session_factor_age' }]);
    expect(instanceBefore).toHaveLength(1);
    expect(secretsBefore).toHaveLength(1);
    expect(keysBefore).toHaveLength(1);
    const keysEnvBefore = readFileSync(join(dataDir, 'keys.env'), 'utf8');

    const second = await cli(['migrate'], env);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('Database is up to date.');
    const db2 = openDb(dataDir);
    expect(db2.prepare('select name from kysely_migration order by name').all()).toEqual(migrations);
    expect(db2.prepare('select * from signing_keys').all()).toEqual(keysBefore);
    expect(db2.prepare('select * from secret_keys').all()).toEqual(secretsBefore);
    expect(db2.prepare('select * from instance').all()).toEqual(instanceBefore);
    db2.close();
    expect(readFileSync(join(dataDir, 'keys.env'), 'utf8')).toBe(keysEnvBefore);
  });

  it('users create prints the new user id, and the user exists with its email and a hashed password', async () => {
    const { dataDir, env } = workspace();
    const run = await cli(['users', 'create', '--email', 'x@example.com', '--password', 'long enough pw', '--first-name', 'Ex', '--username', 'ex_user'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const match = /^Created (user_[0-9A-Za-z]{27})$/m.exec(run.stdout);
    expect(match, run.stdout).not.toBeNull();
    const id = match![1]!;

    const db = openDb(dataDir);
    const user = db.prepare('select * from users where id = ?').get(id) as Record<string, unknown> | undefined;
    const emails = db.prepare('select email_address, user_id, verification_status from email_addresses').all();
    db.close();
    expect(user).toMatchObject({ id, first_name: 'Ex', username: 'ex_user', deleted_at: null, password_hasher: 'argon2id' });
    expect(String(user!.password_digest)).toMatch(/^\$argon2id\$/);
    expect(String(user!.password_digest)).not.toContain('long enough pw');
    expect(emails).toEqual([{ email_address: 'x@example.com', user_id: id, verification_status: 'verified' }]);

    // The address is taken now, in any case.
    const again = await cli(['users', 'create', '--email', 'X@Example.com', '--password', 'long enough pw'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/email address is taken/i);
    expect(count(dataDir, 'select count(*) as n from users')).toBe(1);
  });

  it('users create refuses bad input with a non-zero exit and a message naming the field, creating nothing', async () => {
    const { dataDir, env } = workspace();
    expect((await cli(['migrate'], env)).code).toBe(0);

    const badEmail = await cli(['users', 'create', '--email', 'not-an-email', '--password', 'long enough pw'], env);
    expect(badEmail.code).not.toBe(0);
    expect(badEmail.stderr).toMatch(/email_address/);
    expect(badEmail.stderr).toMatch(/valid email address/);
    expect(badEmail.stdout).not.toMatch(/Created/);

    const shortPassword = await cli(['users', 'create', '--email', 'ok@example.com', '--password', 'short'], env);
    expect(shortPassword.code).not.toBe(0);
    expect(shortPassword.stderr).toMatch(/password/i);

    const noIdentifier = await cli(['users', 'create', '--password', 'long enough pw'], env);
    expect(noIdentifier.code).not.toBe(0);
    expect(noIdentifier.stderr).toMatch(/email_address/);

    const badUsername = await cli(['users', 'create', '--email', 'ok@example.com', '--username', 'a b'], env);
    expect(badUsername.code).not.toBe(0);
    expect(badUsername.stderr).toMatch(/username/);

    const unknownFlag = await cli(['users', 'create', '--email', 'ok@example.com', '--nickname', 'x'], env);
    expect(unknownFlag.code).toBe(2); // a usage error, as an unknown command
    expect(unknownFlag.stderr).toMatch(/--nickname/);

    for (const r of [badEmail, shortPassword, noIdentifier, badUsername, unknownFlag]) expect(r.stderr).not.toMatch(/\n\s+at /); // no stack traces
    expect(count(dataDir, 'select count(*) as n from users')).toBe(0);
    expect(count(dataDir, 'select count(*) as n from email_addresses')).toBe(0);
  });

  it('print-config prints the keys an app needs: secret key from keys.env, a decodable pk_test_ key, and CLERK_JWT_KEY', async () => {
    const { dataDir, env } = workspace();
    // On a fresh data dir: print-config bootstraps the instance itself.
    const run = await cli(['print-config'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const printed = parseDotenv(run.stdout);
    const keysEnv = readKeysEnv(dataDir);

    expect(keysEnv.LATCHKEY_SECRET_KEY).toMatch(/^sk_test_[0-9A-Za-z]+$/);
    expect(printed.LATCHKEY_SECRET_KEY).toBe(keysEnv.LATCHKEY_SECRET_KEY);
    expect(printed.CLERK_SECRET_KEY).toBe(keysEnv.LATCHKEY_SECRET_KEY);
    // It is the instance's secret key: its hash is the one stored.
    const hash = createHash('sha256').update(printed.CLERK_SECRET_KEY!).digest('hex');
    expect(count(dataDir, 'select count(*) as n from secret_keys where key_hash = ? and revoked_at is null', hash)).toBe(1);

    const pk = printed.CLERK_PUBLISHABLE_KEY!;
    expect(pk).toMatch(/^pk_test_[A-Za-z0-9+/]+=*$/);
    expect(printed.LATCHKEY_PUBLISHABLE_KEY).toBe(pk);
    expect(keysEnv.LATCHKEY_PUBLISHABLE_KEY).toBe(pk);
    expect(Buffer.from(pk.slice('pk_test_'.length), 'base64').toString()).toBe(`127.0.0.1:${port}$`);
    expect(printed.CLERK_API_URL).toBe(`http://127.0.0.1:${port}`);
    expect(printed.LATCHKEY_API_URL).toBe(`http://127.0.0.1:${port}`);

    const pem = printed.CLERK_JWT_KEY!;
    expect(pem).toMatch(/^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=\n]+\n-----END PUBLIC KEY-----$/);
    const key = createPublicKey(pem);
    expect(key.asymmetricKeyType).toBe('rsa');
    expect(key.asymmetricKeyDetails).toMatchObject({ modulusLength: 2048, publicExponent: 65537n });
    // …and it is the active signing key.
    const db = openDb(dataDir);
    const row = db.prepare("select public_jwk from signing_keys where status = 'active'").get() as { public_jwk: string };
    db.close();
    expect((key.export({ format: 'jwk' }) as { n: string }).n).toBe((JSON.parse(row.public_jwk) as { n: string }).n);

    // A second run prints the same values (nothing is re-created).
    const again = await cli(['print-config'], env);
    expect(again.code).toBe(0);
    expect(parseDotenv(again.stdout)).toEqual(printed);
  });

  it('keys.env is written with mode 600', async () => {
    const { dataDir, env } = workspace();
    expect((await cli(['migrate'], env)).code).toBe(0);
    expect(statSync(join(dataDir, 'keys.env')).mode & 0o777).toBe(0o600);
  });

  describe('invalid configuration → exit 1 with one clear message per bad value, and nothing written', () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['PORT=abc', { PORT: 'abc' }, /^ {2}- PORT: .*number/m],
      ['LATCHKEY_PUBLIC_URL with a trailing slash', { LATCHKEY_PUBLIC_URL: 'http://auth.example.com/' }, /^ {2}- LATCHKEY_PUBLIC_URL: must not end with "\/"/m],
      ['LATCHKEY_DATABASE_URL=mysql://x', { LATCHKEY_DATABASE_URL: 'mysql://x' }, /^ {2}- LATCHKEY_DATABASE_URL: must be a postgres:\/\/ or postgresql:\/\/ URL/m],
      ['LATCHKEY_PUBLIC_URL with an empty query', { LATCHKEY_PUBLIC_URL: 'https://auth.example.com?' }, /^ {2}- LATCHKEY_PUBLIC_URL: must not carry a query.*"https:\/\/auth\.example\.com"/m],
      ['LATCHKEY_PUBLIC_URL with a trailing backslash', { LATCHKEY_PUBLIC_URL: 'https://auth.example.com\\' }, /^ {2}- LATCHKEY_PUBLIC_URL: must not contain a backslash/m],
      ['PORT=0 without LATCHKEY_PUBLIC_URL', { PORT: '0' }, /^ {2}- PORT: 0 .*LATCHKEY_PUBLIC_URL/m],
    ];
    it.each(cases)('%s', async (_label, bad, message) => {
      const { dataDir, env } = workspace();
      for (const command of [['migrate'], ['start'], ['print-config']]) {
        const run = await cli(command, { ...env, ...bad });
        expect(run.code, command.join(' ')).toBe(1);
        expect(run.stderr).toMatch(/^Invalid configuration:/);
        expect(run.stderr).toMatch(message);
        expect(run.stderr.match(/^ {2}- /gm)).toHaveLength(1);
        expect(run.stderr).not.toMatch(/\n\s+at /);
        expect(run.stdout).toBe('');
      }
      expect(readdirSync(dataDir)).toEqual([]);
    });

    it('all three at once: three messages, one per variable', async () => {
      const { dataDir, env } = workspace();
      const run = await cli(['migrate'], { ...env, PORT: 'abc', LATCHKEY_PUBLIC_URL: 'http://auth.example.com/', LATCHKEY_DATABASE_URL: 'mysql://x' });
      expect(run.code).toBe(1);
      const lines = run.stderr.match(/^ {2}- .*$/gm) ?? [];
      expect(lines).toHaveLength(3);
      expect(lines.map((l) => l.slice(4, l.indexOf(':'))).sort()).toEqual(['LATCHKEY_DATABASE_URL', 'LATCHKEY_PUBLIC_URL', 'PORT']);
      expect(readdirSync(dataDir)).toEqual([]);
    });
  });

  it('keys rotate prints the new kid, which becomes the only active key; the old one is retired', async () => {
    const { dataDir, env } = workspace();
    expect((await cli(['migrate'], env)).code).toBe(0);
    const oldKid = activeKid(dataDir);

    const run = await cli(['keys', 'rotate'], env);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const match = /New signing key (\S+) is active/.exec(run.stdout);
    expect(match, run.stdout).not.toBeNull();
    const newKid = match![1]!;
    expect(newKid).not.toBe(oldKid);
    expect(activeKid(dataDir)).toBe(newKid);
    expect(run.stdout).toContain(`Retired ${oldKid}`);
    expect(count(dataDir, "select count(*) as n from signing_keys where kid = ? and status = 'retired'", oldKid)).toBe(1);

    // print-config follows the rotation.
    const printed = parseDotenv((await cli(['print-config'], env)).stdout);
    const db = openDb(dataDir);
    const jwk = JSON.parse((db.prepare('select public_jwk from signing_keys where kid = ?').get(newKid) as { public_jwk: string }).public_jwk) as { n: string };
    db.close();
    expect((createPublicKey(printed.CLERK_JWT_KEY!).export({ format: 'jwk' }) as { n: string }).n).toBe(jwk.n);
  });

  it('webhooks create / list / rotate-secret / delete manage endpoints, audited as the operator', async () => {
    const { dataDir, env } = workspace();
    const created = await cli(['webhooks', 'create', '--url', 'http://127.0.0.1:9/hooks', '--events', 'user.created,user.deleted',
      '--description', 'app sync', '--rate-limit', '50'], env);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const [, id, secret] = /Created (ep_\w+) .*\n.*(whsec_[A-Za-z0-9+/=]+)/.exec(created.stdout) ?? [];
    expect(id, created.stdout).toBeDefined();
    expect(Buffer.from(secret!.slice('whsec_'.length), 'base64')).toHaveLength(24);

    const listed = await cli(['webhooks', 'list'], env);
    expect(listed.stdout).toContain(`${id}  http://127.0.0.1:9/hooks  enabled  events: user.created,user.deleted`);

    const disabled = await cli(['webhooks', 'update', id!, '--enabled', 'false', '--events', 'all', '--rate-limit', 'none'], env);
    expect(disabled.stderr).toBe('');
    expect(disabled.stdout).toContain(`Updated ${id} → http://127.0.0.1:9/hooks  disabled (operator)`);
    expect((await cli(['webhooks', 'list'], env)).stdout).toContain(`${id}  http://127.0.0.1:9/hooks  disabled (operator)  events: all`);
    const bad = await cli(['webhooks', 'update', id!, '--enabled', 'maybe'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/enabled/);
    const enabled = await cli(['webhooks', 'update', id!, '--enabled', 'true', '--events', 'user.created,user.deleted', '--rate-limit', '50'], env);
    expect(enabled.stdout).toContain('enabled');

    const rotated = await cli(['webhooks', 'rotate-secret', id!], env);
    expect(rotated.code).toBe(0);
    const newSecret = /(whsec_\S+)/.exec(rotated.stdout)![1];
    expect(newSecret).not.toBe(secret);
    const db = openDb(dataDir);
    const row = db.prepare('select previous_secret, rate_limit, description from webhook_endpoints where id = ?').get(id) as
      { previous_secret: string; rate_limit: number; description: string };
    expect(row).toEqual({ previous_secret: secret, rate_limit: 50, description: 'app sync' });
    db.close();

    expect((await cli(['webhooks', 'delete', id!], env)).code).toBe(0);
    expect(count(dataDir, 'select count(*) as n from webhook_endpoints')).toBe(0);
    const again = await cli(['webhooks', 'delete', id!], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('Webhook endpoint not found');
    const audited = openDb(dataDir);
    const types = (audited.prepare("select type from audit_logs where actor_type = 'operator' order by sequence").all() as { type: string }[]).map((r) => r.type);
    audited.close();
    expect(types).toEqual(['webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.updated',
      'webhook_endpoint.secret_rotated', 'webhook_endpoint.deleted']);
  });

  it('webhooks create refuses a bad URL or event type with exit 1 and a message naming the field, creating nothing', async () => {
    const { dataDir, env } = workspace();
    const cases: [string[], RegExp][] = [
      [['--url', 'ftp://example.com/x'], /url: must use http:\/\/ or https:\/\//],
      [['--url', 'https://user:pw@example.com/x'], /url: must not carry credentials/],
      [['--url', 'http://169.254.169.254/latest'], /url resolves to a metadata address/],
      [['--url', 'https://example.com/x', '--events', 'user.exploded'], /events\.0: Invalid option/],
      [[], /url must be included/],
    ];
    for (const [args, message] of cases) {
      const run = await cli(['webhooks', 'create', ...args], env);
      expect(run.code, args.join(' ')).toBe(1);
      expect(run.stderr).toMatch(message);
    }
    expect(count(dataDir, 'select count(*) as n from webhook_endpoints')).toBe(0);
  });

  describe('arguments a command does not take → exit 2 with usage on stderr, and nothing done', () => {
    it('on a fresh data dir: nothing is created, start does not start', async () => {
      const { dataDir, env } = workspace();
      for (const args of [['start', '--port', '5000'], ['start', 'now'], ['migrate', '--bogus'], ['migrate', 'up'], ['print-config', '--json'],
        ['keys', 'rotate', '--force'], ['keys', 'rotate', 'now'], ['users', 'create', '--email', 'a@example.com', '--nickname', 'x'],
        ['users', 'create', 'a@example.com'], ['webhooks', 'list', '--all'], ['roles', 'list', 'x'], ['roles', 'preset', 'community', 'extra'],
        ['jwt-templates', 'list', '--verbose'], ['audit-logs', 'export', '--format', 'csv']]) {
        const run = await cli(args, env, 15_000);
        expect(run.code, `${args.join(' ')}: ${run.stdout}${run.stderr}`).toBe(2);
        expect(run.stderr, args.join(' ')).toContain('Usage:');
        expect(run.stderr, args.join(' ')).not.toMatch(/\n\s+at /);
        expect(run.stdout, args.join(' ')).toBe('');
      }
      const start = await cli(['start', '--port', '5000'], env, 15_000);
      expect(start.stderr).toMatch(/^latchkey start takes no arguments \(got: --port 5000\)/);
      expect(start.stderr).toContain('PORT'); // where the port is set instead
      expect((await cli(['keys', 'rotate', '--force'], env)).stderr).toMatch(/^latchkey keys rotate takes no arguments \(got: --force\)/);
      expect(readdirSync(dataDir)).toEqual([]);
    });

    it('keys rotate with an extra argument leaves the signing keys as they are; --help / -h anywhere prints usage and does nothing', async () => {
      const { dataDir, env } = workspace();
      expect((await cli(['migrate'], env)).code).toBe(0);
      const keys = () => {
        const db = openDb(dataDir);
        try {
          return db.prepare('select * from signing_keys order by kid').all();
        } finally {
          db.close();
        }
      };
      const before = keys();
      for (const args of [['keys', 'rotate', '--force'], ['keys', 'rotate', 'extra'], ['keys', 'rotate', '--', 'x']]) {
        const run = await cli(args, env);
        expect(run.code, args.join(' ')).toBe(2);
        expect(run.stdout).toBe('');
      }
      for (const args of [['keys', 'rotate', '--help'], ['keys', 'rotate', '-h'], ['--help'], ['-h'], ['start', '--help'], ['migrate', '-h'],
        ['users', 'create', '--email', 'h@example.com', '--help'], ['webhooks', 'delete', 'ep_x', '-h']]) {
        // Even with a bad configuration: help needs none.
        const run = await cli(args, { ...env, PORT: 'abc' });
        expect(run.code, args.join(' ')).toBe(0);
        expect(run.stdout, args.join(' ')).toContain('Usage:');
        expect(run.stdout, args.join(' ')).not.toMatch(/New signing key|Created|Deleted|running/);
        expect(run.stderr, args.join(' ')).toBe('');
      }
      expect(keys()).toEqual(before);
      expect(count(dataDir, 'select count(*) as n from users')).toBe(0);
      expect(count(dataDir, "select count(*) as n from audit_logs where type = 'signing_key.rotated'")).toBe(0);
    });
  });

  it('an unknown command exits 2 with usage; help exits 0', async () => {
    const { env } = workspace();
    for (const args of [['frobnicate'], ['keys', 'spin'], ['keys'], ['users', 'delete'], ['users'], ['webhooks', 'frob']]) {
      const run = await cli(args, env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toContain(`Unknown command: ${args.join(' ')}`);
      expect(run.stderr).toContain('Usage:');
    }
    const help = await cli(['help'], env);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage:');
  });
});
