import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenVerificationError, verifyToken } from '../../../backend/src/index.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';

/** Findings of a security review, each pinned by a test. */
describe.each(dialects())('hardening (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
  });
  afterAll(() => server?.close());

  const createUser = async (json: Record<string, unknown>) =>
    (await (await server.api('/v1/users', { method: 'POST', json })).json()) as { id: string; username: string };

  it('refuses deeply nested bodies and NUL characters with 400, changing nothing', async () => {
    const u = await createUser({ email_address: ['deep@example.com'] });
    const before = await snapshot(server.db);
    // Built as text: JSON.stringify itself would overflow the stack on 20,000 levels.
    const deep = `{"public_metadata":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`;
    const nested = await server.api(`/v1/users/${u.id}/metadata`, { method: 'PATCH', body: deep, headers: { 'content-type': 'application/json' } });
    expect(nested.status).toBe(400);
    expect((await nested.json()).errors[0].code).toBe('malformed_request');
    const nul = await server.api('/v1/users', { method: 'POST', json: { email_address: ['nul@example.com'], first_name: 'a\u0000b' } });
    expect(nul.status).toBe(400);
    for (const path of [`/v1/users/a%00b`, '/v1/users?query=%00', '/v1/sessions/%00']) {
      expect((await server.api(path)).status).toBe(400);
    }
    // 64 levels of metadata are still fine.
    let ok: unknown = 1;
    for (let i = 0; i < 60; i++) ok = { a: ok };
    expect((await server.api(`/v1/users/${u.id}/metadata`, { method: 'PATCH', json: { private_metadata: ok } })).status).toBe(200);
    await server.api(`/v1/users/${u.id}/metadata`, { method: 'PUT', json: { private_metadata: {} } });
    expect(JSON.parse(await snapshot(server.db)).users.length).toBe(JSON.parse(before).users.length);
  });

  it('JWT templates can neither outlive 7 days nor set session or impersonation claims', async () => {
    const long = await server.api('/v1/jwt_templates', { method: 'POST', json: { name: 'long', claims: {}, lifetime: 315_360_000 } });
    expect(long.status).toBe(422);
    for (const claim of ['act', 'o', 'sid', 'sts', 'v', 'fva']) {
      const res = await server.api('/v1/jwt_templates', { method: 'POST', json: { name: `t_${claim}`, claims: { [claim]: '{{user.unsafe_metadata.x}}' } } });
      expect(res.status, claim).toBe(422);
    }
  });

  it('usernames are case-insensitive; search folds non-ASCII case on both databases', async () => {
    const u = await createUser({ email_address: ['case@example.com'], username: 'MixedCase', first_name: 'Ärger' });
    expect(u.username).toBe('mixedcase');
    const dup = await server.api('/v1/users', { method: 'POST', json: { email_address: ['case2@example.com'], username: 'MIXEDCASE' } });
    expect((await dup.json()).errors[0]).toMatchObject({ code: 'form_identifier_exists', meta: { param_name: 'username' } });
    const byName = await (await server.api('/v1/users?username=MixedCase')).json();
    expect(byName.map((x: { id: string }) => x.id)).toEqual([u.id]);
    for (const q of ['ärger', 'ÄRGER', 'Ärg']) {
      const found = await (await server.api(`/v1/users?query=${encodeURIComponent(q)}`)).json();
      expect(found.map((x: { id: string }) => x.id), q).toEqual([u.id]);
    }
  });

  it('concurrent metadata merges all land, and a ban racing new sessions leaves none active', async () => {
    const u = await createUser({ email_address: ['race-meta@example.com'] });
    await Promise.all(Array.from({ length: 20 }, (_, i) =>
      server.api(`/v1/users/${u.id}/metadata`, { method: 'PATCH', json: { public_metadata: { [`k${i}`]: i } } })));
    const after = await (await server.api(`/v1/users/${u.id}`)).json();
    expect(Object.keys(after.public_metadata)).toHaveLength(20);

    for (let round = 0; round < 5; round++) {
      const v = await createUser({ email_address: [`race-ban-${round}@example.com`] });
      await Promise.all([
        ...Array.from({ length: 4 }, () => server.api('/v1/sessions', { method: 'POST', json: { user_id: v.id } })),
        server.api(`/v1/users/${v.id}/ban`, { method: 'POST' }),
      ]);
      const sessions = await (await server.api(`/v1/sessions?user_id=${v.id}&status=active`)).json();
      expect(sessions, `round ${round}`).toEqual([]);
    }
  });

  it('an imported argon2 digest with an extreme cost is refused', async () => {
    const res = await server.api('/v1/users', {
      method: 'POST',
      json: { email_address: ['cost@example.com'], password_hasher: 'argon2id', password_digest: '$argon2id$v=19$m=99999999,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA' },
    });
    expect(res.status).toBe(422);
    expect((await res.json()).errors[0].meta.param_name).toBe('password_digest');
  });

  it.skipIf(dialect !== 'sqlite')('the SQLite file and its folder are private to the owner', () => {
    expect(statSync(join(server.dataDir, 'latchkey.db')).mode & 0o077).toBe(0);
  });

  it('verifyToken refuses odd algorithm names with a TokenVerificationError, not a TypeError', async () => {
    const jwks = await (await fetch(`${server.url}/.well-known/jwks.json`)).json();
    for (const alg of ['constructor', 'toString', '__proto__', 'none', 'HS256']) {
      const header = Buffer.from(JSON.stringify({ alg, kid: jwks.keys[0].kid })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ sub: 'user_x', exp: Math.floor(Date.now() / 1000) + 60 })).toString('base64url');
      const err = await verifyToken(`${header}.${body}.c2ln`, { keys: jwks }).catch((e: unknown) => e);
      expect(err, alg).toBeInstanceOf(TokenVerificationError);
      expect((err as TokenVerificationError).reason).toBe('token-invalid-algorithm');
    }
  });
});
