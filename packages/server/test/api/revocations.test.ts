import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationList } from '../../../backend/src/revocations/revocation-list.js';
import { ManualClock } from '../../src/clock/clock.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

interface Revocations {
  object: 'revocations';
  revoked_sessions: { id: string; user_id: string; status: string; at: number }[];
  suspended_users: { id: string; reason: string | null; suspended_until: number | null }[];
  lifted_users: string[];
  deleted_users: string[];
  cursor: number;
  has_more: boolean;
}

/** GET /v1/revocations and the SDK's RevocationList that follows it. */
describe.each(dialects())('revocations (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.UTC(2026, 10, 22, 12));

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
  });
  afterAll(() => server?.close());

  const get = async (query = ''): Promise<Revocations> => {
    const res = await server.api(`/v1/revocations${query}`);
    expect(res.status).toBe(200);
    return (await res.json()) as Revocations;
  };
  const post = async (path: string, json: unknown = {}) => {
    const res = await server.api(path, { method: 'POST', json });
    expect(res.status, path).toBe(200);
    return (await res.json()) as { id: string };
  };
  let n = 0;
  const userWithSession = async () => {
    const user = await post('/v1/users', { email_address: [`rev${++n}@example.com`] });
    const session = await post('/v1/sessions', { user_id: user.id });
    return { user, session };
  };

  it('a snapshot holds ended sessions, current bans and deletions; then the feed from its cursor has what changed since', async () => {
    const a = await userWithSession();
    const b = await userWithSession();
    const c = await userWithSession();
    await post(`/v1/sessions/${a.session.id}/revoke`);
    await post(`/v1/users/${b.user.id}/ban`, { reason: 'spam', until: clock.now() + 3_600_000 });
    expect((await server.api(`/v1/users/${c.user.id}`, { method: 'DELETE' })).status).toBe(200);

    const snap = await get();
    expect(snap.revoked_sessions.map((s) => [s.id, s.status])).toEqual(expect.arrayContaining([
      [a.session.id, 'revoked'], [b.session.id, 'revoked'], [c.session.id, 'removed'],
    ]));
    expect(snap.suspended_users).toEqual([{ id: b.user.id, reason: 'spam', suspended_until: clock.now() + 3_600_000 }]);
    expect(snap.deleted_users).toEqual([c.user.id]);
    expect(snap.has_more).toBe(false);

    // Nothing happened since: an empty page at the same cursor.
    const quiet = await get(`?after=${snap.cursor}`);
    expect(quiet).toMatchObject({ revoked_sessions: [], suspended_users: [], lifted_users: [], deleted_users: [], cursor: snap.cursor });

    // Banned then unbanned within one page reads as lifted: the user's last state wins.
    const d = await userWithSession();
    await post(`/v1/users/${d.user.id}/ban`, { reason: 'oops' });
    await post(`/v1/users/${d.user.id}/unban`);
    const e = await userWithSession();
    await post(`/v1/users/${e.user.id}/ban`);
    const next = await get(`?after=${snap.cursor}`);
    expect(next.lifted_users).toContain(d.user.id);
    expect(next.suspended_users).toEqual([{ id: e.user.id, reason: null, suspended_until: null }]);
    expect(next.revoked_sessions.map((s) => s.id)).toEqual(expect.arrayContaining([d.session.id, e.session.id]));
    expect(next.cursor).toBeGreaterThan(snap.cursor);
    for (const id of [d.user.id, e.user.id]) {
      const lists = [next.suspended_users.map((u) => u.id), next.lifted_users, next.deleted_users];
      expect(lists.filter((l) => l.includes(id))).toHaveLength(1);
    }

    // Paging: limit=1 walks the same changes one event at a time.
    const seen: string[] = [];
    let after = snap.cursor;
    for (let i = 0; i < 50; i++) {
      const page = await get(`?after=${after}&limit=1`);
      seen.push(...page.revoked_sessions.map((s) => s.id));
      after = page.cursor;
      if (!page.has_more) break;
    }
    expect(seen).toEqual(expect.arrayContaining([d.session.id, e.session.id]));
  });

  it('a ban that has reached its end is not in the snapshot', async () => {
    const u = await userWithSession();
    await post(`/v1/users/${u.user.id}/ban`, { until: clock.now() + 1000 });
    expect((await get()).suspended_users.map((s) => s.id)).toContain(u.user.id);
    clock.advance(1000);
    expect((await get()).suspended_users.map((s) => s.id)).not.toContain(u.user.id);
  });

  it('bad queries are 422 naming the parameter; without the secret key 401', async () => {
    for (const [q, param] of [['?after=x', 'after'], ['?after=-1', 'after'], ['?limit=0', 'limit'], ['?limit=1001', 'limit'], ['?since=1', 'since']]) {
      const res = await server.api(`/v1/revocations${q}`);
      expect(res.status, q).toBe(422);
      expect(((await res.json()) as { errors: { meta: { param_name: string } }[] }).errors[0]!.meta.param_name, q).toBe(param);
    }
    expect((await fetch(`${server.url}/v1/revocations`)).status).toBe(401);
  });

  it('RevocationList: the snapshot, then changes within one refresh; a lifted or expired ban passes again', async () => {
    const list = new RevocationList({ apiUrl: server.url, secretKey: server.secretKey, intervalMs: 60_000, now: () => clock.now() });
    const fine = await userWithSession();
    const revoked = await userWithSession();
    await post(`/v1/sessions/${revoked.session.id}/revoke`);
    await list.start();
    try {
      expect(list.check({ sub: fine.user.id, sid: fine.session.id })).toBeNull();
      expect(list.check({ sub: revoked.user.id, sid: revoked.session.id })).toEqual({ reason: 'revoked' });
      // A template token has no sid: the session cannot be checked, the user can.
      expect(list.check({ sub: revoked.user.id })).toBeNull();

      await post(`/v1/users/${fine.user.id}/ban`, { reason: 'chargeback', until: clock.now() + 60_000 });
      expect(list.check({ sub: fine.user.id })).toBeNull(); // not refreshed yet
      await list.refresh();
      expect(list.check({ sub: fine.user.id, sid: fine.session.id })).toEqual({
        reason: 'suspended', suspension: { reason: 'chargeback', suspendedUntil: clock.now() + 60_000 },
      });
      clock.advance(60_000);
      expect(list.check({ sub: fine.user.id })).toBeNull(); // the ban's end has come

      const again = await userWithSession();
      await post(`/v1/users/${again.user.id}/ban`);
      await list.refresh();
      expect(list.check({ sub: again.user.id })).toMatchObject({ reason: 'suspended' });
      await post(`/v1/users/${again.user.id}/unban`);
      await list.refresh();
      expect(list.check({ sub: again.user.id })).toBeNull();

      expect((await server.api(`/v1/users/${again.user.id}`, { method: 'DELETE' })).status).toBe(200);
      await list.refresh();
      expect(list.check({ sub: again.user.id })).toEqual({ reason: 'deleted' });
    } finally {
      list.stop();
    }
  });
});
