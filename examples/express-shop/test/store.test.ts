import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../src/db/schema.mjs';
import { createUserRepository } from '../src/db/users.mjs';
import { pgUrl, shopDatabase } from './support/fixture.js';

/**
 * The shop's UserStore on its own, against PostgreSQL: the version condition
 * lives in the SQL, so writes that pass the sync kit's version() check side by
 * side (two deliveries at once) still end at the newest state.
 */

const user = (id: string, version: number, first: string, extra: Record<string, unknown> = {}) => ({
  object: 'user', id, first_name: first, last_name: 'Lovelace', image_url: '', updated_at: version,
  primary_email_address_id: 'idn_1', email_addresses: [{ id: 'idn_1', email_address: `${first.toLowerCase()}@example.com` }],
  public_metadata: { role: 'user' }, ...extra,
}) as never;

(pgUrl() ? describe : describe.skip)('the shop\'s user store (PostgreSQL)', () => {
  let db: Awaited<ReturnType<typeof shopDatabase>>;
  let repo: ReturnType<typeof createUserRepository>;
  beforeAll(async () => {
    db = await shopDatabase();
    await migrate(db.pool);
    await migrate(db.pool); // idempotent: a restart finds its tables
    repo = createUserRepository(db.pool);
  });
  afterAll(() => db?.close());

  it('an older write never replaces a newer one, whatever order they run in', async () => {
    const id = await repo.store.upsert(user('user_a', 200, 'New'), 200);
    expect(await repo.store.upsert(user('user_a', 100, 'Old'), 100)).toBe(id); // still answers the row id
    expect(await repo.find('user_a')).toMatchObject({ id, firstName: 'New', email: 'new@example.com', version: 200 });
    expect(await repo.store.version('user_a')).toBe(200);
    expect(await repo.store.version('user_nobody')).toBeUndefined();

    // Side by side: every version at once, in shuffled order; the highest wins.
    const versions = Array.from({ length: 30 }, (_, i) => 1_000 + i).sort(() => Math.random() - 0.5);
    await Promise.all(versions.map((v) => repo.store.upsert(user('user_b', v, `V${v}`), v)));
    expect(await repo.find('user_b')).toMatchObject({ firstName: 'V1029', version: 1029 });
    expect((await db.pool.query('SELECT count(*)::int AS n FROM users WHERE latchkey_id = $1', ['user_b'])).rows[0].n).toBe(1);
  });

  it('soft delete redacts the personal data, keeps the row, and nothing brings it back', async () => {
    const id = await repo.store.upsert(user('user_c', 10, 'Carol', { public_metadata: { role: 'moderator' } }), 10);
    await repo.store.softDelete('user_c', 20, { object: 'user', id: 'user_c', deleted: true, external_id: null, public_metadata: {}, updated_at: 20 });
    const deleted = await repo.find('user_c');
    expect(deleted).toMatchObject({ id, email: null, firstName: null, lastName: null, imageUrl: null, role: 'moderator', version: 20 });
    expect(deleted!.deletedAt).not.toBeNull();
    expect(await repo.findLive('user_c')).toBeNull();
    // A stale update, and even one claiming a newer version: the row stays deleted and redacted.
    await repo.store.upsert(user('user_c', 15, 'Carol'), 15);
    await repo.store.upsert(user('user_c', 30, 'Carol'), 30);
    expect(await repo.find('user_c')).toEqual(deleted);

    // Deleted before it was ever created here: a tombstone, and the late user.created writes nothing.
    await repo.store.softDelete('user_d', 50, { object: 'user', id: 'user_d', deleted: true, external_id: null, public_metadata: {}, updated_at: 50 });
    expect(await repo.store.upsert(user('user_d', 40, 'Dan'), 40)).toBeUndefined();
    expect(await repo.find('user_d')).toMatchObject({ email: null, firstName: null, version: 50 });
    expect(await repo.findLive('user_d')).toBeNull();
  });
});
