import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type DialectName, type TestServer } from '../../server/test/support/server.js';
import { waitFor } from '../../server/test/support/wait.js';
import { startReceiver } from '../../server/test/support/webhook-receiver.js';
import { createLatchkeyClient, decodeJwt, LatchkeyApiError, type AuditLog, type LatchkeyClient } from '../src/index.js';

/**
 * createLatchkeyClient against a running Latchkey: every method group once,
 * with the answers checked field by field, and refusals as LatchkeyApiError.
 */

/** Runs `call`, which must be refused, and returns the error. */
async function refusal(call: Promise<unknown>): Promise<LatchkeyApiError> {
  try {
    await call;
  } catch (err) {
    expect(err).toBeInstanceOf(LatchkeyApiError);
    return err as LatchkeyApiError;
  }
  throw new Error('the call was expected to be refused');
}

async function expectRefused(call: Promise<unknown>, status: number, code: string, param?: string): Promise<LatchkeyApiError> {
  const err = await refusal(call);
  expect(err.status, err.message).toBe(status);
  expect(err.errors[0]!.code, err.message).toBe(code);
  expect(err.code).toBe(code);
  expect(typeof err.errors[0]!.long_message).toBe('string');
  if (param !== undefined) expect(err.errors[0]!.meta.param_name).toBe(param);
  expect(err.clerkTraceId).toMatch(/^[0-9a-f]{32}$/);
  return err;
}

describe.each(dialects())('createLatchkeyClient (%s)', (dialect: DialectName) => {
  let server: TestServer;
  let client: LatchkeyClient;
  /** Paths the client asked for, through its fetch option. */
  const requested: string[] = [];

  beforeAll(async () => {
    server = await startServer(dialect, { webhookPollMs: 50 });
    client = createLatchkeyClient({
      secretKey: server.secretKey,
      // With /v1 and a trailing slash: the client must not double it.
      apiUrl: `${server.url}/v1/`,
      fetch: (input, init) => {
        requested.push(`${init?.method ?? 'GET'} ${new URL(String(input)).pathname}`);
        return fetch(input, init);
      },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('goes through the fetch option, to /v1 paths', async () => {
    const before = requested.length;
    await client.instance.get();
    expect(requested.slice(before)).toEqual(['GET /v1/instance']);
  });

  it('users: create, get, list and count with filters, update', async () => {
    const ada = await client.users.create({
      email_address: ['ada@example.com'], first_name: 'Ada', last_name: 'Lovelace', username: 'ada_l',
      public_metadata: { plan: 'pro' }, private_metadata: { note: 'vip' },
    });
    expect(ada).toMatchObject({
      object: 'user', first_name: 'Ada', last_name: 'Lovelace', username: 'ada_l', banned: false, ban_reason: null,
      banned_until: null, locked: false, public_metadata: { plan: 'pro' }, private_metadata: { note: 'vip' },
    });
    expect(ada.id).toMatch(/^user_/);
    expect(ada.email_addresses.map((e) => e.email_address)).toEqual(['ada@example.com']);
    expect(ada.primary_email_address_id).toBe(ada.email_addresses[0]!.id);
    const grace = await client.users.create({ email_address: ['grace@example.com'], first_name: 'Grace', external_id: 'ext-grace' });

    expect(await client.users.get(ada.id)).toEqual(ada);

    // Repeated filters match any value; email matching is case-insensitive.
    const both = await client.users.list({ email_address: ['ADA@example.com', 'grace@example.com'], order_by: '+created_at' });
    expect(both.map((u) => u.id)).toEqual([ada.id, grace.id]);
    expect((await client.users.list({ query: 'lovelace' })).map((u) => u.id)).toEqual([ada.id]);
    expect((await client.users.list({ external_id: ['ext-grace'] })).map((u) => u.id)).toEqual([grace.id]);
    expect((await client.users.list({ user_id: [ada.id, grace.id], limit: 1, order_by: '-created_at' })).map((u) => u.id)).toEqual([grace.id]);
    expect((await client.users.list({ user_id: [ada.id, grace.id], limit: 1, offset: 1, order_by: '-created_at' })).map((u) => u.id))
      .toEqual([ada.id]);
    expect(await client.users.count({ user_id: [ada.id, grace.id] })).toBe(2);
    expect(await client.users.count({ query: 'grace' })).toBe(1);
    expect(await client.users.count({ email_address: ['nobody@example.com'] })).toBe(0);

    const renamed = await client.users.update(ada.id, { first_name: 'Augusta' });
    expect(renamed.first_name).toBe('Augusta');
    expect(renamed.last_name).toBe('Lovelace');
    expect(renamed.updated_at).toBeGreaterThan(ada.updated_at);
  });

  it('users: metadata merge (null deletes a key) and replace', async () => {
    const u = await client.users.create({
      email_address: ['meta@example.com'], public_metadata: { a: 1, nested: { x: 1, y: 2 } }, unsafe_metadata: { theme: 'dark' },
    });
    const merged = await client.users.updateMetadata(u.id, { public_metadata: { b: 2, nested: { y: null, z: 3 } } });
    expect(merged.public_metadata).toEqual({ a: 1, b: 2, nested: { x: 1, z: 3 } });
    expect(merged.unsafe_metadata).toEqual({ theme: 'dark' });
    const replaced = await client.users.replaceMetadata(u.id, { public_metadata: { only: true } });
    expect(replaced.public_metadata).toEqual({ only: true });
    // Documents not named stay.
    expect(replaced.unsafe_metadata).toEqual({ theme: 'dark' });
    expect((await client.users.get(u.id)).public_metadata).toEqual({ only: true });
  });

  it('users: ban with reason and until revokes sessions; unban; lock and unlock', async () => {
    const u = await client.users.create({ email_address: ['ban@example.com'] });
    const s = await client.sessions.create({ user_id: u.id });
    const until = Date.now() + 3_600_000;
    const banned = await client.users.ban(u.id, { reason: 'spam', until: new Date(until) });
    expect(banned).toMatchObject({ banned: true, ban_reason: 'spam', banned_until: until });
    expect((await client.sessions.get(s.id)).status).toBe('revoked');
    const refused = await expectRefused(client.sessions.create({ user_id: u.id }), 403, 'user_banned');
    expect(refused.errors[0]!.meta).toEqual({ reason: 'spam', suspended_until: until });
    await expectRefused(client.users.ban(u.id, { until: Date.now() - 1000 }), 422, 'form_param_format_invalid', 'until');

    const unbanned = await client.users.unban(u.id);
    expect(unbanned).toMatchObject({ banned: false, ban_reason: null, banned_until: null });
    // A ban without a body, as Clerk's SDK sends it.
    expect(await client.users.ban(u.id)).toMatchObject({ banned: true, ban_reason: null, banned_until: null });
    await client.users.unban(u.id);

    expect((await client.users.lock(u.id)).locked).toBe(true);
    await expectRefused(client.sessions.create({ user_id: u.id }), 403, 'user_locked');
    expect((await client.users.unlock(u.id)).locked).toBe(false);
    expect((await client.sessions.create({ user_id: u.id })).status).toBe('active');
  });

  it('users: setRole after creating the role; an unknown role is 422 role_unknown; delete, then 404', async () => {
    const u = await client.users.create({ email_address: ['role@example.com'] });
    await expectRefused(client.users.setRole(u.id, 'editor'), 422, 'role_unknown', 'role');
    await client.roles.create({ key: 'editor', name: 'Editor', permissions: ['post:edit'] });
    const s = await client.sessions.create({ user_id: u.id });
    expect((await client.users.setRole(u.id, 'editor')).public_metadata).toEqual({ role: 'editor' });
    // revoke_sessions also ends the user's sessions.
    const demoted = await client.users.setRole(u.id, null, { revoke_sessions: true });
    expect(demoted.public_metadata).toEqual({});
    expect((await client.sessions.get(s.id)).status).toBe('revoked');
    await expectRefused(client.users.updateMetadata(u.id, { public_metadata: { role: 'nope' } }), 422, 'role_unknown', 'public_metadata.role');

    expect(await client.users.delete(u.id)).toEqual({ object: 'user', id: u.id, deleted: true });
    await expectRefused(client.users.get(u.id), 404, 'resource_not_found');
    await expectRefused(client.users.get('../instance'), 404, 'resource_not_found');
  });

  it('sessions: create, list, get, tokens (session and convex template), revoke', async () => {
    const u = await client.users.create({ email_address: ['sess@example.com'], first_name: 'Sam', last_name: 'Session' });
    const s1 = await client.sessions.create({ user_id: u.id });
    const s2 = await client.sessions.create({ user_id: u.id });
    expect(s1).toMatchObject({ object: 'session', user_id: u.id, status: 'active' });
    expect(s1.id).toMatch(/^sess_/);
    const list = await client.sessions.list({ user_id: u.id });
    expect(list.total_count).toBe(2);
    expect(new Set(list.data.map((s) => s.id))).toEqual(new Set([s1.id, s2.id]));
    expect(await client.sessions.get(s1.id)).toEqual(s1);

    const instance = await client.instance.get();
    const token = await client.sessions.createToken(s1.id);
    expect(token.object).toBe('token');
    const claims = decodeJwt(token.jwt).payload;
    expect(claims).toMatchObject({ sub: u.id, sid: s1.id, iss: instance.issuer, v: 2, sts: 'active' });
    expect(claims.exp - claims.iat!).toBe(instance.session_token_lifetime);
    const short = decodeJwt((await client.sessions.createToken(s1.id, undefined, { expires_in_seconds: 30 })).jwt).payload;
    expect(short.exp - short.iat!).toBe(30);

    const convex = decodeJwt((await client.sessions.createToken(s1.id, 'convex')).jwt).payload;
    expect(convex).toMatchObject({
      sub: u.id, aud: 'convex', iss: instance.issuer, email: 'sess@example.com', email_verified: true,
      given_name: 'Sam', family_name: 'Session', name: 'Sam Session',
    });
    expect(convex.nbf).toBeUndefined();
    expect(convex.exp - convex.iat!).toBe(3600);

    const revoked = await client.sessions.revoke(s1.id);
    expect(revoked.status).toBe('revoked');
    expect((await client.sessions.list({ user_id: u.id, status: 'active' })).data.map((s) => s.id)).toEqual([s2.id]);
    const notActive = await expectRefused(client.sessions.createToken(s1.id), 422, 'session_not_active');
    expect(notActive.errors[0]!.meta.status).toBe('revoked');
    await expectRefused(client.sessions.list({}), 422, 'form_param_missing', 'user_id');
  });

  it('JWT templates: list (convex built in), create, get, update only what is given, mint, delete', async () => {
    const before = await client.jwtTemplates.list();
    expect(before.data.map((t) => t.name)).toContain('convex');
    expect(before.total_count).toBe(before.data.length);

    const created = await client.jwtTemplates.create({ name: 'hasura', claims: { uid: '{{user.id}}', mail: '{{user.primary_email_address}}' }, aud: 'hasura' });
    expect(created).toMatchObject({
      object: 'jwt_template', name: 'hasura', lifetime: 60, allowed_clock_skew: 5, aud: 'hasura',
      claims: { uid: '{{user.id}}', mail: '{{user.primary_email_address}}' },
    });
    expect(await client.jwtTemplates.get(created.id)).toEqual(created);
    const updated = await client.jwtTemplates.update(created.id, { lifetime: 300 });
    expect(updated).toMatchObject({ lifetime: 300, aud: 'hasura', claims: created.claims });
    expect((await client.jwtTemplates.list()).total_count).toBe(before.total_count + 1);

    const u = await client.users.create({ email_address: ['tmpl@example.com'] });
    const s = await client.sessions.create({ user_id: u.id });
    const claims = decodeJwt((await client.sessions.createToken(s.id, 'hasura')).jwt).payload;
    expect(claims).toMatchObject({ sub: u.id, uid: u.id, mail: 'tmpl@example.com', aud: 'hasura' });
    expect(claims.exp - claims.iat!).toBe(300);

    await expectRefused(client.jwtTemplates.create({ name: 'bad', claims: { email: '{{user.nope}}' } }), 422, 'form_param_format_invalid', 'claims.email');
    expect(await client.jwtTemplates.delete(created.id)).toEqual({ object: 'jwt_template', id: created.id, deleted: true });
    await expectRefused(client.jwtTemplates.get(created.id), 404, 'resource_not_found');
  });

  it('roles: create, get, list, update, presets, delete (refused while in use)', async () => {
    const role = await client.roles.create({ key: 'auditor', name: 'Auditor', description: 'reads', permissions: ['audit:read'] });
    expect(role).toMatchObject({
      object: 'role', key: 'auditor', name: 'Auditor', description: 'reads', permissions: ['audit:read'], is_default: false,
      allowed_at_sign_up: false,
    });
    expect(await client.roles.get('auditor')).toEqual(role);
    await expectRefused(client.roles.create({ key: 'auditor', name: 'Again' }), 422, 'form_identifier_exists', 'key');
    const updated = await client.roles.update('auditor', { permissions: ['audit:read', 'audit:export'] });
    expect(updated).toMatchObject({ name: 'Auditor', permissions: ['audit:read', 'audit:export'] });

    const catalog = await client.roles.applyPreset('community');
    expect(catalog.object).toBe('list');
    const keys = catalog.data.map((r) => r.key);
    for (const k of ['auditor', 'user', 'moderator', 'admin']) expect(keys).toContain(k);
    expect(catalog.total_count).toBe(catalog.data.length);
    expect(catalog.data.find((r) => r.key === 'user')!.is_default).toBe(true);
    expect((await client.roles.list()).data.map((r) => r.key)).toEqual(keys);
    expect((await client.instance.get()).default_role).toBe('user');

    const holder = await client.users.create({ email_address: ['holder@example.com'] });
    await client.users.setRole(holder.id, 'auditor');
    const inUse = await expectRefused(client.roles.delete('auditor'), 422, 'role_in_use');
    expect(inUse.errors[0]!.meta.user_count).toBe(1);
    await client.users.setRole(holder.id, null);
    expect(await client.roles.delete('auditor')).toEqual({ object: 'role', key: 'auditor', deleted: true });
    await expectRefused(client.roles.get('auditor'), 404, 'resource_not_found');
  });

  it('instance: get and update (others stay); an unknown default_role is 422 role_unknown', async () => {
    const before = await client.instance.get();
    expect(before).toMatchObject({ object: 'instance', environment_type: 'development', publishable_key: server.publishableKey });
    expect(before.id).toMatch(/^ins_/);
    const after = await client.instance.update({ session_token_lifetime: 120, session_claims: { plan: '{{user.public_metadata.plan}}' } });
    expect(after).toMatchObject({ session_token_lifetime: 120, session_claims: { plan: '{{user.public_metadata.plan}}' } });
    expect(after.lockout_max_attempts).toBe(before.lockout_max_attempts);
    await expectRefused(client.instance.update({ default_role: 'ghost' }), 422, 'role_unknown', 'default_role');
    await client.instance.update({ session_token_lifetime: before.session_token_lifetime, session_claims: before.session_claims });
    expect(await client.instance.get()).toEqual(before);
  });

  it('events: list pages with after/next_after, filters by type; iterate reads them all', async () => {
    const all = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      const page = await client.events.list({ after, limit: 3 });
      expect(page.object).toBe('list');
      expect(page.data.length).toBeLessThanOrEqual(3);
      all.push(...page.data);
      if (!page.has_more) break;
      expect(page.next_after).toBe(page.data.at(-1)!.sequence);
      after = page.next_after;
    }
    expect(all.length).toBeGreaterThan(10);
    for (let i = 1; i < all.length; i++) expect(all[i]!.sequence).toBeGreaterThan(all[i - 1]!.sequence);
    const iterated = [];
    for await (const e of client.events.iterate({ limit: 4 })) iterated.push(e);
    expect(iterated.map((e) => e.id)).toEqual(all.map((e) => e.id));

    const created = await client.events.list({ types: ['user.created'], limit: 500 });
    expect(created.data.length).toBe(all.filter((e) => e.type === 'user.created').length);
    for (const e of created.data) {
      expect(e.type).toBe('user.created');
      if (e.type === 'user.created') expect(e.data.object).toBe('user');
    }
    await expectRefused(client.events.list({ types: ['user.exploded' as 'user.created'] }), 422, 'form_param_format_invalid');
  });

  it('audit logs: list with filters in both orders, and the export as an async iterable', async () => {
    const u = await client.users.create({ email_address: ['audited@example.com'] });
    await client.users.ban(u.id, { reason: 'fraud' });
    await client.users.unban(u.id);
    await client.users.update(u.id, { first_name: 'Audrey' });

    const asc = await client.auditLogs.list({ target_id: u.id });
    expect(asc.object).toBe('list');
    expect(asc.data.map((e) => e.type)).toEqual(['user.created', 'user.banned', 'user.unbanned', 'user.updated']);
    const banned = asc.data[1]!;
    expect(banned).toMatchObject({ object: 'audit_log', actor: { type: 'secret_key' }, target: { type: 'user', id: u.id } });
    expect(banned.data).toMatchObject({ reason: 'fraud' });
    expect(asc.next_after).toBe(asc.data.at(-1)!.sequence);

    const desc = await client.auditLogs.list({ target_id: u.id, order: 'desc', limit: 2 });
    expect(desc.data.map((e) => e.type)).toEqual(['user.updated', 'user.unbanned']);
    expect(desc.has_more).toBe(true);
    const rest = await client.auditLogs.list({ target_id: u.id, order: 'desc', before: desc.next_before!, limit: 2 });
    expect(rest.data.map((e) => e.type)).toEqual(['user.banned', 'user.created']);
    const typed = await client.auditLogs.list({ types: ['user.banned', 'user.unbanned'], target_id: u.id });
    expect(typed.data.map((e) => e.type)).toEqual(['user.banned', 'user.unbanned']);

    const exported: AuditLog[] = [];
    for await (const entry of client.auditLogs.export({ target_id: u.id })) exported.push(entry);
    expect(exported).toEqual(asc.data);
    // Everything, paged through the list, equals the whole export.
    const everything: AuditLog[] = [];
    for (let after = 0; ;) {
      const page = await client.auditLogs.list({ after, limit: 7 });
      everything.push(...page.data);
      if (!page.has_more) break;
      after = page.next_after!;
    }
    const whole: AuditLog[] = [];
    for await (const entry of client.auditLogs.export()) whole.push(entry);
    expect(whole.map((e) => e.id)).toEqual(everything.map((e) => e.id));
    expect(whole.length).toBeGreaterThan(20);
    // Stopping early is allowed.
    for await (const entry of client.auditLogs.export()) {
      expect(entry.id).toBe(whole[0]!.id);
      break;
    }
    await expectRefused(client.auditLogs.list({ actor_type: 'robot' as 'user' }), 422, 'form_param_format_invalid', 'actor_type');
  });

  it('webhook endpoints: create, list, get, update, secret, rotate, messages, replay, delete', async () => {
    const sink = await startReceiver(undefined, '/hook');
    try {
      const ep = await client.webhookEndpoints.create({ url: sink.url, events: ['user.created'], description: 'sync' });
      expect(ep).toMatchObject({ object: 'webhook_endpoint', url: sink.url, events: ['user.created'], description: 'sync', enabled: true });
      expect(ep.secret).toMatch(/^whsec_/);
      expect((await client.webhookEndpoints.list()).data.map((e) => e.id)).toContain(ep.id);
      const shown = await client.webhookEndpoints.get(ep.id);
      expect(shown).not.toHaveProperty('secret');
      expect(shown.id).toBe(ep.id);
      expect(await client.webhookEndpoints.secret(ep.id)).toEqual({ object: 'webhook_endpoint_secret', endpoint_id: ep.id, secret: ep.secret });

      const updated = await client.webhookEndpoints.update(ep.id, { events: ['user.created', 'user.updated'], rate_limit: 50 });
      expect(updated).toMatchObject({ events: ['user.created', 'user.updated'], rate_limit: 50, description: 'sync' });

      const rotated = await client.webhookEndpoints.rotateSecret(ep.id);
      expect(rotated.secret).toMatch(/^whsec_/);
      expect(rotated.secret).not.toBe(ep.secret);
      expect(rotated.previous_secret_expires_at).toBeGreaterThan(Date.now());

      const u = await client.users.create({ email_address: ['hooked@example.com'] });
      const page = await waitFor('the delivered message', async () => {
        const p = await client.webhookEndpoints.messages(ep.id, { status: 'succeeded' });
        return p.data.length === 1 ? p : undefined;
      });
      const message = page.data[0]!;
      expect(message).toMatchObject({ object: 'webhook_message', endpoint_id: ep.id, event_type: 'user.created', status: 'succeeded', attempts: 1 });
      expect(page.has_more).toBe(false);
      const detail = await client.webhookMessages.get(message.id);
      expect(detail.event?.type).toBe('user.created');
      expect(detail.event?.data.id).toBe(u.id);
      expect(detail.attempt_list).toHaveLength(1);
      expect(detail.attempt_list[0]).toMatchObject({ status: 'succeeded', status_code: 204 });

      const replayed = await client.webhookMessages.replay(message.id);
      expect(replayed.id).toBe(message.id);
      await waitFor('the replay to be delivered', async () => ((await client.webhookMessages.get(message.id)).attempt_list.length === 2 ? true : undefined));
      expect(await client.webhookEndpoints.replayFailed(ep.id, { since: 0 })).toEqual({ object: 'webhook_replay', endpoint_id: ep.id, since: 0, replayed: 0 });
      const recovery = await client.webhookEndpoints.recover(ep.id, { since: 0 });
      expect(recovery).toMatchObject({ object: 'webhook_recovery', endpoint_id: ep.id, since: 0 });
      // Users created before the endpoint existed are owed a user.created each.
      expect(recovery.queued).toBeGreaterThan(0);

      expect(await client.webhookEndpoints.delete(ep.id)).toEqual({ object: 'webhook_endpoint', id: ep.id, deleted: true });
      await expectRefused(client.webhookEndpoints.get(ep.id), 404, 'resource_not_found');
      await expectRefused(client.webhookEndpoints.create({ url: 'ftp://example.com/x' }), 422, 'form_param_format_invalid', 'url');
    } finally {
      await sink.close();
    }
  });

  it('revocations: a snapshot lists a suspended user, and the changes after its cursor a lifted one', async () => {
    const u = await client.users.create({ email_address: ['revoked@example.com'] });
    const s = await client.sessions.create({ user_id: u.id });
    await client.users.ban(u.id, { reason: 'abuse' });
    const snapshot = await client.revocations.list();
    expect(snapshot.object).toBe('revocations');
    expect(snapshot.suspended_users).toContainEqual({ id: u.id, reason: 'abuse', suspended_until: null });
    expect(snapshot.revoked_sessions.map((r) => r.id)).toContain(s.id);
    await client.users.unban(u.id);
    const changes = await client.revocations.list({ after: snapshot.cursor });
    expect(changes.lifted_users).toEqual([u.id]);
    expect(changes.cursor).toBeGreaterThan(snapshot.cursor);
  });

  it('a wrong secret key is 401 authentication_invalid', async () => {
    const wrong = createLatchkeyClient({ secretKey: 'sk_test_wrong', apiUrl: server.url });
    const err = await expectRefused(wrong.users.list(), 401, 'authentication_invalid');
    expect(err.name).toBe('LatchkeyApiError');
    expect(err.message).toMatch(/^authentication_invalid: /);
    expect(() => createLatchkeyClient({ secretKey: '', apiUrl: server.url })).toThrow(/secretKey/);
  });
});
