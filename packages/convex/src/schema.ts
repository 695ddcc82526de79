import { defineTable, type TableDefinition } from 'convex/server';
import { v, type GenericId, type ObjectType, type PropertyValidators, type VObject } from 'convex/values';

/**
 * The version of a row ensureUser made from a token before the webhook came:
 * the token carries no updated_at, and any real version must win over it, so
 * the first webhook fills in and corrects what the token said.
 */
export const PROVISIONAL_VERSION = 0;

/** The table the sync mutations and guards read and write. */
export const USERS_TABLE = 'users';

/**
 * The columns Latchkey keeps in step. `updatedAt` is the version: the user's
 * `updated_at` (ms) of the last change applied, so an older delivery never
 * overwrites a newer one. `deletedAt` marks a deleted user: the row stays,
 * redacted, as a tombstone, so a late `user.updated` cannot bring it back.
 */
export const latchkeyUserFields = {
  latchkeyId: v.string(),
  email: v.optional(v.string()),
  firstName: v.optional(v.string()),
  lastName: v.optional(v.string()),
  imageUrl: v.optional(v.string()),
  /** public_metadata.role, the role Latchkey assigns. */
  role: v.optional(v.string()),
  updatedAt: v.number(),
  deletedAt: v.optional(v.number()),
};

/**
 * `users: latchkeyUsersTable()` in convex/schema.ts. Extra columns of your own
 * may be added; make them optional, since rows are created by the webhook and
 * by ensureUser, which only know Latchkey's fields.
 */
export function latchkeyUsersTable(): LatchkeyUsersTable<typeof latchkeyUserFields>;
export function latchkeyUsersTable<Extra extends PropertyValidators>(extraFields: Extra): LatchkeyUsersTable<typeof latchkeyUserFields & Extra>;
// Overloads rather than one generic with a default `Extra`: with the default, the app's data model
// lost the field types (documents became `{ [x: string]: any }`); test/types.test.ts guards this.
export function latchkeyUsersTable(extraFields: PropertyValidators = {}) {
  // TypeScript cannot see that "latchkeyId" is a field of `fields & Extra`: the overloads' types say it.
  return defineTable({ ...latchkeyUserFields, ...extraFields }).index('by_latchkey_id', ['latchkeyId'] as never);
}

/** The table latchkeyUsersTable defines: the fields, and the by_latchkey_id index. */
export type LatchkeyUsersTable<Fields extends PropertyValidators> = TableDefinition<
  VObject<ObjectType<Fields>, Fields>,
  { by_latchkey_id: ['latchkeyId', '_creationTime'] }
>;

/** A row of the users table, as the guards return it (a type alias, so it is a Convex Value). */
export type LatchkeyUserDoc = {
  _id: GenericId<'users'>;
  _creationTime: number;
  latchkeyId: string;
  email?: string;
  firstName?: string;
  lastName?: string;
  imageUrl?: string;
  role?: string;
  updatedAt: number;
  deletedAt?: number;
};

/** The columns a sync writes (everything but the system fields). */
export type LatchkeyUserFields = Omit<LatchkeyUserDoc, '_id' | '_creationTime'>;
