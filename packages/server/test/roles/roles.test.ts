import { userInfo } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { assertBuilt, runCli, serverEnv } from '../support/cli.js';
import { codeFor } from '../support/dev-outbox.js';
import { expectErrorShape, type ErrorBody } from '../support/errors.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, snapshot, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/**
 * Issue 5: the role catalog (/v1/roles, presets), role checks on every write of
 * public_metadata.role, POST /v1/users/{id}/role, roles at sign-up, custom
 * session claims and JWT templates, and the `latchkey roles` / `jwt-templates` CLI.
 */

// ---------------------------------------------------------------- helpers

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** A JWT's payload, decoded without verification (signatures are checked by the compat suites). */
const claimsOf = (jwt: string): Json => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Json;

/** Calls the Backend API and reads the JSON answer. */
async function call(server: TestServer, method: string, path: string, json?: unknown): Promise<{ status: number; body: Json }> {
  const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Asserts a Clerk-style refusal with its status, first error code and (when given) meta.param_name. */
function expectRefused(res: { status: number; body: Json }, status: number, code: string, param?: string): Json {
  const what = `${code}${param ? ` ${param}` : ''}: ${JSON.stringify(res.body).slice(0, 400)}`;
  expect(res.status, what).toBe(status);
  expectErrorShape(res.body as ErrorBody, what);
  const err = res.body.errors[0];
  expect(err.code, what).toBe(code);
  if (param !== undefined) expect(err.meta.param_name, what).toBe(param);
  return err;
}

/** Sends a request that must be refused, and asserts the database is exactly as before. */
async function refusedUnchanged(server: TestServer, method: string, path: string, json: unknown, status: number, code: string, param?: string): Promise<Json> {
  const before = await snapshot(server.db);
  const err = expectRefused(await call(server, method, path, json), status, code, param);
  expect(await snapshot(server.db), `${method} ${path} ${JSON.stringify(json)} changed the database`).toBe(before);
  return err;
}

async function createUser(server: TestServer, email: string, extra: Json = {}): Promise<Json> {
  const res = await call(server, 'POST', '/v1/users', { email_address: [email], ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function createSession(server: TestServer, userId: string): Promise<string> {
  const res = await call(server, 'POST', '/v1/sessions', { user_id: userId });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.id as string;
}

/** Mints a session token (or a template token) through the Backend API. */
const mint = (server: TestServer, sid: string, template?: string) =>
  call(server, 'POST', `/v1/sessions/${sid}/tokens${template ? `/${template}` : ''}`, {});

async function mintClaims(server: TestServer, sid: string, template?: string): Promise<Json> {
  const res = await mint(server, sid, template);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return claimsOf(res.body.jwt);
}

/** Audit entries matching a query string such as `types=user.role_changed&target_id=user_…`. */
async function audit(server: TestServer, query: string): Promise<Json[]> {
  const res = await call(server, 'GET', `/v1/audit_logs?${query}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.data as Json[];
}

const keysOf = (list: Json) => (list.data as Json[]).map((r) => r.key as string);

const MARKETPLACE_CLAIMS = {
  role: '{{user.public_metadata.role}}',
  dbId: '{{user.public_metadata.dbId}}',
  permissions: '{{user.permissions}}',
};

// ---------------------------------------------------------------- HTTP, per dialect

describe.each(dialects())('roles, session claims and JWT templates (%s)', (dialect) => {
  describe('role catalog CRUD (/v1/roles)', () => {
    let server: TestServer;
    const clock = new ManualClock(Date.now());
    beforeAll(async () => {
      server = await startServer(dialect, { clock });
    });
    afterAll(() => server?.close());

    it('creates, reads, lists in creation order, patches only the given fields, and audits', async () => {
      const created = await call(server, 'POST', '/v1/roles', {
        key: 'zeta', name: 'Zeta', description: 'Last letter, first role', permissions: ['post:edit', 'post:publish', 'post:edit'],
      });
      expect(created.status).toBe(200);
      expect(created.body).toEqual({
        object: 'role', key: 'zeta', name: 'Zeta', description: 'Last letter, first role', permissions: ['post:edit', 'post:publish'],
        is_default: false, allowed_at_sign_up: false, created_at: clock.now(), updated_at: clock.now(),
      });
      expect((await call(server, 'GET', '/v1/roles/zeta')).body).toEqual(created.body);

      clock.advance(1000);
      const alpha = await call(server, 'POST', '/v1/roles', { key: 'alpha', name: 'Alpha' });
      expect(alpha.body).toMatchObject({ key: 'alpha', name: 'Alpha', description: '', permissions: [] });
      clock.advance(1000);
      await call(server, 'POST', '/v1/roles', { key: 'mid_role-2', name: 'Middle', permissions: ['a.b:c-d:*'] });

      const list = await call(server, 'GET', '/v1/roles');
      expect(list.status).toBe(200);
      expect(list.body.object).toBe('list');
      expect(list.body.total_count).toBe(3);
      expect(keysOf(list.body)).toEqual(['zeta', 'alpha', 'mid_role-2']);
      expect(list.body.data[0]).toEqual(created.body);

      clock.advance(1000);
      const renamed = await call(server, 'PATCH', '/v1/roles/zeta', { name: 'Zeta prime' });
      expect(renamed.status).toBe(200);
      expect(renamed.body).toEqual({ ...created.body, name: 'Zeta prime', updated_at: clock.now() });
      const emptied = await call(server, 'PATCH', '/v1/roles/zeta', { permissions: [], description: '' });
      expect(emptied.body).toMatchObject({ name: 'Zeta prime', description: '', permissions: [] });
      expect(emptied.body.updated_at).toBeGreaterThan(renamed.body.updated_at);
      expect((await call(server, 'GET', '/v1/roles/zeta')).body).toEqual(emptied.body);

      const entries = await audit(server, 'target_type=role&target_id=zeta');
      expect(entries.map((e) => [e.type, e.actor.type])).toEqual([
        ['role.created', 'secret_key'], ['role.updated', 'secret_key'], ['role.updated', 'secret_key'],
      ]);
      expect(entries[0]!.data).toEqual({ permissions: ['post:edit', 'post:publish'] });
      expect(entries[1]!.data).toEqual({ fields: ['name'] });
      expect(entries[0]!.actor.id).toMatch(/^ak_/);
    });

    it('refuses duplicates and bad input with 422 naming the field, changing nothing', async () => {
      await call(server, 'POST', '/v1/roles', { key: 'dup', name: 'Dup' });
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'dup', name: 'Other' }, 422, 'form_identifier_exists', 'key');
      for (const key of ['Editor', '1abc', 'a b', '', 'x'.repeat(65), '-lead']) {
        await refusedUnchanged(server, 'POST', '/v1/roles', { key, name: 'Bad' }, 422, 'form_param_format_invalid', 'key');
      }
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'ok', name: 'Ok', permissions: ['fine:one', 'not fine'] },
        422, 'form_param_format_invalid', 'permissions.1');
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'ok', name: 'Ok', permissions: 'post:edit' },
        422, 'form_param_format_invalid', 'permissions');
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'ok', name: 'Ok', colour: 'red' }, 422, 'form_param_unknown', 'colour');
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'ok' }, 422, 'form_param_missing', 'name');
      await refusedUnchanged(server, 'POST', '/v1/roles', { key: 'ok', name: '   ' }, 422, 'form_param_format_invalid', 'name');
      await refusedUnchanged(server, 'PATCH', '/v1/roles/dup', { permissions: ['bad permission'] }, 422, 'form_param_format_invalid', 'permissions.0');
      await refusedUnchanged(server, 'PATCH', '/v1/roles/dup', { key: 'renamed' }, 422, 'form_param_unknown', 'key');
      expect((await call(server, 'GET', '/v1/roles/ok')).status).toBe(404);
    });

    it('answers 404 for an unknown key on GET, PATCH and DELETE, changing nothing', async () => {
      expectRefused(await call(server, 'GET', '/v1/roles/nope'), 404, 'resource_not_found');
      await refusedUnchanged(server, 'PATCH', '/v1/roles/nope', { name: 'X' }, 404, 'resource_not_found');
      await refusedUnchanged(server, 'DELETE', '/v1/roles/nope', undefined, 404, 'resource_not_found');
    });

    it('refuses to delete a role a user holds or a setting names (role_in_use), then deletes it once free', async () => {
      await call(server, 'POST', '/v1/roles', { key: 'held', name: 'Held' });
      await call(server, 'POST', '/v1/roles', { key: 'fallback', name: 'Fallback' });
      const user = await createUser(server, 'holder@example.com', { public_metadata: { role: 'held' } });
      expect(user.public_metadata).toEqual({ role: 'held' });
      const err = await refusedUnchanged(server, 'DELETE', '/v1/roles/held', undefined, 422, 'role_in_use');
      expect(err.meta).toEqual({ user_count: 1 });
      await createUser(server, 'holder2@example.com', { public_metadata: { role: 'held' } });
      expect((await refusedUnchanged(server, 'DELETE', '/v1/roles/held', undefined, 422, 'role_in_use')).meta).toEqual({ user_count: 2 });

      expect((await call(server, 'PATCH', '/v1/instance', { default_role: 'fallback', sign_up_roles: ['held'] })).status).toBe(200);
      expect((await call(server, 'GET', '/v1/roles/fallback')).body).toMatchObject({ is_default: true, allowed_at_sign_up: false });
      expect((await call(server, 'GET', '/v1/roles/held')).body).toMatchObject({ is_default: false, allowed_at_sign_up: true });
      expect((await refusedUnchanged(server, 'DELETE', '/v1/roles/fallback', undefined, 422, 'role_in_use')).meta).toEqual({ setting: 'default_role' });
      expect((await refusedUnchanged(server, 'DELETE', '/v1/roles/held', undefined, 422, 'role_in_use')).meta).toEqual({ setting: 'sign_up_roles' });

      // A setting must name a known role.
      await refusedUnchanged(server, 'PATCH', '/v1/instance', { default_role: 'ghost' }, 422, 'role_unknown', 'default_role');
      await refusedUnchanged(server, 'PATCH', '/v1/instance', { sign_up_roles: ['held', 'ghost'] }, 422, 'role_unknown', 'sign_up_roles');

      // Free them: clear the settings, move one holder to another role, delete the other holder.
      await call(server, 'PATCH', '/v1/instance', { default_role: null, sign_up_roles: [] });
      expect((await call(server, 'DELETE', '/v1/roles/fallback')).body).toEqual({ object: 'role', key: 'fallback', deleted: true });
      expect((await refusedUnchanged(server, 'DELETE', '/v1/roles/held', undefined, 422, 'role_in_use')).meta).toEqual({ user_count: 2 });
      await call(server, 'POST', `/v1/users/${user.id}/role`, { role: null });
      const second = (await call(server, 'GET', '/v1/users?email_address=holder2@example.com')).body[0];
      expect((await call(server, 'DELETE', `/v1/users/${second.id}`)).status).toBe(200);
      const deleted = await call(server, 'DELETE', '/v1/roles/held');
      expect(deleted.status).toBe(200);
      expect(deleted.body).toEqual({ object: 'role', key: 'held', deleted: true });
      expect((await call(server, 'GET', '/v1/roles/held')).status).toBe(404);
      expect(keysOf((await call(server, 'GET', '/v1/roles')).body)).not.toContain('held');
      expect((await audit(server, 'types=role.deleted&target_id=held')).map((e) => e.target)).toEqual([{ type: 'role', id: 'held' }]);
    });
  });

  describe('presets', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
    });
    afterAll(() => server?.close());

    it('marketplace adds customer/store_owner/admin, the default and sign-up roles and the session claims; twice changes nothing', async () => {
      const applied = await call(server, 'POST', '/v1/roles/presets', { preset: 'marketplace' });
      expect(applied.status).toBe(200);
      expect(applied.body.object).toBe('list');
      expect(applied.body.total_count).toBe(3);
      const byKey = Object.fromEntries((applied.body.data as Json[]).map((r) => [r.key, r]));
      expect(Object.keys(byKey).sort()).toEqual(['admin', 'customer', 'store_owner']);
      expect(byKey.customer).toMatchObject({ name: 'Customer', is_default: true, allowed_at_sign_up: true, permissions: ['order:create', 'cart:manage', 'profile:manage'] });
      expect(byKey.store_owner).toMatchObject({ is_default: false, allowed_at_sign_up: true, permissions: ['store:manage', 'product:manage', 'order:manage', 'profile:manage'] });
      expect(byKey.admin).toMatchObject({ is_default: false, allowed_at_sign_up: false });
      expect(byKey.admin.permissions).toEqual(expect.arrayContaining(['platform:manage', 'user:manage']));

      const instance = (await call(server, 'GET', '/v1/instance')).body;
      expect(instance.default_role).toBe('customer');
      expect(instance.sign_up_roles).toEqual(['customer', 'store_owner']);
      expect(instance.session_claims).toEqual(MARKETPLACE_CLAIMS);
      const presetAudit = await audit(server, 'types=role.preset_applied');
      expect(presetAudit.map((e) => [e.target, e.data])).toEqual([[{ type: 'role_preset', id: 'marketplace' }, { created: ['customer', 'store_owner', 'admin'] }]]);

      const before = await snapshot(server.db);
      const again = await call(server, 'POST', '/v1/roles/presets', { preset: 'marketplace' });
      expect(again.status).toBe(200);
      expect(again.body).toEqual(applied.body);
      expect(await snapshot(server.db)).toBe(before);

      // A user created now gets the default role.
      expect((await createUser(server, 'shopper@example.com')).public_metadata).toEqual({ role: 'customer' });
    });

    it('refuses an unknown preset, changing nothing', async () => {
      await refusedUnchanged(server, 'POST', '/v1/roles/presets', { preset: 'bakery' }, 422, 'form_param_format_invalid', 'preset');
      await refusedUnchanged(server, 'POST', '/v1/roles/presets', { preset: 'community', extra: 1 }, 422, 'form_param_unknown', 'extra');
    });

    it('refuses a body without a preset as form_param_missing, changing nothing', async () => {
      // An absent field is form_param_missing, as everywhere else (test/api/bad-input.test.ts).
      await refusedUnchanged(server, 'POST', '/v1/roles/presets', {}, 422, 'form_param_missing', 'preset');
    });

    it('a second preset adds only the missing roles and keeps settings that are set', async () => {
      const res = await call(server, 'POST', '/v1/roles/presets', { preset: 'community' });
      expect(res.status).toBe(200);
      expect(keysOf(res.body).sort()).toEqual(['admin', 'customer', 'moderator', 'store_owner', 'user']);
      // admin existed already: left as marketplace defined it.
      expect((await call(server, 'GET', '/v1/roles/admin')).body.permissions).toContain('platform:manage');
      const instance = (await call(server, 'GET', '/v1/instance')).body;
      expect(instance).toMatchObject({ default_role: 'customer', sign_up_roles: ['customer', 'store_owner'], session_claims: MARKETPLACE_CLAIMS });
      const presetAudit = await audit(server, 'types=role.preset_applied&target_id=community');
      expect(presetAudit.map((e) => e.data)).toEqual([{ created: ['user', 'moderator'] }]);
    });
  });

  describe('LATCHKEY_ROLE_PRESET at start', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect, { env: { LATCHKEY_ROLE_PRESET: 'community' } });
    });
    afterAll(() => server?.close());

    it('community: user (default), moderator, admin and the session claims; new users are "user"', async () => {
      const list = (await call(server, 'GET', '/v1/roles')).body;
      expect(keysOf(list).sort()).toEqual(['admin', 'moderator', 'user']);
      expect((list.data as Json[]).find((r) => r.key === 'user')).toMatchObject({ is_default: true, permissions: ['profile:manage'] });
      const instance = (await call(server, 'GET', '/v1/instance')).body;
      expect(instance).toMatchObject({ default_role: 'user', sign_up_roles: [], session_claims: MARKETPLACE_CLAIMS });
      const user = await createUser(server, 'member@example.com');
      expect(user.public_metadata).toEqual({ role: 'user' });
      const claims = await mintClaims(server, await createSession(server, user.id));
      expect(claims).toMatchObject({ role: 'user', permissions: ['profile:manage'] });
      expect(claims).not.toHaveProperty('dbId');
    });
  });

  describe('role checks on every write of public_metadata.role', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
      await call(server, 'POST', '/v1/roles', { key: 'customer', name: 'Customer' });
      await call(server, 'POST', '/v1/roles', { key: 'admin', name: 'Admin' });
    });
    afterAll(() => server?.close());

    it('POST /v1/users: an unknown or non-string role is refused; a known role is kept; no default means no role', async () => {
      for (const role of ['nope', 5, true, ['admin'], { key: 'admin' }, '']) {
        await refusedUnchanged(server, 'POST', '/v1/users', { email_address: ['refused@example.com'], public_metadata: { role } },
          422, 'role_unknown', 'public_metadata.role');
      }
      expect((await call(server, 'GET', '/v1/users?email_address=refused@example.com')).body).toEqual([]);
      expect((await createUser(server, 'admin1@example.com', { public_metadata: { role: 'admin', dbId: 1 } })).public_metadata).toEqual({ role: 'admin', dbId: 1 });
      expect((await createUser(server, 'norole@example.com', { public_metadata: { dbId: 2 } })).public_metadata).toEqual({ dbId: 2 });
    });

    it('a user created without a role gets default_role; one with a role keeps it', async () => {
      expect((await call(server, 'PATCH', '/v1/instance', { default_role: 'customer' })).status).toBe(200);
      const plain = await createUser(server, 'plain@example.com');
      expect(plain.public_metadata).toEqual({ role: 'customer' });
      expect((await call(server, 'GET', `/v1/users/${plain.id}`)).body.public_metadata).toEqual({ role: 'customer' });
      expect((await createUser(server, 'boss@example.com', { public_metadata: { role: 'admin' } })).public_metadata).toEqual({ role: 'admin' });
      const created = await audit(server, `types=user.created&target_id=${plain.id}`);
      expect(created.map((e) => e.data)).toEqual([{ role: 'customer' }]);
      await call(server, 'PATCH', '/v1/instance', { default_role: null });
    });

    it('PATCH /v1/users/{id} with public_metadata checks the role', async () => {
      const user = await createUser(server, 'patchme@example.com', { public_metadata: { role: 'customer' } });
      for (const role of ['nope', 7, ['customer']]) {
        await refusedUnchanged(server, 'PATCH', `/v1/users/${user.id}`, { first_name: 'Changed', public_metadata: { role } },
          422, 'role_unknown', 'public_metadata.role');
      }
      const ok = await call(server, 'PATCH', `/v1/users/${user.id}`, { public_metadata: { role: 'admin', dbId: 9 } });
      expect(ok.status).toBe(200);
      expect(ok.body.public_metadata).toEqual({ role: 'admin', dbId: 9 });
      const changes = await audit(server, `types=user.role_changed&target_id=${user.id}`);
      expect(changes.map((e) => e.data)).toEqual([{ from: 'customer', to: 'admin' }]);
    });

    it('PATCH and PUT /v1/users/{id}/metadata check the role', async () => {
      const user = await createUser(server, 'meta@example.com', { public_metadata: { role: 'customer', keep: 'me' } });
      for (const method of ['PATCH', 'PUT']) {
        await refusedUnchanged(server, method, `/v1/users/${user.id}/metadata`, { public_metadata: { role: 'nope' }, private_metadata: { x: 1 } },
          422, 'role_unknown', 'public_metadata.role');
        await refusedUnchanged(server, method, `/v1/users/${user.id}/metadata`, { public_metadata: { role: 42 } },
          422, 'role_unknown', 'public_metadata.role');
      }
      const merged = await call(server, 'PATCH', `/v1/users/${user.id}/metadata`, { public_metadata: { role: 'admin' } });
      expect(merged.status).toBe(200);
      expect(merged.body.public_metadata).toEqual({ role: 'admin', keep: 'me' });
      const replaced = await call(server, 'PUT', `/v1/users/${user.id}/metadata`, { public_metadata: { role: 'customer' } });
      expect(replaced.status).toBe(200);
      expect(replaced.body.public_metadata).toEqual({ role: 'customer' });
      // A merge that leaves the role alone passes whatever the role is.
      const other = await call(server, 'PATCH', `/v1/users/${user.id}/metadata`, { public_metadata: { dbId: 5 } });
      expect(other.body.public_metadata).toEqual({ role: 'customer', dbId: 5 });
      const changes = await audit(server, `types=user.role_changed&target_id=${user.id}`);
      expect(changes.map((e) => e.data)).toEqual([{ from: 'customer', to: 'admin' }, { from: 'admin', to: 'customer' }]);
    });
  });

  describe('POST /v1/users/{id}/role', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
      await call(server, 'POST', '/v1/roles/presets', { preset: 'marketplace' });
    });
    afterAll(() => server?.close());

    it('sets the role: user.updated event, audit user.role_changed {from, to}; null removes it', async () => {
      const user = await createUser(server, 'promote@example.com', { public_metadata: { dbId: 3 } });
      expect(user.public_metadata).toEqual({ dbId: 3, role: 'customer' });
      const afterSeq = (await call(server, 'GET', '/v1/events?types=user.updated&limit=500')).body.next_after;

      const res = await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'admin' });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ object: 'user', id: user.id, public_metadata: { dbId: 3, role: 'admin' } });
      expect((await call(server, 'GET', `/v1/users/${user.id}`)).body.public_metadata).toEqual({ dbId: 3, role: 'admin' });

      const events = (await call(server, 'GET', `/v1/events?types=user.updated&after=${afterSeq}`)).body.data as Json[];
      expect(events.map((e) => [e.type, e.data.id, e.data.public_metadata])).toEqual([['user.updated', user.id, { dbId: 3, role: 'admin' }]]);

      const entries = await audit(server, `types=user.role_changed&target_id=${user.id}`);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({ type: 'user.role_changed', actor: { type: 'secret_key' }, target: { type: 'user', id: user.id }, data: { from: 'customer', to: 'admin' } });

      // The same role again: saved, but no change of role to audit.
      expect((await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'admin' })).status).toBe(200);
      expect(await audit(server, `types=user.role_changed&target_id=${user.id}`)).toHaveLength(1);

      const removed = await call(server, 'POST', `/v1/users/${user.id}/role`, { role: null });
      expect(removed.status).toBe(200);
      expect(removed.body.public_metadata).toEqual({ dbId: 3 });
      const all = await audit(server, `types=user.role_changed&target_id=${user.id}`);
      expect(all.map((e) => e.data)).toEqual([{ from: 'customer', to: 'admin' }, { from: 'admin', to: null }]);
    });

    it('revoke_sessions: true revokes the user\'s sessions, whose next token is refused', async () => {
      const user = await createUser(server, 'revoke-role@example.com');
      const sid = await createSession(server, user.id);
      const sid2 = await createSession(server, user.id);
      expect((await mint(server, sid)).status).toBe(200);
      const res = await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'store_owner', revoke_sessions: true });
      expect(res.status).toBe(200);
      expect(res.body.public_metadata.role).toBe('store_owner');
      for (const s of [sid, sid2]) expect((await call(server, 'GET', `/v1/sessions/${s}`)).body.status).toBe('revoked');
      expectRefused(await mint(server, sid), 422, 'session_not_active');
      const entries = await audit(server, `types=user.role_changed&target_id=${user.id}`);
      expect(entries.map((e) => e.data)).toEqual([{ from: 'customer', to: 'store_owner', sessions_revoked: 2 }]);
      // Without revoke_sessions, sessions stay.
      const sid3 = await createSession(server, user.id);
      await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'customer' });
      expect((await call(server, 'GET', `/v1/sessions/${sid3}`)).body.status).toBe('active');
    });

    it('refuses an unknown role, bad bodies and unknown users, changing nothing', async () => {
      const user = await createUser(server, 'stay@example.com');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, { role: 'nope' }, 422, 'role_unknown', 'role');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, { role: 'nope', revoke_sessions: true }, 422, 'role_unknown', 'role');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, {}, 422, 'form_param_missing', 'role');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, { role: 5 }, 422, 'form_param_format_invalid', 'role');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, { role: 'admin', revoke_sessions: 'yes' }, 422, 'form_param_format_invalid', 'revoke_sessions');
      await refusedUnchanged(server, 'POST', `/v1/users/${user.id}/role`, { role: 'admin', why: 'x' }, 422, 'form_param_unknown', 'why');
      await refusedUnchanged(server, 'POST', '/v1/users/user_doesnotexist/role', { role: 'admin' }, 404, 'resource_not_found');
      expect((await call(server, 'GET', `/v1/users/${user.id}`)).body.public_metadata).toEqual({ role: 'customer' });
    });
  });

  describe('roles at sign-up (Frontend API)', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
      await call(server, 'POST', '/v1/roles/presets', { preset: 'marketplace' });
    });
    afterAll(() => server?.close());

    const password = 'a long and lovely passphrase';

    /** A native-app POST to the Frontend API (Bearer client token once there is one). */
    const native = (path: string, json: unknown, token?: string) => nativeCall(server, 'POST', path, json, token);

    /** Signs up and verifies the code; returns the new user. */
    async function signUp(email: string, role?: string): Promise<Json> {
      const started = await native('/v1/client/sign_ups', { email_address: email, password, ...(role === undefined ? {} : { role }) });
      expect(started.status, JSON.stringify(started.body)).toBe(200);
      expect(started.body.response.role).toBe(role ?? null);
      const done = await native(`/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code: await codeFor(server, email, 'verification_code') }, started.token!);
      expect(done.status, JSON.stringify(done.body)).toBe(200);
      expect(done.body.response.status).toBe('complete');
      return (await call(server, 'GET', `/v1/users/${done.body.response.created_user_id}`)).body;
    }

    it('an allowed role is the new user\'s role, audited in user.signed_up', async () => {
      const user = await signUp('seller@example.com', 'store_owner');
      expect(user.public_metadata).toEqual({ role: 'store_owner' });
      const entries = await audit(server, `types=user.signed_up&target_id=${user.id}`);
      expect(entries.map((e) => [e.actor, e.data])).toEqual([[{ type: 'user', id: user.id }, { role: 'store_owner' }]]);
      expect((await signUp('buyer@example.com', 'customer')).public_metadata).toEqual({ role: 'customer' });
    });

    it('no role: the default role', async () => {
      expect((await signUp('plain-signup@example.com')).public_metadata).toEqual({ role: 'customer' });
    });

    it('a role not in sign_up_roles (or not a role at all) is refused with role_not_allowed, changing nothing', async () => {
      // An existing client, so the refusal has nothing to create.
      const first = await native('/v1/client/sign_ups', { email_address: 'first-of-client@example.com', password });
      expect(first.status).toBe(200);
      for (const role of ['admin', 'nope']) {
        const before = await snapshot(server.db);
        const res = await native('/v1/client/sign_ups', { email_address: 'wannabe@example.com', password, role }, first.token!);
        expectRefused(res, 422, 'role_not_allowed', 'role');
        expect(await snapshot(server.db)).toBe(before);
      }
      const bad = await native('/v1/client/sign_ups', { email_address: 'wannabe@example.com', password, role: 7 }, first.token!);
      expectRefused(bad, 422, 'form_param_format_invalid', 'role');
      const outbox = (await call(server, 'GET', '/v1/dev/outbox?to_email_address=wannabe@example.com')).body;
      expect(outbox.data).toEqual([]);
    });

    it('a role withdrawn from sign_up_roles while the code is on its way is refused at verification, creating no user', async () => {
      const started = await native('/v1/client/sign_ups', { email_address: 'late-seller@example.com', password, role: 'store_owner' });
      expect(started.status).toBe(200);
      const code = await codeFor(server, 'late-seller@example.com', 'verification_code');
      expect((await call(server, 'PATCH', '/v1/instance', { sign_up_roles: ['customer'] })).status).toBe(200);
      const done = await native(`/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code }, started.token!);
      expectRefused(done, 422, 'role_not_allowed', 'role');
      const users = (await call(server, 'GET', '/v1/users?email_address=late-seller@example.com')).body;
      expect(users).toEqual([]);
      await call(server, 'PATCH', '/v1/instance', { sign_up_roles: ['customer', 'store_owner'] });
    });
  });

  describe('custom session claims', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect);
      await call(server, 'POST', '/v1/roles', { key: 'customer', name: 'Customer', permissions: ['order:create'] });
      await call(server, 'POST', '/v1/roles', { key: 'admin', name: 'Admin', permissions: ['platform:manage', 'user:manage'] });
      const res = await call(server, 'PATCH', '/v1/instance', { session_claims: MARKETPLACE_CLAIMS });
      expect(res.status).toBe(200);
    });
    afterAll(() => server?.close());

    it('tokens carry role, dbId (type kept) and the role\'s permissions; a user without them gets permissions []', async () => {
      const numeric = await createUser(server, 'num@example.com', { public_metadata: { role: 'customer', dbId: 42 } });
      const c1 = await mintClaims(server, await createSession(server, numeric.id));
      expect(c1).toMatchObject({ sub: numeric.id, role: 'customer', dbId: 42, permissions: ['order:create'] });
      expect(typeof c1.dbId).toBe('number');

      const text = await createUser(server, 'text@example.com', { public_metadata: { role: 'admin', dbId: '0042' } });
      const c2 = await mintClaims(server, await createSession(server, text.id));
      expect(c2).toMatchObject({ role: 'admin', dbId: '0042', permissions: ['platform:manage', 'user:manage'] });

      const bare = await createUser(server, 'bare@example.com');
      const c3 = await mintClaims(server, await createSession(server, bare.id));
      expect(c3.permissions).toEqual([]);
      expect(c3).not.toHaveProperty('role');
      expect(c3).not.toHaveProperty('dbId');
    });

    it('the next token shows a role change, a metadata merge and a change of the role\'s permissions', async () => {
      const user = await createUser(server, 'fresh@example.com', { public_metadata: { role: 'customer', dbId: 1 } });
      const sid = await createSession(server, user.id);
      expect(await mintClaims(server, sid)).toMatchObject({ role: 'customer', dbId: 1, permissions: ['order:create'] });

      await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'admin' });
      expect(await mintClaims(server, sid)).toMatchObject({ role: 'admin', dbId: 1, permissions: ['platform:manage', 'user:manage'] });

      await call(server, 'PATCH', `/v1/users/${user.id}/metadata`, { public_metadata: { dbId: 'db-7' } });
      expect(await mintClaims(server, sid)).toMatchObject({ role: 'admin', dbId: 'db-7' });

      await call(server, 'PATCH', '/v1/roles/admin', { permissions: ['platform:manage'] });
      expect((await mintClaims(server, sid)).permissions).toEqual(['platform:manage']);

      await call(server, 'POST', `/v1/users/${user.id}/role`, { role: null });
      const none = await mintClaims(server, sid);
      expect(none).not.toHaveProperty('role');
      expect(none).toMatchObject({ dbId: 'db-7', permissions: [] });
    });

    it('refuses unknown or malformed shortcodes, reserved claims and oversized templates, naming the claim, changing nothing', async () => {
      const cases: [Json, string][] = [
        [{ role: '{{user.nope}}' }, 'session_claims.role'],
        [{ x: '{{ private stuff }}' }, 'session_claims.x'],
        [{ x: 'id: {{user.private_metadata.secret}}' }, 'session_claims.x'],
        [{ nested: { deep: ['{{user.id}}', '{{session.nope}}'] } }, 'session_claims.nested.deep.1'],
        [{ sub: '{{user.id}}' }, 'session_claims.sub'],
        [{ sid: 'x' }, 'session_claims.sid'],
        [{ aud: 'x' }, 'session_claims.aud'],
        [{ big: 'x'.repeat(1300) }, 'session_claims'],
      ];
      const instance = (await call(server, 'GET', '/v1/instance')).body;
      for (const [claims, param] of cases) {
        await refusedUnchanged(server, 'PATCH', '/v1/instance', { session_claims: claims }, 422, 'form_param_format_invalid', param);
      }
      expect((await call(server, 'GET', '/v1/instance')).body).toEqual(instance);
    });

    it('claims that render over 1200 bytes refuse the token with session_claims_too_large {size, limit}', async () => {
      expect((await call(server, 'PATCH', '/v1/instance', { session_claims: { meta: '{{user.public_metadata}}' } })).status).toBe(200);
      const small = await createUser(server, 'small@example.com', { public_metadata: { plan: 'pro' } });
      expect((await mintClaims(server, await createSession(server, small.id))).meta).toEqual({ plan: 'pro' });

      const metadata = { blob: 'y'.repeat(2000) };
      const big = await createUser(server, 'big@example.com', { public_metadata: metadata });
      const sid = await createSession(server, big.id);
      const before = await snapshot(server.db);
      const err = expectRefused(await mint(server, sid), 422, 'session_claims_too_large');
      expect(err.meta).toEqual({ size: Buffer.byteLength(JSON.stringify({ meta: metadata })), limit: 1200 });
      expect(await snapshot(server.db)).toBe(before);
      // A template token has room for it.
      await call(server, 'POST', '/v1/jwt_templates', { name: 'full', claims: { meta: '{{user.public_metadata}}' } });
      expect((await mintClaims(server, sid, 'full')).meta).toEqual(metadata);
      await call(server, 'PATCH', '/v1/instance', { session_claims: MARKETPLACE_CLAIMS });
    });
  });

  describe('JWT templates', () => {
    let server: TestServer;
    let user: Json;
    let sid: string;
    beforeAll(async () => {
      server = await startServer(dialect);
      user = await createUser(server, 'ada@example.com', { first_name: 'Ada', last_name: 'Lovelace' });
      sid = await createSession(server, user.id);
    });
    afterAll(() => server?.close());

    const seed001Claims = {
      userId: '{{user.id}}', email: '{{user.primary_email_address}}', firstName: '{{user.first_name}}', lastName: '{{user.last_name}}',
    };

    it('the built-in convex template carries the role once the user has one, and leaves it out before', async () => {
      expect(claimsOf((await call(server, 'POST', `/v1/sessions/${sid}/tokens/convex`, {})).body.jwt)).not.toHaveProperty('role');
      expect((await call(server, 'POST', '/v1/roles', { key: 'store_owner', name: 'Store owner' })).status).toBe(200);
      expect((await call(server, 'POST', `/v1/users/${user.id}/role`, { role: 'store_owner' })).status).toBe(200);
      const c = claimsOf((await call(server, 'POST', `/v1/sessions/${sid}/tokens/convex`, {})).body.jwt);
      expect(c).toMatchObject({ aud: 'convex', role: 'store_owner' });
      expect((await call(server, 'POST', `/v1/users/${user.id}/role`, { role: null })).status).toBe(200);
    });

    it('creates a template whose tokens carry its claims, lifetime, aud and clock skew; PATCH keeps what it omits', async () => {
      const created = await call(server, 'POST', '/v1/jwt_templates', {
        name: 'seed001', claims: seed001Claims, lifetime: 120, aud: 'seed-api', allowed_clock_skew: 15,
      });
      expect(created.status, JSON.stringify(created.body)).toBe(200);
      expect(created.body).toMatchObject({
        object: 'jwt_template', id: expect.stringMatching(/^jtmpl_/), name: 'seed001', claims: seed001Claims,
        lifetime: 120, aud: 'seed-api', allowed_clock_skew: 15,
      });
      const id = created.body.id as string;

      const c = await mintClaims(server, sid, 'seed001');
      expect(c).toMatchObject({
        userId: user.id, sub: user.id, email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', aud: 'seed-api', iss: server.url,
      });
      expect(c.exp - c.iat).toBe(120);
      expect(c.nbf).toBe(c.iat - 15);
      expect(c).not.toHaveProperty('sid');

      const patched = await call(server, 'PATCH', `/v1/jwt_templates/${id}`, { name: 'seed001b' });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ id, name: 'seed001b', claims: seed001Claims, lifetime: 120, aud: 'seed-api', allowed_clock_skew: 15 });
      expect((await call(server, 'GET', `/v1/jwt_templates/${id}`)).body).toEqual(patched.body);
      const c2 = await mintClaims(server, sid, 'seed001b');
      expect([c2.exp - c2.iat, c2.iat - c2.nbf, c2.aud]).toEqual([120, 15, 'seed-api']);
      expectRefused(await mint(server, sid, 'seed001'), 404, 'resource_not_found');

      const relifed = await call(server, 'PATCH', `/v1/jwt_templates/${id}`, { lifetime: 300 });
      expect(relifed.body).toMatchObject({ name: 'seed001b', lifetime: 300, aud: 'seed-api', allowed_clock_skew: 15 });

      const entries = await audit(server, `target_type=jwt_template&target_id=${id}`);
      expect(entries.map((e) => [e.type, e.data])).toEqual([
        ['jwt_template.created', { name: 'seed001' }], ['jwt_template.updated', { fields: ['name'] }], ['jwt_template.updated', { fields: ['lifetime'] }],
      ]);
    });

    it('defaults: lifetime 60, clock skew 5, no aud; the template reads fresh user data', async () => {
      const created = await call(server, 'POST', '/v1/jwt_templates', { name: 'defaults', claims: { first: '{{user.first_name}}', fixed: 'x' } });
      expect(created.body).toMatchObject({ lifetime: 60, allowed_clock_skew: 5, aud: null });
      const c = await mintClaims(server, sid, 'defaults');
      expect(c).toMatchObject({ first: 'Ada', fixed: 'x' });
      expect(c).not.toHaveProperty('aud');
      expect([c.exp - c.iat, c.iat - c.nbf]).toEqual([60, 5]);
      await call(server, 'PATCH', `/v1/users/${user.id}`, { first_name: 'Augusta' });
      expect((await mintClaims(server, sid, 'defaults')).first).toBe('Augusta');
      await call(server, 'PATCH', `/v1/users/${user.id}`, { first_name: 'Ada' });
    });

    it('refuses reserved claims, unknown shortcodes, duplicates and bad values, naming the field, changing nothing', async () => {
      for (const claim of ['sub', 'iss', 'sid', 'exp', 'nbf', 'act', 'o', 'azp']) {
        await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: { [claim]: 'x', ok: '{{user.id}}' } },
          422, 'form_param_format_invalid', `claims.${claim}`);
      }
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: { email: '{{user.emial}}' } },
        422, 'form_param_format_invalid', 'claims.email');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: { x: '{{ not a code }}' } },
        422, 'form_param_format_invalid', 'claims.x');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: { big: 'z'.repeat(9000) } },
        422, 'form_param_format_invalid', 'claims');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'defaults', claims: {} }, 422, 'form_identifier_exists', 'name');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: {}, lifetime: 10 }, 422, 'form_param_format_invalid', 'lifetime');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad', claims: {}, allowed_clock_skew: -1 }, 422, 'form_param_format_invalid', 'allowed_clock_skew');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad name', claims: {} }, 422, 'form_param_format_invalid', 'name');
      await refusedUnchanged(server, 'POST', '/v1/jwt_templates', { name: 'bad' }, 422, 'form_param_missing', 'claims');

      const id = (await call(server, 'GET', '/v1/jwt_templates')).body.data.find((t: Json) => t.name === 'defaults').id as string;
      await refusedUnchanged(server, 'PATCH', `/v1/jwt_templates/${id}`, { claims: { sub: 'x' } }, 422, 'form_param_format_invalid', 'claims.sub');
      await refusedUnchanged(server, 'PATCH', `/v1/jwt_templates/${id}`, { claims: { e: '{{user.nope}}' } }, 422, 'form_param_format_invalid', 'claims.e');
      await refusedUnchanged(server, 'PATCH', `/v1/jwt_templates/${id}`, { colour: 'red' }, 422, 'form_param_unknown', 'colour');
    });

    it('delete: the template is gone and minting by its name is 404', async () => {
      const created = (await call(server, 'POST', '/v1/jwt_templates', { name: 'doomed', claims: { a: 1 } })).body;
      expect((await mintClaims(server, sid, 'doomed')).a).toBe(1);
      const del = await call(server, 'DELETE', `/v1/jwt_templates/${created.id}`);
      expect(del.status).toBe(200);
      expect(del.body).toEqual({ object: 'jwt_template', id: created.id, deleted: true });
      expectRefused(await mint(server, sid, 'doomed'), 404, 'resource_not_found');
      expectRefused(await call(server, 'GET', `/v1/jwt_templates/${created.id}`), 404, 'resource_not_found');
      await refusedUnchanged(server, 'DELETE', `/v1/jwt_templates/${created.id}`, undefined, 404, 'resource_not_found');
      expect((await audit(server, `types=jwt_template.deleted&target_id=${created.id}`))).toHaveLength(1);
    });
  });
});

// ---------------------------------------------------------------- CLI (built, SQLite)

describe('latchkey roles / jwt-templates CLI (built, SQLite)', () => {
  let server: TestServer;
  let env: Record<string, string>;
  const cli = (...args: string[]) => runCli(args, env);

  beforeAll(async () => {
    assertBuilt();
    // Reloads settings and roles every 50 ms: changes the CLI makes reach the running server quickly.
    server = await startServer('sqlite', { reloadIntervalMs: 50 });
    env = serverEnv(server);
  });
  afterAll(() => server?.close());

  it('roles preset / list / create / delete change the catalog the server uses, audited as the operator', async () => {
    const preset = await cli('roles', 'preset', 'marketplace');
    expect(preset.stderr).toBe('');
    expect(preset.code).toBe(0);
    expect(preset.stdout).toBe('Added roles: customer, store_owner, admin.\n');
    expect(keysOf((await call(server, 'GET', '/v1/roles')).body).sort()).toEqual(['admin', 'customer', 'store_owner']);
    const instance = await waitFor('the preset settings on the server', async () => {
      const body = (await call(server, 'GET', '/v1/instance')).body;
      return body.default_role === 'customer' ? body : undefined;
    });
    expect(instance).toMatchObject({ sign_up_roles: ['customer', 'store_owner'], session_claims: MARKETPLACE_CLAIMS });
    expect((await cli('roles', 'preset', 'marketplace')).stdout).toBe('Every role of that preset exists already.\n');

    const list = await cli('roles', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('customer  Customer  (default, sign-up)  permissions: order:create,cart:manage,profile:manage\n');
    expect(list.stdout).toContain('store_owner  Store owner  (sign-up)  permissions: store:manage,product:manage,order:manage,profile:manage\n');
    expect(list.stdout).toMatch(/^admin {2}Administrator {2}permissions: platform:manage,/m);

    const created = await cli('roles', 'create', 'editor', '--name', 'Editor', '--permissions', 'post:edit,post:publish');
    expect(created.stderr).toBe('');
    expect(created.stdout).toBe('Created role editor (post:edit,post:publish).\n');
    expect((await call(server, 'GET', '/v1/roles/editor')).body).toMatchObject({ key: 'editor', name: 'Editor', permissions: ['post:edit', 'post:publish'] });

    // The running server mints the new role's permissions once it has reloaded the catalog.
    const user = await createUser(server, 'cli-editor@example.com', { public_metadata: { role: 'editor' } });
    const sid = await createSession(server, user.id);
    const claims = await waitFor('the editor permissions in a token', async () => {
      const c = await mintClaims(server, sid);
      return c.permissions?.length ? c : undefined;
    });
    expect(claims).toMatchObject({ role: 'editor', permissions: ['post:edit', 'post:publish'] });

    // Refusals: a bad key, a held role, the default role; nothing changes.
    const before = await snapshot(server.db);
    const badKey = await cli('roles', 'create', 'Bad', '--name', 'Bad');
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/key/);
    const held = await cli('roles', 'delete', 'editor');
    expect(held.code).toBe(1);
    expect(held.stderr).toMatch(/1 user\(s\) hold it/);
    const isDefault = await cli('roles', 'delete', 'customer');
    expect(isDefault.code).toBe(1);
    expect(isDefault.stderr).toMatch(/default role/);
    const unknown = await cli('roles', 'preset', 'bakery');
    expect(unknown.code).toBe(2);
    expect(await snapshot(server.db)).toBe(before);

    await call(server, 'POST', `/v1/users/${user.id}/role`, { role: null });
    const deleted = await cli('roles', 'delete', 'editor');
    expect(deleted.stderr).toBe('');
    expect(deleted.stdout).toBe('Deleted role editor.\n');
    expect((await call(server, 'GET', '/v1/roles/editor')).status).toBe(404);

    const operator = await audit(server, 'actor_type=operator&limit=500');
    expect(operator.map((e) => [e.type, e.target])).toEqual([
      ['role.preset_applied', { type: 'role_preset', id: 'marketplace' }],
      ['instance.updated', { type: 'instance', id: 'instance' }],
      ['role.created', { type: 'role', id: 'editor' }],
      ['role.deleted', { type: 'role', id: 'editor' }],
    ]);
    for (const e of operator) expect(e).toMatchObject({ actor: { type: 'operator', id: userInfo().username }, ip: null, user_agent: null });
    expect(operator[1]!.data.fields.sort()).toEqual(['default_role', 'session_claims', 'sign_up_roles']);
  });

  it('jwt-templates create / list: the server mints with the new template; audited as the operator', async () => {
    const created = await cli('jwt-templates', 'create', 'seed001', '--claims', '{"userId":"{{user.id}}"}', '--lifetime', '120');
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const id = /^Created (jtmpl_[0-9A-Za-z]+) \(seed001\)\.$/m.exec(created.stdout)?.[1];
    expect(id, created.stdout).toBeDefined();

    const template = (await call(server, 'GET', `/v1/jwt_templates/${id}`)).body;
    expect(template).toMatchObject({ name: 'seed001', claims: { userId: '{{user.id}}' }, lifetime: 120, allowed_clock_skew: 5, aud: null });
    const user = await createUser(server, 'cli-template@example.com');
    const c = await mintClaims(server, await createSession(server, user.id), 'seed001');
    expect(c.userId).toBe(user.id);
    expect(c.exp - c.iat).toBe(120);

    const list = await cli('jwt-templates', 'list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain(`${id}  seed001  lifetime 120s  aud -  claims {"userId":"{{user.id}}"}\n`);
    expect(list.stdout).toContain('jtmpl_convex  convex  lifetime 3600s  aud convex');

    const before = await snapshot(server.db);
    const reserved = await cli('jwt-templates', 'create', 'bad', '--claims', '{"sub":"x"}');
    expect(reserved.code).toBe(1);
    expect(reserved.stderr).toMatch(/claims\.sub/);
    const unknown = await cli('jwt-templates', 'create', 'bad', '--claims', '{"e":"{{user.nope}}"}');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/claims\.e/);
    expect(await snapshot(server.db)).toBe(before);

    const entries = await audit(server, `target_id=${id}`);
    expect(entries.map((e) => [e.type, e.actor.type, e.data])).toEqual([['jwt_template.created', 'operator', { name: 'seed001' }]]);
  });
});
