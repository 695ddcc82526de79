import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, pgUrl, shopDatabase, startLatchkey, type Latchkey } from './support/fixture.js';

/**
 * The README's command, as a person runs it: `node examples/express-shop/src/server.mjs`
 * with the environment only. It starts, creates its schema, serves, and stops
 * cleanly on SIGTERM; with variables missing it says which and exits 1.
 */

const SERVER = fileURLToPath(new URL('../src/server.mjs', import.meta.url));

interface Run {
  output(): string;
  exited: Promise<number | null>;
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  kill(): void;
}

function run(env: Record<string, string>): Run {
  const base: Record<string, string> = {};
  // The shop reads nothing from the test runner's own environment.
  for (const k of ['PATH', 'HOME', 'SYSTEMROOT']) if (process.env[k] !== undefined) base[k] = process.env[k]!;
  const child = spawn(process.execPath, [SERVER], { env: { ...base, CLERK_TELEMETRY_DISABLED: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const listeners: (() => void)[] = [];
  const collect = (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => out,
    exited,
    waitFor: (pattern) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(out);
          if (m) resolve(m);
        };
        listeners.push(check);
        check();
        exited.then((code) => reject(new Error(`the shop exited (${code}) before printing ${pattern}:\n${out}`)));
      }),
    kill: () => child.kill('SIGTERM'),
  };
}

describe('node examples/express-shop/src/server.mjs', () => {
  it('names every missing variable and exits 1', async () => {
    const shop = run({ AUTH_SDK: 'clerk', PORT: 'eighty' });
    expect(await shop.exited).toBe(1);
    const out = shop.output();
    for (const name of ['LATCHKEY_API_URL', 'LATCHKEY_SECRET_KEY', 'CLERK_PUBLISHABLE_KEY', 'DATABASE_URL', 'PORT must be']) {
      expect(out, name).toContain(name);
    }
  });

  (pgUrl() ? describe : describe.skip)('with Latchkey and PostgreSQL', () => {
    let lk: Latchkey;
    let db: Awaited<ReturnType<typeof shopDatabase>>;
    beforeAll(async () => {
      lk = await startLatchkey();
      db = await shopDatabase();
    });
    afterAll(async () => {
      await lk?.close();
      await db?.close();
    });

    it('starts from the environment alone, creates its schema, serves, and stops on SIGTERM', async () => {
      const port = await freePort();
      const shop = run({
        LATCHKEY_API_URL: lk.url, LATCHKEY_SECRET_KEY: lk.server.secretKey, DATABASE_URL: db.url, PORT: String(port), NODE_ENV: 'production',
      });
      try {
        await shop.waitFor(/shop listening on http:\/\/127\.0\.0\.1:\d+ \(auth: latchkey/);
        await shop.waitFor(/LATCHKEY_WEBHOOK_SECRET is not set: POST \/api\/webhooks\/latchkey answers 500/);
        const tables = await db.pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`);
        expect(tables.rows.map((r) => r.table_name)).toEqual(['orders', 'products', 'sent_emails', 'users', 'webhook_inbox']);
        const products = await fetch(`http://127.0.0.1:${port}/api/products`);
        expect(products.status).toBe(200);
        expect(await products.json()).toEqual({ products: [] });
        const profile = await fetch(`http://127.0.0.1:${port}/api/users/profile`);
        expect(profile.status).toBe(401);
        expect(await profile.json()).toEqual({ error: 'Authentication required', message: 'Please sign in to access this resource' });
        const hook = await fetch(`http://127.0.0.1:${port}/api/webhooks/latchkey`, { method: 'POST', body: '{}' });
        expect(hook.status).toBe(500);
        expect(await hook.json()).toEqual({ error: 'Missing webhook secret' });
      } finally {
        shop.kill();
      }
      expect(await shop.exited).toBe(0);
    });
  });
});
