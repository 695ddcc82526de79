import type { Kysely } from 'kysely';

/**
 * When a session's user last proved a first factor (a password or an email
 * code), for the `fva` claim of its tokens: null for a session the Backend API
 * opened, which proved nothing (`fva` [-1, -1]).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').addColumn('first_factor_verified_at', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sessions').dropColumn('first_factor_verified_at').execute();
}
