import { verifyToken } from '@clerk/backend';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/postgres.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

interface Mail {
  to: string;
  raw: string;
}

/** A real SMTP server on loopback that keeps what it receives. */
async function startSmtp(): Promise<{ port: number; mails: Mail[]; close(): Promise<void> }> {
  const mails: Mail[] = [];
  const port = await freePort();
  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.setEncoding('utf8');
      stream.on('data', (d: string) => (raw += d));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address).join(','), raw });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(port, '127.0.0.1', resolve));
  return { port, mails, close: () => new Promise((resolve) => smtp.close(() => resolve())) };
}

const codeIn = (mail: Mail | undefined) => /\b(\d{6})\b/.exec(mail?.raw.split('\r\n\r\n').slice(1).join('\n') ?? '')?.[1];

/**
 * The end-user journey over HTTP alone, as a browser (cookie) and as a native
 * app (Bearer client token): sign up, the code arrives by SMTP, verify, a token
 * that @clerk/backend verifies, sign out, and the token endpoint refuses.
 */
describe.each(dialects())('Frontend API journey (%s)', (dialect) => {
  let server: TestServer;
  let smtp: Awaited<ReturnType<typeof startSmtp>>;

  beforeAll(async () => {
    smtp = await startSmtp();
    server = await startServer(dialect, {
      env: { LATCHKEY_SMTP_URL: `smtp://127.0.0.1:${smtp.port}`, LATCHKEY_MAIL_FROM: 'Latchkey <auth@example.com>' },
    });
  });
  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  /** A browser: keeps the cookie jar by hand and sends its Origin. */
  function browser() {
    let cookie = '';
    return async (method: string, path: string, json?: unknown) => {
      const headers: Record<string, string> = { origin: server.url };
      if (cookie) headers.cookie = cookie;
      if (json !== undefined) headers['content-type'] = 'application/json';
      const res = await fetch(`${server.url}${path}`, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
      const set = res.headers.get('set-cookie');
      if (set) cookie = set.split(';')[0]!;
      return { status: res.status, body: await res.json(), setCookie: set };
    };
  }

  const verifyWithClerk = (jwt: string) => verifyToken(jwt, { apiUrl: server.url, secretKey: server.secretKey, skipJwksCache: true });

  it('browser: sign up, code by SMTP, verify, token verified by @clerk/backend, sign out, token refused', async () => {
    const call = browser();
    const started = await call('POST', '/v1/client/sign_ups', { email_address: 'Journey@Example.com', password: 'a long and lovely passphrase', first_name: 'Jo' });
    expect(started.status).toBe(200);
    expect(started.setCookie).toMatch(/__client=[^;]+;.*HttpOnly/i);
    expect(started.setCookie).toMatch(/SameSite=Lax/i);
    expect(started.body.response).toMatchObject({ object: 'sign_up', status: 'missing_requirements', unverified_fields: ['email_address'] });

    const mail = smtp.mails.find((m) => m.to.toLowerCase() === 'journey@example.com');
    const code = codeIn(mail);
    expect(code).toMatch(/^\d{6}$/);

    const wrong = await call('POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code: code === '000000' ? '111111' : '000000' });
    expect(wrong.status).toBe(422);
    expect(wrong.body.errors[0].code).toBe('form_code_incorrect');

    const verified = await call('POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code });
    expect(verified.status).toBe(200);
    const sid = verified.body.response.created_session_id as string;
    expect(verified.body.response).toMatchObject({ status: 'complete', created_user_id: expect.stringMatching(/^user_/) });
    expect(verified.body.client.sessions.map((s: { id: string }) => s.id)).toEqual([sid]);
    expect(verified.body.client.sessions[0].user.email_addresses[0].verification.status).toBe('verified');

    const client = await call('GET', '/v1/client');
    expect(client.body.response.last_active_session_id).toBe(sid);

    const minted = await call('POST', `/v1/client/sessions/${sid}/tokens`, {});
    expect(minted.status).toBe(200);
    const claims = await verifyWithClerk(minted.body.jwt);
    expect(claims).toMatchObject({ sub: verified.body.response.created_user_id, sid, azp: server.url });

    const out = await call('POST', `/v1/client/sessions/${sid}/end`, {});
    expect(out.status).toBe(200);
    expect(out.body.response.status).toBe('ended');
    expect(out.body.client.sessions).toEqual([]);
    const refused = await call('POST', `/v1/client/sessions/${sid}/tokens`, {});
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].code).toBe('session_not_active');

    // Signing in again with the password works and is a new session on the same client.
    const again = await call('POST', '/v1/client/sign_ins', { identifier: 'journey@example.com', password: 'a long and lovely passphrase' });
    expect(again.status).toBe(200);
    expect(again.body.response.created_session_id).not.toBe(sid);
  });

  it('native app: Bearer client token instead of a cookie', async () => {
    const first = await fetch(`${server.url}/v1/client/sign_ups`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'latchkey-native': '1' },
      body: JSON.stringify({ email_address: 'native@example.com', password: 'another long passphrase' }),
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('set-cookie')).toBeNull();
    const token = first.headers.get('latchkey-client-token')!;
    expect(token.length).toBeGreaterThan(30);
    const signUp = (await first.json()).response;
    const code = codeIn(smtp.mails.find((m) => m.to === 'native@example.com'));
    const verified = await fetch(`${server.url}/v1/client/sign_ups/${signUp.id}/attempt_verification`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ code }),
    });
    // Signing in gave the client a new token; the old one is void.
    const rotated = verified.headers.get('latchkey-client-token')!;
    expect(rotated).not.toBe(token);
    const bearer = { authorization: `Bearer ${rotated}`, 'content-type': 'application/json' };
    const sid = (await verified.json()).response.created_session_id;
    const minted = await (await fetch(`${server.url}/v1/client/sessions/${sid}/tokens`, { method: 'POST', headers: bearer, body: '{}' })).json();
    expect((await verifyWithClerk(minted.jwt)).sid).toBe(sid);
    await fetch(`${server.url}/v1/client/sessions`, { method: 'DELETE', headers: bearer });
    const refused = await fetch(`${server.url}/v1/client/sessions/${sid}/tokens`, { method: 'POST', headers: bearer, body: '{}' });
    expect(refused.status).toBe(422);
    const badToken = await fetch(`${server.url}/v1/client`, { headers: { authorization: 'Bearer nope' } });
    expect(badToken.status).toBe(401);
  });

  it('revoking a session through the Backend API makes its next token request fail', async () => {
    const call = browser();
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['revoke-me@example.com'], password: 'a fine long password' } });
    const signIn = await call('POST', '/v1/client/sign_ins', { identifier: 'revoke-me@example.com', password: 'a fine long password' });
    const sid = signIn.body.response.created_session_id;
    expect((await call('POST', `/v1/client/sessions/${sid}/tokens`, {})).status).toBe(200);
    await server.api(`/v1/sessions/${sid}/revoke`, { method: 'POST' });
    expect((await call('POST', `/v1/client/sessions/${sid}/tokens`, {})).status).toBe(422);
  });

  it('unknown and known identifiers get the same status and body on sign-in', async () => {
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['known@example.com'], password: 'the right password here' } });
    const call = browser();
    const known = await call('POST', '/v1/client/sign_ins', { identifier: 'known@example.com', password: 'a wrong password' });
    const unknown = await call('POST', '/v1/client/sign_ins', { identifier: 'nobody@example.com', password: 'a wrong password' });
    expect(known.status).toBe(422);
    expect(unknown.status).toBe(known.status);
    const strip = (b: { errors: unknown[] }) => b.errors;
    expect(strip(unknown.body)).toEqual(strip(known.body));
  });

  it('cookie-authenticated writes need an allowed Origin (CSRF)', async () => {
    const call = browser();
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['csrf@example.com'], password: 'a fine long password' } });
    const signIn = await call('POST', '/v1/client/sign_ins', { identifier: 'csrf@example.com', password: 'a fine long password' });
    const sid = signIn.body.response.created_session_id;
    const cookie = signIn.setCookie!.split(';')[0]!;
    for (const origin of ['https://evil.example', undefined]) {
      const res = await fetch(`${server.url}/v1/client/sessions/${sid}/end`, {
        method: 'POST', headers: { cookie, 'content-type': 'application/json', ...(origin ? { origin } : {}) }, body: '{}',
      });
      expect(res.status, String(origin)).toBe(403);
    }
    expect((await server.api(`/v1/sessions/${sid}`).then((r) => r.json())).status).toBe('active');
    // Without any cookie too: a cross-site form must not sign a visitor into someone's account.
    const forged = await fetch(`${server.url}/v1/client/sign_ins`, {
      method: 'POST', headers: { 'content-type': 'text/plain', origin: 'https://evil.example' },
      body: JSON.stringify({ identifier: 'csrf@example.com', password: 'a fine long password' }),
    });
    expect(forged.status).toBe(403);
    expect(forged.headers.get('set-cookie')).toBeNull();
  });
});
