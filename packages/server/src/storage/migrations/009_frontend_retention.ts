import type { Kysely } from 'kysely';

/**
 * What lets expired sign-ups and codes be deleted (frontend/retention.ts), and a
 * user's deletion find their sign-up, without scanning either table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('sign_ups_expire_at').on('sign_ups').column('expire_at').execute();
  await db.schema.createIndex('sign_ups_created_user').on('sign_ups').column('created_user_id').execute();
  await db.schema.createIndex('email_codes_expire_at').on('email_codes').column('expire_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('email_codes_expire_at').execute();
  await db.schema.dropIndex('sign_ups_created_user').execute();
  await db.schema.dropIndex('sign_ups_expire_at').execute();
}
