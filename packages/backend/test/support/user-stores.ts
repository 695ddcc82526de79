import Database from 'better-sqlite3';
import pg from 'pg';
import type { User, UserStore } from '../../src/index.js';

/**
 * Two app databases as an app would write them for createUserSync: a small
 * `users` table keyed by the Latchkey id, with the user's version
 * (data.updated_at) guarding every write, and a table of seen delivery ids.
 */

export interface Row {
  id: number;
  latchkey_id: string;
  email: string | null;
  first_name: string | null;
  role: string | null;
  version: number;
  deleted_at: number | null;
}

export interface TestStore extends UserStore {
  kind: 'sqlite' | 'postgres';
  row(latchkeyId: string): Promise<Row | undefined>;
  rows(): Promise<Row[]>;
  close(): Promise<void>;
}

/** The columns this app keeps. */
function columns(user: User) {
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id);
  const role = user.public_metadata.role;
  return { email: primary?.email_address ?? null, first_name: user.first_name, role: typeof role === 'string' ? role : null };
}

/** `firstId`: where row ids start, so two databases of one test do not hand out the same ids by chance. */
export function sqliteStore(firstId = 1): TestStore {
  const db = new Database(':memory:');
  db.exec(`
    create table users (
      id integer primary key autoincrement,
      latchkey_id text not null unique,
      email text,
      first_name text,
      role text,
      version integer not null,
      deleted_at integer
    );
    create table webhook_deliveries (id text primary key);
  `);
  if (firstId > 1) db.prepare("insert into sqlite_sequence (name, seq) values ('users', ?)").run(firstId - 1);
  // The version check lives in the statement itself: concurrent deliveries cannot overwrite newer data.
  const upsert = db.prepare(`
    insert into users (latchkey_id, email, first_name, role, version) values (@latchkey_id, @email, @first_name, @role, @version)
    on conflict (latchkey_id) do update set email = excluded.email, first_name = excluded.first_name, role = excluded.role,
      version = excluded.version
    where users.version <= excluded.version and users.deleted_at is null
    returning id`);
  const softDelete = db.prepare(`
    insert into users (latchkey_id, version, deleted_at) values (@latchkey_id, @version, @version)
    on conflict (latchkey_id) do update set version = excluded.version, deleted_at = excluded.deleted_at
    where users.version < excluded.version`);
  return {
    kind: 'sqlite',
    async version(userId) {
      const r = db.prepare('select version from users where latchkey_id = ?').get(userId) as { version: number } | undefined;
      return r?.version;
    },
    async upsert(user, version) {
      const r = upsert.get({ latchkey_id: user.id, version, ...columns(user) }) as { id: number } | undefined;
      return r?.id;
    },
    async softDelete(userId, version) {
      softDelete.run({ latchkey_id: userId, version });
    },
    async claimDelivery(id) {
      return db.prepare('insert into webhook_deliveries (id) values (?) on conflict do nothing').run(id).changes === 1;
    },
    async releaseDelivery(id) {
      db.prepare('delete from webhook_deliveries where id = ?').run(id);
    },
    async row(latchkeyId) {
      return db.prepare('select * from users where latchkey_id = ?').get(latchkeyId) as Row | undefined;
    },
    async rows() {
      return db.prepare('select * from users order by id').all() as Row[];
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresStore(url: string, firstId = 1): Promise<TestStore> {
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  await pool.query(`
    create table users (
      id serial primary key,
      latchkey_id text not null unique,
      email text,
      first_name text,
      role text,
      version bigint not null,
      deleted_at bigint
    );
    create table webhook_deliveries (id text primary key);
    alter sequence users_id_seq restart with ${Number(firstId)};
  `);
  // bigint comes back as a string: the version is a millisecond timestamp, safe as a number.
  const toRow = (r: Record<string, unknown>): Row => ({
    ...(r as unknown as Row), version: Number(r.version), deleted_at: r.deleted_at === null ? null : Number(r.deleted_at),
  });
  return {
    kind: 'postgres',
    async version(userId) {
      const { rows } = await pool.query('select version from users where latchkey_id = $1', [userId]);
      return rows[0] ? Number(rows[0].version) : undefined;
    },
    async upsert(user, version) {
      const c = columns(user);
      const { rows } = await pool.query(`
        insert into users (latchkey_id, email, first_name, role, version) values ($1, $2, $3, $4, $5)
        on conflict (latchkey_id) do update set email = excluded.email, first_name = excluded.first_name, role = excluded.role,
          version = excluded.version
        where users.version <= excluded.version and users.deleted_at is null
        returning id`, [user.id, c.email, c.first_name, c.role, version]);
      return rows[0]?.id as number | undefined;
    },
    async softDelete(userId, version) {
      await pool.query(`
        insert into users (latchkey_id, version, deleted_at) values ($1, $2, $2)
        on conflict (latchkey_id) do update set version = excluded.version, deleted_at = excluded.deleted_at
        where users.version < excluded.version`, [userId, version]);
    },
    async claimDelivery(id) {
      const res = await pool.query('insert into webhook_deliveries (id) values ($1) on conflict do nothing', [id]);
      return res.rowCount === 1;
    },
    async releaseDelivery(id) {
      await pool.query('delete from webhook_deliveries where id = $1', [id]);
    },
    async row(latchkeyId) {
      const { rows } = await pool.query('select * from users where latchkey_id = $1', [latchkeyId]);
      return rows[0] ? toRow(rows[0]) : undefined;
    },
    async rows() {
      return (await pool.query('select * from users order by id')).rows.map(toRow);
    },
    async close() {
      await pool.end();
    },
  };
}
