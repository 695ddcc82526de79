import type { Kysely } from 'kysely';

/**
 * Which identifier a sign-in or reset code was asked for (email-code-flows.ts):
 * a code proves only that spelling, so trying it under the account's other
 * identifier answers as an unknown identifier does, and a code asked under one
 * identifier does not void the one asked under the other.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('email_codes').addColumn('requested_as', 'text').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('email_codes').dropColumn('requested_as').execute();
}
