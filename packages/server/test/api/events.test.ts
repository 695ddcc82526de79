import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordEvent } from '../../src/events/outbox.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

interface FeedEvent {
  object: 'event';
  id: string;
  sequence: number;
  type: string;
  data: Record<string, unknown> & { id: string };
  timestamp: number;
  instance_id: string;
}
interface Feed {
  data: FeedEvent[];
  has_more: boolean;
  next_after: number;
}

/** The transactional outbox, seen through GET /v1/events. */
describe.each(dialects())('event outbox and feed (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect);
    // A user's role (public_metadata.role) must be in the role catalog; creating a role records no event.
    const role = await server.api('/v1/roles', { method: 'POST', json: { key: 'admin', name: 'Admin' } });
    expect(role.status).toBe(200);
  });
  afterAll(() => server?.close());

  const feed = async (query = ''): Promise<Feed> => (await server.api(`/v1/events${query}`)).json() as Promise<Feed>;
  const all = async (types = ''): Promise<FeedEvent[]> => {
    const out: FeedEvent[] = [];
    let after = 0;
    for (;;) {
      const page = await feed(`?after=${after}&limit=3${types ? `&types=${types}` : ''}`);
      out.push(...page.data);
      after = page.next_after;
      if (!page.has_more) return out;
    }
  };
  const post = (path: string, json: unknown = {}) => server.api(path, { method: 'POST', json });

  it('records every change with its event, in one strictly increasing order', async () => {
    const createdRes = await post('/v1/users', { email_address: ['feed@example.com'], external_id: 'ext-1', public_metadata: { role: 'admin' } });
    expect(createdRes.status).toBe(200);
    const user = await createdRes.json();
    const s1 = await (await post('/v1/sessions', { user_id: user.id })).json();
    const s2 = await (await post('/v1/sessions', { user_id: user.id })).json();
    await server.api(`/v1/users/${user.id}/metadata`, { method: 'PATCH', json: { public_metadata: { dbId: 9 } } });
    await post(`/v1/sessions/${s1.id}/revoke`);
    await post(`/v1/sessions/${s1.id}/revoke`); // a replay changes nothing and records nothing
    await post(`/v1/users/${user.id}/ban`);
    await server.api(`/v1/users/${user.id}`, { method: 'DELETE' });

    const events = await all();
    expect(events.map((e) => e.type)).toEqual([
      'user.created', 'session.created', 'session.created', 'user.updated', 'session.revoked',
      'user.updated', 'session.revoked', 'user.deleted',
    ]);
    const sequences = events.map((e) => e.sequence);
    expect(sequences).toEqual([...sequences].sort((a, b) => a - b));
    expect(new Set(sequences).size).toBe(sequences.length);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

    const [created, sc1, , metadata, revoked, banned, revokedByBan, deleted] = events;
    expect(created!.data).toMatchObject({ object: 'user', id: user.id, external_id: 'ext-1' });
    expect(created!.instance_id).toMatch(/^ins_/);
    expect(sc1!.data).toMatchObject({ object: 'session', id: s1.id, status: 'active', user: { object: 'user', id: user.id } });
    expect(metadata!.data).toMatchObject({ public_metadata: { role: 'admin', dbId: 9 } });
    expect(revoked!.data).toMatchObject({ id: s1.id, status: 'revoked' });
    expect(banned!.data).toMatchObject({ banned: true });
    expect(revokedByBan!.data).toMatchObject({ id: s2.id, status: 'revoked' });
    // user.deleted carries the ids an app finds its row by, and none of the erased data (metadata included).
    expect(deleted!.data).toEqual({ object: 'user', id: user.id, deleted: true, external_id: 'ext-1', updated_at: expect.any(Number) });
    // updated_at strictly increases across the user's events, the delete included.
    const stamps = [created, metadata, banned, deleted].map((e) => e!.data.updated_at as number);
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b));
    expect(new Set(stamps).size).toBe(4);
  });

  it('a refused change yields no event', async () => {
    const before = await all();
    expect((await post('/v1/users', { email_address: ['feed@example.com', 'FEED@example.com'] })).status).toBe(422);
    await post('/v1/users', { email_address: ['once@example.com'] });
    expect((await post('/v1/users', { email_address: ['Once@example.com'] })).status).toBe(422);
    expect((await post('/v1/sessions', { user_id: 'user_missing' })).status).toBe(404);
    const after = await all();
    expect(after.slice(before.length).map((e) => e.type)).toEqual(['user.created']);
  });

  it('filters by type and pages with after/next_after', async () => {
    const created = await all('user.created,user.deleted');
    expect(created.every((e) => e.type === 'user.created' || e.type === 'user.deleted')).toBe(true);
    expect(created.length).toBeGreaterThanOrEqual(3);
    const repeated = await (await server.api('/v1/events?types=user.created&types=user.deleted&limit=500')).json() as Feed;
    expect(repeated.data.map((e) => e.id)).toEqual(created.map((e) => e.id));
    const last = created.at(-1)!.sequence;
    expect((await feed(`?after=${last}&types=user.created,user.deleted`)).data).toEqual([]);
    for (const bad of ['?types=user.exploded', '?after=-1', '?limit=0', '?limit=501', '?cursor=1']) {
      expect((await server.api(`/v1/events${bad}`)).status, bad).toBe(422);
    }
  });

  it('concurrent writers still produce a gapless, ordered feed', async () => {
    const before = (await all()).length;
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => post('/v1/users', { email_address: [`par${i}@example.com`] }).then((r) => r.json())));
    await Promise.all(users.map((u: { id: string }) => server.api(`/v1/users/${u.id}/metadata`, { method: 'PATCH', json: { public_metadata: { n: 1 } } })));
    const events = (await all()).slice(before);
    expect(events).toHaveLength(24);
    for (const u of users as { id: string }[]) {
      const mine = events.filter((e) => e.data.id === u.id).map((e) => e.type);
      expect(mine).toEqual(['user.created', 'user.updated']);
    }
  });

  it('each event carries the request it came from (event_attributes.http_request); changes made outside a request carry empty ones', async () => {
    const res = await server.api('/v1/users', { method: 'POST', json: { email_address: ['origin@example.com'] },
      headers: { 'user-agent': 'origin-test/1.0 (+https://example.com)' } });
    const user = (await res.json()) as { id: string };
    const [created] = (await all()).filter((e) => e.data.id === user.id);
    expect((created as unknown as { event_attributes: unknown }).event_attributes).toEqual({
      http_request: { client_ip: expect.stringMatching(/^(::ffff:)?127\.0\.0\.1$|^::1$/), user_agent: 'origin-test/1.0 (+https://example.com)' },
    });
    // The domain called directly (as the CLI does) has no request.
    await server.db.transaction().execute((trx) => recordEvent(trx, Date.now(), 'user.updated', { object: 'user', id: 'user_cli' }, 'user_cli'));
    const [direct] = (await all()).filter((e) => e.data.id === 'user_cli');
    expect((direct as unknown as { event_attributes: unknown }).event_attributes).toEqual({ http_request: { client_ip: '', user_agent: '' } });
  });

  // PostgreSQL writers commit in any order; the feed must never let a reader pass a sequence still to commit.
  it.runIf(dialect === 'postgres')('a page never runs past an event still committing, and a rolled-back one leaves a hole it passes', async () => {
    const last = (await all()).at(-1)?.sequence ?? 0;
    // A transaction that records an event, says so, and then stays open until released.
    const slow = (outcome: 'commit' | 'rollback', release: Promise<void>) => {
      let recorded!: () => void;
      const written = new Promise<void>((r) => (recorded = r));
      const done = server.db.transaction().execute(async (trx) => {
        await recordEvent(trx, Date.now(), 'user.updated', { object: 'user', id: `user_held_${outcome}` }, `user_held_${outcome}`);
        recorded();
        await release;
        if (outcome === 'rollback') throw new Error('rolled back on purpose');
      }).catch((err: Error) => expect(err.message).toBe('rolled back on purpose'));
      return { written, done };
    };

    // An event drawn first but committed last: while it is open, the page stops before it.
    let release!: () => void;
    const { written, done: held } = slow('commit', new Promise<void>((r) => (release = r)));
    await written;
    expect((await post('/v1/users', { email_address: ['after-held@example.com'] })).status).toBe(200);
    const whileHeld = await feed(`?after=${last}`);
    expect(whileHeld.data).toEqual([]);
    expect(whileHeld.next_after).toBe(last);
    // Once it commits, both come, in sequence order.
    release();
    await held;
    const both = (await feed(`?after=${last}`)).data;
    expect(both.map((e) => e.data.id)).toEqual(['user_held_commit', expect.stringMatching(/^user_/)]);
    expect(both[1]!.sequence).toBeGreaterThan(both[0]!.sequence);

    // A rolled-back event leaves a hole that the feed passes once it is known to be final.
    const mark = both.at(-1)!.sequence;
    let undo!: () => void;
    const { written: drawn, done: rolled } = slow('rollback', new Promise<void>((r) => (undo = r)));
    await drawn;
    expect((await post('/v1/users', { email_address: ['after-rollback@example.com'] })).status).toBe(200);
    undo();
    await rolled;
    const after = (await feed(`?after=${mark}`)).data;
    expect(after.map((e) => e.type)).toEqual(['user.created']);
    expect(after[0]!.sequence).toBe(mark + 2);
  }, 30_000);
});
