import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../src/config/config.js';
import { startServer, type TestServer } from '../support/server.js';

interface Entry { type: string; ip: string | null }

/** LATCHKEY_TRUSTED_PROXIES: whose X-Forwarded-For names the client (audit IPs, events, per-IP rate limits). */
describe('trusted proxies', () => {
  let trusting: TestServer;
  let plain: TestServer;
  beforeAll(async () => {
    trusting = await startServer('sqlite', { env: { LATCHKEY_TRUSTED_PROXIES: '127.0.0.1,10.0.0.0/8', LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":2,"durationSec":60}}' } });
    plain = await startServer('sqlite', { env: { LATCHKEY_RATE_LIMITS: '{"signInPerIp":{"points":2,"durationSec":60}}' } });
  });
  afterAll(async () => {
    await trusting?.close();
    await plain?.close();
  });

  /** Creates a user with the given X-Forwarded-For and returns the IP its audit entry recorded. */
  async function recordedIp(server: TestServer, forwardedFor?: string): Promise<string | null> {
    const email = `p${Math.random().toString(36).slice(2)}@example.com`;
    const res = await server.api('/v1/users', { method: 'POST', json: { email_address: [email] }, headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {} });
    expect(res.status).toBe(200);
    const { id } = (await res.json()) as { id: string };
    const log = (await (await server.api(`/v1/audit_logs?target_id=${id}&types=user.created`)).json()) as { data: Entry[] };
    return log.data[0]!.ip;
  }

  it('behind a trusted proxy the client is the nearest untrusted address in X-Forwarded-For', async () => {
    expect(await recordedIp(trusting, '203.0.113.9')).toBe('203.0.113.9');
    // A client cannot spoof itself further left: the proxy appended the address it saw last.
    expect(await recordedIp(trusting, '198.51.100.1, 203.0.113.9')).toBe('203.0.113.9');
    // Hops through trusted proxies are skipped.
    expect(await recordedIp(trusting, '203.0.113.9, 10.1.2.3')).toBe('203.0.113.9');
    // No header, or garbage: the peer itself.
    expect(await recordedIp(trusting)).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
    expect(await recordedIp(trusting, 'not-an-ip')).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it('without LATCHKEY_TRUSTED_PROXIES the header is ignored', async () => {
    expect(await recordedIp(plain, '203.0.113.9')).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
  });

  it('per-IP rate limits count the forwarded client, not the proxy', async () => {
    const signIn = (server: TestServer, ip: string) => fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'latchkey-native': '1', 'x-forwarded-for': ip },
      body: JSON.stringify({ identifier: 'nobody@example.com', password: 'whatever it is' }),
    }).then((r) => r.status);
    expect([await signIn(trusting, '203.0.113.10'), await signIn(trusting, '203.0.113.10'), await signIn(trusting, '203.0.113.10')]).toEqual([422, 422, 429]);
    expect(await signIn(trusting, '203.0.113.11')).toBe(422); // another client behind the same proxy has its own bucket
    expect([await signIn(plain, '203.0.113.10'), await signIn(plain, '203.0.113.11'), await signIn(plain, '203.0.113.12')]).toEqual([422, 422, 429]);
  });

  it('bad entries are refused at start with a clear message', () => {
    for (const bad of ['10.0.0.0/33', 'example.com', '::1/129', '10.0.0.1/8/1']) {
      expect(() => loadConfig({ LATCHKEY_TRUSTED_PROXIES: bad }), bad).toThrow(ConfigError);
    }
    expect(loadConfig({ LATCHKEY_TRUSTED_PROXIES: '127.0.0.1, ::1, 10.0.0.0/8, fd00::/8' }).trustedProxies).toEqual(['127.0.0.1', '::1', '10.0.0.0/8', 'fd00::/8']);
  });
});
