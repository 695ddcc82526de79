import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Two instances on one PostgreSQL database count in the same rate-limit
 * buckets: a client spreading its sign-in attempts over both gains nothing.
 */
const noPostgres = !inject('pgUrl');
const LIMITS = JSON.stringify({ signInPerIp: { points: 3, durationSec: 60 }, signInPerIdentifier: { points: 100, durationSec: 60 } });

describe.skipIf(noPostgres)('rate limits shared by instances on one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    a = await startServer('postgres', { env: { LATCHKEY_RATE_LIMITS: LIMITS, LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' } });
    b = await startServer('postgres', { env: { LATCHKEY_DATABASE_URL: a.databaseUrl!, LATCHKEY_RATE_LIMITS: LIMITS, LATCHKEY_TRUSTED_PROXIES: '127.0.0.1' } });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
  });

  const signIn = (server: TestServer, ip: string) => fetch(`${server.url}/v1/client/sign_ins`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'latchkey-native': '1', 'x-forwarded-for': ip },
    body: JSON.stringify({ identifier: 'nobody@example.com', password: 'whatever it is' }),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after') }));

  it('attempts through either instance take from one bucket; the 429 carries Retry-After', async () => {
    const statuses = [];
    for (const server of [a, b, a, b]) statuses.push((await signIn(server, '198.51.100.7')).status);
    expect(statuses).toEqual([422, 422, 422, 429]);
    const refused = await signIn(a, '198.51.100.7');
    expect(refused.status).toBe(429);
    expect(Number(refused.retryAfter)).toBeGreaterThan(0);
    // Another client is not affected.
    expect((await signIn(b, '198.51.100.8')).status).toBe(422);
  });

  it('the counters live in the rate_limits table, under hashed keys', async () => {
    const rows = await a.db.selectFrom('rate_limits' as never).selectAll().execute() as { key: string; points: number }[];
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => /^sign(In|Up)Per(Ip|Identifier):[0-9a-f]{64}$/.test(r.key))).toBe(true);
    expect(JSON.stringify(rows)).not.toContain('198.51.100.7');
  });
});
