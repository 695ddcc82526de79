import type { GenericDatabaseReader, GenericDatabaseWriter } from 'convex/server';
import { USERS_TABLE, type LatchkeyUserDoc, type LatchkeyUserFields } from './schema.js';

/**
 * Reads and writes of the users table, shared by the sync mutations and the
 * guards. The database is typed `any` here: an app's data model is only known
 * in its own convex/ folder; the table's shape is fixed by latchkeyUsersTable.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDbReader = GenericDatabaseReader<any>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyDbWriter = GenericDatabaseWriter<any>;

/**
 * The row of a Latchkey user, deleted or not. `unique()` is safe: mutations are
 * serializable, so two inserts for one id cannot both commit.
 */
export async function findUserRow(db: AnyDbReader, latchkeyId: string): Promise<LatchkeyUserDoc | null> {
  return (await db
    .query(USERS_TABLE)
    .withIndex('by_latchkey_id', (q) => q.eq('latchkeyId', latchkeyId))
    .unique()) as LatchkeyUserDoc | null;
}

/** db.insert keeps no undefined values: leave them out rather than rely on that. */
const defined = (fields: LatchkeyUserFields) =>
  Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined));

export async function insertUserRow(db: AnyDbWriter, fields: LatchkeyUserFields): Promise<LatchkeyUserDoc['_id']> {
  return (await db.insert(USERS_TABLE, defined(fields))) as LatchkeyUserDoc['_id'];
}
