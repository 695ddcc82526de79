import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultMailFrom } from '../mail/smtp-mailer.js';
import { ConfigError, loadConfig } from './config.js';

/** loadConfig's problems for an environment that must be refused. */
function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('has working defaults for an empty environment', () => {
    const c = loadConfig({});
    expect(c).toEqual({
      port: 4000,
      host: '127.0.0.1',
      publicUrl: 'http://127.0.0.1:4000',
      dataDir: resolve('.latchkey'),
      databaseUrl: undefined,
      sqlitePath: join(resolve('.latchkey'), 'latchkey.db'),
      encryptionKey: undefined,
      production: false,
      logLevel: 'info',
      webhooks: { deliver: true, allowPrivate: false, timeoutMs: 15_000, concurrency: 64 },
      trustedProxies: [],
      hasherPinning: true,
    });
  });

  it('derives the default public URL from PORT (127.0.0.1, which Clerk SDKs accept as a host)', () => {
    expect(loadConfig({ PORT: '5123' }).publicUrl).toBe('http://127.0.0.1:5123');
    expect(loadConfig({ PORT: '5123' }).port).toBe(5123);
  });

  it('takes every value from the environment', () => {
    const c = loadConfig({
      PORT: '8080',
      HOST: '0.0.0.0',
      LATCHKEY_PUBLIC_URL: 'https://auth.example.com',
      LATCHKEY_DATA_DIR: '/var/lib/latchkey',
      LATCHKEY_DATABASE_URL: 'postgresql://u:p@db.internal:5432/latchkey',
      LATCHKEY_ENCRYPTION_KEY: 'k'.repeat(32),
      NODE_ENV: 'production',
      LATCHKEY_LOG_LEVEL: 'warn',
      LATCHKEY_WEBHOOK_DELIVERY: 'off',
      LATCHKEY_WEBHOOKS_ALLOW_PRIVATE: 'true',
      LATCHKEY_WEBHOOK_TIMEOUT_MS: '5000',
      LATCHKEY_WEBHOOK_CONCURRENCY: '8',
      LATCHKEY_TRUSTED_PROXIES: '10.0.0.0/8, ::1',
    });
    expect(c).toEqual({
      port: 8080,
      host: '0.0.0.0',
      publicUrl: 'https://auth.example.com',
      dataDir: '/var/lib/latchkey',
      databaseUrl: 'postgresql://u:p@db.internal:5432/latchkey',
      sqlitePath: '/var/lib/latchkey/latchkey.db',
      encryptionKey: 'k'.repeat(32),
      production: true,
      logLevel: 'warn',
      webhooks: { deliver: false, allowPrivate: true, timeoutMs: 5000, concurrency: 8 },
      trustedProxies: ['10.0.0.0/8', '::1'],
      hasherPinning: true,
    });
  });

  it('accepts a public URL with a path, and postgres:// as well as postgresql://', () => {
    expect(loadConfig({ LATCHKEY_PUBLIC_URL: 'https://example.com/auth' }).publicUrl).toBe('https://example.com/auth');
    expect(loadConfig({ LATCHKEY_DATABASE_URL: 'postgres://localhost/lk' }).databaseUrl).toBe('postgres://localhost/lk');
  });

  it('resolves a relative data directory to an absolute path', () => {
    const c = loadConfig({ LATCHKEY_DATA_DIR: 'some/dir' });
    expect(c.dataDir).toBe(resolve('some/dir'));
    expect(c.sqlitePath).toBe(resolve('some/dir', 'latchkey.db'));
  });

  it('treats empty strings as unset', () => {
    expect(loadConfig({ PORT: '', LATCHKEY_PUBLIC_URL: '', LATCHKEY_DATABASE_URL: '', LATCHKEY_LOG_LEVEL: '' }))
      .toMatchObject({ port: 4000, publicUrl: 'http://127.0.0.1:4000', databaseUrl: undefined, logLevel: 'info' });
  });

  it('refuses a PORT that is not an integer in 0..65535, naming PORT', () => {
    for (const PORT of ['abc', '1.5', '-1', '65536']) {
      const p = problems({ PORT });
      expect(p).toHaveLength(1);
      expect(p[0]).toMatch(/^PORT: /);
    }
  });

  it('refuses public URLs that cannot be a byte-exact issuer', () => {
    const cases: [string, RegExp][] = [
      ['https://auth.example.com/', /must not end with "\/"/],
      ['https://example.com/auth/', /must not end with "\/"/],
      ['auth.example.com', /absolute URL/],
      ['ftp://auth.example.com', /http or https/],
      ['https://auth.example.com?x=1', /query/],
      ['https://auth.example.com#frag', /fragment/],
      ['https://user:pw@auth.example.com', /credentials/],
    ];
    for (const [LATCHKEY_PUBLIC_URL, message] of cases) {
      const p = problems({ LATCHKEY_PUBLIC_URL });
      expect(p, LATCHKEY_PUBLIC_URL).toHaveLength(1);
      expect(p[0]).toMatch(/^LATCHKEY_PUBLIC_URL: /);
      expect(p[0]).toMatch(message);
    }
  });

  it('refuses a public URL that is not written exactly as its canonical form, naming the canonical form', () => {
    // Each parses as a URL whose origin + path is the first column, but the issuer would be the value as typed.
    const cases: [string, string, RegExp][] = [
      ['https://auth.example.com?', 'https://auth.example.com', /query/],
      ['https://auth.example.com#', 'https://auth.example.com', /fragment/],
      ['https://example.com/auth?#', 'https://example.com/auth', /query/],
      [' https://auth.example.com', 'https://auth.example.com', /whitespace/],
      ['https://auth.example.com ', 'https://auth.example.com', /whitespace/],
      ['https://auth.example.com\n', 'https://auth.example.com', /whitespace/],
      ['\thttps://auth.example.com', 'https://auth.example.com', /whitespace/],
      ['https://auth.example.com\\', 'https://auth.example.com', /backslash/],
      ['https:\\\\auth.example.com', 'https://auth.example.com', /backslash/],
      ['https://example.com\\auth', 'https://example.com/auth', /backslash/],
      ['https://Auth.Example.com', 'https://auth.example.com', /canonical/],
      ['https://auth.example.com:443', 'https://auth.example.com', /canonical/],
      ['http://127.0.0.1:80/x/../auth', 'http://127.0.0.1/auth', /canonical/],
      ['https://example.com/a b', 'https://example.com/a%20b', /whitespace/],
    ];
    for (const [LATCHKEY_PUBLIC_URL, canonical, reason] of cases) {
      const p = problems({ LATCHKEY_PUBLIC_URL });
      expect(p, JSON.stringify(LATCHKEY_PUBLIC_URL)).toHaveLength(1);
      expect(p[0], JSON.stringify(LATCHKEY_PUBLIC_URL)).toMatch(/^LATCHKEY_PUBLIC_URL: /);
      expect(p[0], JSON.stringify(LATCHKEY_PUBLIC_URL)).toMatch(reason);
      expect(p[0], JSON.stringify(LATCHKEY_PUBLIC_URL)).toContain(`"${canonical}"`);
    }
    // Canonical values are taken as they are.
    for (const url of ['https://auth.example.com', 'http://127.0.0.1:4000', 'https://example.com/auth', 'https://example.com:8443/a/b', 'http://[::1]:4000']) {
      expect(loadConfig({ LATCHKEY_PUBLIC_URL: url }).publicUrl).toBe(url);
    }
  });

  it('refuses PORT=0 unless LATCHKEY_PUBLIC_URL is set: the default issuer cannot name a port picked at listen time', () => {
    expect(problems({ PORT: '0' })).toEqual([expect.stringMatching(/^PORT: 0 .*LATCHKEY_PUBLIC_URL/)]);
    expect(problems({ PORT: '0', LATCHKEY_PUBLIC_URL: '' })).toEqual([expect.stringMatching(/^PORT: 0 .*LATCHKEY_PUBLIC_URL/)]);
    // Reported with every other bad value at once.
    expect(problems({ PORT: '0', LATCHKEY_LOG_LEVEL: 'loud' }).map((x) => x.split(':')[0]).sort()).toEqual(['LATCHKEY_LOG_LEVEL', 'PORT']);
    const c = loadConfig({ PORT: '0', LATCHKEY_PUBLIC_URL: 'https://auth.example.com' });
    expect(c).toMatchObject({ port: 0, publicUrl: 'https://auth.example.com' });
  });

  it('refuses a database URL that is not PostgreSQL', () => {
    for (const url of ['mysql://x', 'sqlite:///tmp/x.db', 'x']) {
      const p = problems({ LATCHKEY_DATABASE_URL: url });
      expect(p).toEqual(['LATCHKEY_DATABASE_URL: must be a postgres:// or postgresql:// URL']);
    }
  });

  it('refuses a short encryption key and an unknown log level', () => {
    expect(problems({ LATCHKEY_ENCRYPTION_KEY: 'short' })[0]).toMatch(/^LATCHKEY_ENCRYPTION_KEY: must be at least 32 characters/);
    expect(problems({ LATCHKEY_LOG_LEVEL: 'loud' })[0]).toMatch(/^LATCHKEY_LOG_LEVEL: /);
  });

  it('reports every bad value at once, one problem each, in the error message too', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', LATCHKEY_PUBLIC_URL: 'http://a.example.com/', LATCHKEY_DATABASE_URL: 'mysql://x' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const { problems: p, message } = err as ConfigError;
    expect(p).toHaveLength(3);
    expect(p.map((x) => x.split(':')[0]).sort()).toEqual(['LATCHKEY_DATABASE_URL', 'LATCHKEY_PUBLIC_URL', 'PORT']);
    for (const line of p) expect(message).toContain(`  - ${line}`);
  });

  it('takes LATCHKEY_HASHER_THREADS from 1 to 64 and refuses anything else, naming it', () => {
    expect(loadConfig({}).hasherThreads).toBeUndefined();
    expect(loadConfig({ LATCHKEY_HASHER_THREADS: '3' }).hasherThreads).toBe(3);
    for (const v of ['0', '65', '1.5', 'many']) {
      expect(problems({ LATCHKEY_HASHER_THREADS: v }), v).toEqual([expect.stringMatching(/^LATCHKEY_HASHER_THREADS: /)]);
    }
  });

  it('pins the hashers unless LATCHKEY_HASHER_PINNING=off, and refuses other values, naming it', () => {
    expect(loadConfig({}).hasherPinning).toBe(true);
    expect(loadConfig({ LATCHKEY_HASHER_PINNING: 'on' }).hasherPinning).toBe(true);
    expect(loadConfig({ LATCHKEY_HASHER_PINNING: 'off' }).hasherPinning).toBe(false);
    expect(problems({ LATCHKEY_HASHER_PINNING: 'no' })).toEqual([expect.stringMatching(/^LATCHKEY_HASHER_PINNING: must be "on" or "off"/)]);
  });

  it('requires an encryption key in production', () => {
    expect(problems({ NODE_ENV: 'production' })).toEqual([expect.stringMatching(/^LATCHKEY_ENCRYPTION_KEY: is required when NODE_ENV=production/)]);
    expect(loadConfig({ NODE_ENV: 'development' }).production).toBe(false);
  });

  it('reads process.env by default', () => {
    const saved = process.env.PORT;
    process.env.PORT = '4555';
    try {
      expect(loadConfig().port).toBe(4555);
    } finally {
      if (saved === undefined) delete process.env.PORT;
      else process.env.PORT = saved;
    }
  });
});

describe('LATCHKEY_INSTANCE_SETTINGS', () => {
  it('parses a JSON object of instance settings', () => {
    const c = loadConfig({ LATCHKEY_INSTANCE_SETTINGS: '{"session_inactivity_timeout":1800,"allowed_origins":["https://app.example.com"]}' });
    expect(c.instanceSettings).toEqual({ session_inactivity_timeout: 1800, allowed_origins: ['https://app.example.com'] });
  });
  it('refuses invalid JSON and invalid settings with a message naming the setting', () => {
    expect(() => loadConfig({ LATCHKEY_INSTANCE_SETTINGS: '{nope' })).toThrow(/LATCHKEY_INSTANCE_SETTINGS: must be a JSON object/);
    expect(() => loadConfig({ LATCHKEY_INSTANCE_SETTINGS: '{"session_token_lifetime":5}' })).toThrow(/LATCHKEY_INSTANCE_SETTINGS\.session_token_lifetime/);
    expect(() => loadConfig({ LATCHKEY_INSTANCE_SETTINGS: '{"bogus":1}' })).toThrow(/LATCHKEY_INSTANCE_SETTINGS/);
  });
});

describe('LATCHKEY_RATE_LIMITS', () => {
  it('parses bucket overrides and refuses unknown buckets or bad numbers', () => {
    expect(loadConfig({ LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":100,"durationSec":60}}' }).rateLimits)
      .toEqual({ signInPerIp: { points: 100, durationSec: 60 } });
    expect(() => loadConfig({ LATCHKEY_RATE_LIMITS: '{"nope":{"points":1,"durationSec":1}}' })).toThrow(/LATCHKEY_RATE_LIMITS/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMITS: '{"signUpPerIp":{"points":0,"durationSec":60}}' })).toThrow(/LATCHKEY_RATE_LIMITS\.signUpPerIp\.points/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMITS: 'x' })).toThrow(/must be a JSON object/);
  });
});

describe('mail configuration', () => {
  it('refuses a LATCHKEY_SMTP_URL that is not an smtp:// or smtps:// URL, without quoting it', () => {
    for (const bad of ['not a url', 'http://user:hunter2pass@mail.example.com', 'smtp://', 'smtp:relay', 'mailto:ops@example.com']) {
      const p = problems({ LATCHKEY_SMTP_URL: bad });
      expect(p, bad).toHaveLength(1);
      expect(p[0], bad).toMatch(/^LATCHKEY_SMTP_URL: must .*smtp:\/\/.*smtps:\/\//);
      expect(p[0]).not.toContain('hunter2pass');
    }
  });

  it('refuses a blank or address-less LATCHKEY_MAIL_FROM, reporting every bad value at once', () => {
    expect(problems({ LATCHKEY_MAIL_FROM: '   ' })).toEqual(['LATCHKEY_MAIL_FROM: must not be blank']);
    expect(problems({ LATCHKEY_MAIL_FROM: 'Latchkey' })).toEqual([expect.stringMatching(/^LATCHKEY_MAIL_FROM: must contain an email address/)]);
    expect(problems({ LATCHKEY_MAIL_FROM: 'a@b.test\r\nBcc: x@y.test' })).toEqual([expect.stringMatching(/^LATCHKEY_MAIL_FROM: must be one line/)]);
    expect(problems({ LATCHKEY_SMTP_URL: 'ftp://x', LATCHKEY_MAIL_FROM: 'nobody' })).toHaveLength(2);
  });

  it('takes smtp:// and smtps:// URLs and a From address; unset or empty means none', () => {
    const c = loadConfig({ LATCHKEY_SMTP_URL: 'smtps://u:p%40ss@smtp.example.com:465', LATCHKEY_MAIL_FROM: ' Acme <no-reply@acme.com> ' });
    expect(c.smtpUrl).toBe('smtps://u:p%40ss@smtp.example.com:465');
    expect(c.mailFrom).toBe('Acme <no-reply@acme.com>');
    expect(loadConfig({ LATCHKEY_SMTP_URL: 'smtp://127.0.0.1:2525?ignoreTLS=true' }).smtpUrl).toBe('smtp://127.0.0.1:2525?ignoreTLS=true');
    const none = loadConfig({ LATCHKEY_SMTP_URL: '', LATCHKEY_MAIL_FROM: '' });
    expect(none.smtpUrl).toBeUndefined();
    expect(none.mailFrom).toBeUndefined();
    expect(defaultMailFrom('https://auth.example.com')).toBe('Latchkey <no-reply@auth.example.com>');
    expect(defaultMailFrom('http://127.0.0.1:4000')).toBe('Latchkey <no-reply@127.0.0.1>');
  });
});
