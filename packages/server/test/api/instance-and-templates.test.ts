import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

const claimsOf = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

describe.each(dialects())('instance settings, session lifetimes and JWT templates (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
    // The roles the tests give users (public_metadata.role must name a role in the catalog).
    for (const [key, name] of [['store_owner', 'Store owner'], ['admin', 'Admin']]) {
      const res = await server.api('/v1/roles', { method: 'POST', json: { key, name } });
      expect(res.status).toBe(200);
    }
  });
  afterAll(() => server?.close());

  async function userWithSession(email: string, metadata: Record<string, unknown> = {}) {
    const created = await server.api('/v1/users', {
      method: 'POST',
      json: { email_address: [email], first_name: 'Grace', last_name: 'Hopper', public_metadata: metadata },
    });
    expect(created.status).toBe(200);
    const user = await created.json();
    const session = await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json();
    return { user, session };
  }
  const mint = async (sid: string, template = '', body: unknown = {}) =>
    server.api(`/v1/sessions/${sid}/tokens${template ? `/${template}` : ''}`, { method: 'POST', json: body });

  it('PATCH /v1/instance changes only the settings it names', async () => {
    let res = await server.api('/v1/instance', { method: 'PATCH', json: { session_claims: { role: '{{user.public_metadata.role}}' } } });
    expect(res.status).toBe(200);
    res = await server.api('/v1/instance', { method: 'PATCH', json: { session_token_lifetime: 120 } });
    const body = await res.json();
    expect(body).toMatchObject({
      object: 'instance', session_token_lifetime: 120, session_claims: { role: '{{user.public_metadata.role}}' }, issuer: server.url,
    });
    expect((await (await server.api('/v1/instance')).json()).session_token_lifetime).toBe(120);
  });

  it('refuses reserved or oversized session claims and bad values, changing nothing', async () => {
    const before = await (await server.api('/v1/instance')).json();
    for (const json of [{ session_claims: { sub: 'x' } }, { session_claims: { big: 'x'.repeat(2000) } }, { session_token_lifetime: 5 }, { nope: 1 }]) {
      const res = await server.api('/v1/instance', { method: 'PATCH', json });
      expect(res.status).toBe(422);
    }
    expect(await (await server.api('/v1/instance')).json()).toEqual(before);
  });

  it('session tokens carry custom claims and the configured lifetime; metadata changes show in the next token', async () => {
    const { user, session } = await userWithSession('claims@example.com', { role: 'store_owner' });
    const t1 = claimsOf((await (await mint(session.id)).json()).jwt);
    expect(t1.role).toBe('store_owner');
    expect((t1.exp as number) - (t1.iat as number)).toBe(120);
    expect((await server.api(`/v1/users/${user.id}/metadata`, { method: 'PATCH', json: { public_metadata: { role: 'admin' } } })).status).toBe(200);
    expect(claimsOf((await (await mint(session.id)).json()).jwt).role).toBe('admin');
  });

  it('ends sessions by maximum lifetime and by inactivity, on the injected clock', async () => {
    await server.api('/v1/instance', { method: 'PATCH', json: { session_max_lifetime: 3600, session_inactivity_timeout: 600 } });
    const { session } = await userWithSession('life@example.com');
    expect(session.expire_at - session.created_at).toBe(3_600_000);
    expect(session.abandon_at - session.created_at).toBe(600_000);
    clock.advance(599_000);
    expect((await mint(session.id)).status).toBe(200);
    clock.advance(2_000);
    const refused = await mint(session.id);
    expect(refused.status).toBe(422);
    expect((await refused.json()).errors[0]).toMatchObject({ code: 'session_not_active', meta: { status: 'abandoned' } });
    expect((await (await server.api(`/v1/sessions/${session.id}`)).json()).status).toBe('abandoned');

    await server.api('/v1/instance', { method: 'PATCH', json: { session_inactivity_timeout: 0 } });
    const second = (await userWithSession('life2@example.com')).session;
    expect(second.abandon_at).toBe(second.expire_at);
    clock.advance(3_600_000);
    expect((await (await server.api(`/v1/sessions/${second.id}`)).json()).status).toBe('expired');
    expect((await mint(second.id)).status).toBe(422);
    await server.api('/v1/instance', { method: 'PATCH', json: { session_max_lifetime: 604_800 } });
  });

  it('mints JWT-template tokens; the built-in convex template has typed, stable claims', async () => {
    const { user, session } = await userWithSession('tmpl@example.com', { dbId: 7 });
    const created = await server.api('/v1/jwt_templates', {
      method: 'POST',
      json: {
        name: 'app',
        claims: { userId: '{{user.id}}', email: '{{user.primary_email_address}}', full: '{{user.first_name}} {{user.last_name}}', dbId: '{{user.public_metadata.dbId}}', fixed: 'x' },
        lifetime: 300,
        aud: 'my-api',
      },
    });
    expect(created.status).toBe(200);
    expect(await created.json()).toMatchObject({ object: 'jwt_template', name: 'app', lifetime: 300 });
    const app = claimsOf((await (await mint(session.id, 'app')).json()).jwt);
    expect(app).toMatchObject({ userId: user.id, email: 'tmpl@example.com', full: 'Grace Hopper', dbId: 7, fixed: 'x', aud: 'my-api', sub: user.id, iss: server.url });
    expect((app.exp as number) - (app.iat as number)).toBe(300);
    expect(app.sid).toBeUndefined();

    const c1 = claimsOf((await (await mint(session.id, 'convex')).json()).jwt);
    clock.advance(1000);
    const c2 = claimsOf((await (await mint(session.id, 'convex')).json()).jwt);
    expect(c1).toMatchObject({ aud: 'convex', email: 'tmpl@example.com', email_verified: true, name: 'Grace Hopper', given_name: 'Grace' });
    const stable = (c: Record<string, unknown>) => {
      const { iat: _i, exp: _e, jti: _j, nbf: _n, ...rest } = c;
      return rest;
    };
    expect(stable(c2)).toEqual(stable(c1));
    expect(c2.jti).not.toBe(c1.jti);

    const list = await (await server.api('/v1/jwt_templates')).json();
    expect(list.data.map((t: { name: string }) => t.name)).toEqual(['convex', 'app']);
    expect(list.total_count).toBe(2);
  });

  it('refuses reserved template claims, duplicate names and unknown templates', async () => {
    const reserved = await server.api('/v1/jwt_templates', { method: 'POST', json: { name: 'bad', claims: { sub: 'x' } } });
    expect(reserved.status).toBe(422);
    const dup = await server.api('/v1/jwt_templates', { method: 'POST', json: { name: 'app', claims: {} } });
    expect(dup.status).toBe(422);
    expect((await dup.json()).errors[0].code).toBe('form_identifier_exists');
    const { session } = await userWithSession('tmpl2@example.com');
    expect((await mint(session.id, 'nope')).status).toBe(404);
  });
});
