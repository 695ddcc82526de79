import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newSecret, signedHeaders } from './signing.js';

/** The standardwebhooks signature, computed by hand: HMAC-SHA256 with the base64 key after `whsec_`. */
function expectedSignature(secret: string, id: string, seconds: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${seconds}.${body}`).digest('base64')}`;
}

describe('newSecret', () => {
  it('is whsec_ and the standard base64 of 24 random bytes', () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    const raw = Buffer.from(secret.slice(6), 'base64');
    expect(raw).toHaveLength(24);
    expect(raw.toString('base64')).toBe(secret.slice(6));
  });

  it('differs every time', () => {
    const secrets = new Set(Array.from({ length: 20 }, newSecret));
    expect(secrets.size).toBe(20);
  });
});

describe('signedHeaders', () => {
  const body = '{"object":"event","id":"evt_1","data":{"name":"Zoë 🔑"}}';
  const id = 'msg_2abc';
  const at = Date.UTC(2030, 0, 1, 12, 0, 0, 789); // milliseconds are dropped from the signed timestamp

  it('signs `${id}.${seconds}.${body}` with the decoded secret, under both header families', () => {
    const secret = newSecret();
    const h = signedHeaders(id, at, body, [secret]);
    const seconds = Math.floor(at / 1000);
    const signature = expectedSignature(secret, id, seconds, body);
    expect(h).toEqual({
      'svix-id': id,
      'svix-timestamp': String(seconds),
      'svix-signature': signature,
      'webhook-id': id,
      'webhook-timestamp': String(seconds),
      'webhook-signature': signature,
    });
  });

  it('signs with every secret during a rotation, space-separated, in the order given', () => {
    const [a, b] = [newSecret(), newSecret()];
    const seconds = Math.floor(at / 1000);
    const h = signedHeaders(id, at, body, [a, b]);
    expect(h['webhook-signature']).toBe(`${expectedSignature(a, id, seconds, body)} ${expectedSignature(b, id, seconds, body)}`);
    expect(h['svix-signature']).toBe(h['webhook-signature']);
  });

  it('changes with the body, the id, the time and the secret', () => {
    const secret = newSecret();
    const base = signedHeaders(id, at, body, [secret])['webhook-signature'];
    expect(signedHeaders(id, at, `${body} `, [secret])['webhook-signature']).not.toBe(base);
    expect(signedHeaders('msg_other', at, body, [secret])['webhook-signature']).not.toBe(base);
    expect(signedHeaders(id, at + 1000, body, [secret])['webhook-signature']).not.toBe(base);
    expect(signedHeaders(id, at, body, [newSecret()])['webhook-signature']).not.toBe(base);
  });
});
