import { sql, type Expression, type SqlBool, type ExpressionBuilder } from 'kysely';
import { notFound } from '../errors/latchkey-error.js';
import type { Db } from '../storage/database.js';
import type { Database, EmailAddressTable, PhoneNumberTable, UserTable } from '../storage/schema.js';
import { prepared } from '../storage/prepared.js';
import type { UserFilter, UserOrderField } from './schemas.js';
import type { UserRecord } from './user-record.js';

/** SQL for users and their identifiers. Every read skips tombstones. */

export async function loadUserRecords(db: Db, users: UserTable[]): Promise<UserRecord[]> {
  if (users.length === 0) return [];
  if (users.length === 1) return [await loadOneRecord(db, users[0]!)];
  const ids = users.map((u) => u.id);
  const [emails, phones] = await Promise.all([
    db.selectFrom('email_addresses').selectAll().where('user_id', 'in', ids).orderBy('created_at').orderBy('id').execute(),
    db.selectFrom('phone_numbers').selectAll().where('user_id', 'in', ids).orderBy('created_at').orderBy('id').execute(),
  ]);
  return users.map((user) => ({
    user,
    emails: emails.filter((e) => e.user_id === user.id),
    phones: phones.filter((p) => p.user_id === user.id),
  }));
}

// One user's identifiers: what every sign-in and session event reads, compiled once (storage/prepared.ts).
const emailsOf = prepared((db: Db, userId: string) =>
  db.selectFrom('email_addresses').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id'));
const phonesOf = prepared((db: Db, userId: string) =>
  db.selectFrom('phone_numbers').selectAll().where('user_id', '=', userId).orderBy('created_at').orderBy('id'));

async function loadOneRecord(db: Db, user: UserTable): Promise<UserRecord> {
  const [emails, phones] = await Promise.all([
    db.executeQuery<EmailAddressTable>(emailsOf(db, user.id)),
    db.executeQuery<PhoneNumberTable>(phonesOf(db, user.id)),
  ]);
  return { user, emails: emails.rows, phones: phones.rows };
}

export async function findLiveUser(db: Db, id: string): Promise<UserRecord | undefined> {
  const user = await db.selectFrom('users').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  if (!user) return undefined;
  const [rec] = await loadUserRecords(db, [user]);
  return rec;
}

/**
 * Locks a live user's row for the rest of the transaction and reports whether it
 * exists. A no-op UPDATE takes PostgreSQL's row lock (SELECT … FOR UPDATE is not
 * SQLite syntax) and is harmless on SQLite, whose transactions already run one at
 * a time. Read-modify-write changes (metadata merge, ban vs. new sessions) take it
 * first so concurrent ones queue instead of losing writes.
 */
export async function lockLiveUser(db: Db, id: string): Promise<boolean> {
  const res = await db.updateTable('users').set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** lockLiveUser and the row in one statement: the live user, locked for the transaction, or undefined. */
export async function lockAndReadLiveUser(db: Db, id: string): Promise<UserRecord | undefined> {
  const row = await db.updateTable('users').set((eb) => ({ updated_at: eb.ref('updated_at') }))
    .where('id', '=', id).where('deleted_at', 'is', null).returningAll().executeTakeFirst();
  if (!row) return undefined;
  const [rec] = await loadUserRecords(db, [row]);
  return rec;
}

/** The user, read under its row lock (see lockLiveUser); 404 when absent. */
export async function lockedUser(trx: Db, id: string): Promise<UserRecord> {
  const rec = await lockAndReadLiveUser(trx, id);
  if (!rec) throw notFound('User');
  return rec;
}

/** `updated_at` strictly increases per user, even within one millisecond. */
export const nextUpdatedAt = (prev: number, now: number) => Math.max(now, prev + 1);

type Eb = ExpressionBuilder<Database, 'users'>;

function filterConditions(eb: Eb, f: UserFilter): Expression<SqlBool>[] {
  const c: Expression<SqlBool>[] = [eb('users.deleted_at', 'is', null)];
  if (f.user_id.length) c.push(eb('users.id', 'in', f.user_id));
  if (f.external_id.length) c.push(eb('users.external_id', 'in', f.external_id));
  if (f.username.length) c.push(eb('users.username', 'in', f.username.map((u) => u.toLowerCase())));
  if (f.email_address.length) {
    const lowered = f.email_address.map((e) => e.toLowerCase());
    c.push(eb.exists(eb.selectFrom('email_addresses as e').select('e.id')
      .whereRef('e.user_id', '=', 'users.id').where('e.email_lower', 'in', lowered)));
  }
  if (f.phone_number.length) {
    c.push(eb.exists(eb.selectFrom('phone_numbers as p').select('p.id')
      .whereRef('p.user_id', '=', 'users.id').where('p.phone_number', 'in', f.phone_number)));
  }
  // Filters on resources Latchkey does not have match nobody, as in an instance without them.
  if (f.web3_wallet.length || f.organization_id.length) c.push(sql<SqlBool>`1 = 0`);
  if (f.query) {
    const like = `%${f.query.toLowerCase().replace(/[\\%_]/g, (m) => `\\${m}`)}%`;
    const match = (col: string) => sql<SqlBool>`lower(${sql.ref(col)}) like ${like} escape '\\'`;
    c.push(eb.or([
      match('users.id'), match('users.username'), match('users.first_name'), match('users.last_name'),
      match('users.external_id'),
      eb.exists(eb.selectFrom('email_addresses as e').select('e.id').whereRef('e.user_id', '=', 'users.id')
        .where(sql<SqlBool>`e.email_lower like ${like} escape '\\'`)),
      eb.exists(eb.selectFrom('phone_numbers as p').select('p.id').whereRef('p.user_id', '=', 'users.id')
        .where(sql<SqlBool>`p.phone_number like ${like} escape '\\'`)),
    ]));
  }
  const range = (col: 'created_at' | 'last_active_at' | 'last_sign_in_at', op: '<' | '>' | '>=', v?: number) => {
    if (v !== undefined) c.push(eb(`users.${col}`, op, v));
  };
  range('created_at', '<', f.created_at_before);
  range('created_at', '>', f.created_at_after);
  range('last_active_at', '<', f.last_active_at_before);
  range('last_active_at', '>', f.last_active_at_after);
  range('last_active_at', '>=', f.last_active_at_since);
  range('last_sign_in_at', '<', f.last_sign_in_at_before);
  range('last_sign_in_at', '>', f.last_sign_in_at_after);
  return c;
}

/** What a list is sorted by; undefined for a field no user has (then only the id orders it). */
function orderExpression(field: UserOrderField) {
  switch (field) {
    case 'email_address':
      return sql`(select e.email_lower from email_addresses e where e.id = users.primary_email_address_id)`;
    case 'phone_number':
      return sql`(select p.phone_number from phone_numbers p where p.id = users.primary_phone_number_id)`;
    case 'web3wallet':
      // Not `null`: PostgreSQL refuses a constant in ORDER BY.
      return undefined;
    default:
      return sql.ref(`users.${field}`);
  }
}

export async function listUsers(
  db: Db,
  f: UserFilter,
  page: { limit: number; offset: number; orderBy: string },
): Promise<UserRecord[]> {
  const desc = page.orderBy.startsWith('-');
  const field = page.orderBy.replace(/^[+-]/, '') as UserOrderField;
  const expr = orderExpression(field);
  const dir = desc ? sql`desc` : sql`asc`;
  // Nulls last in both directions and both dialects; id breaks ties so pages are stable.
  let query = db.selectFrom('users').selectAll().where((eb) => eb.and(filterConditions(eb, f)));
  if (expr) query = query.orderBy(sql`(${expr}) is null`).orderBy(sql`${expr} ${dir}`);
  const rows = await query
    .orderBy(sql`users.id ${dir}`)
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  return loadUserRecords(db, rows);
}

export async function countUsers(db: Db, f: UserFilter): Promise<number> {
  const row = await db
    .selectFrom('users')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where((eb) => eb.and(filterConditions(eb, f)))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
