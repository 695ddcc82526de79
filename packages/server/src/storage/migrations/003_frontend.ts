import type { Kysely } from 'kysely';

/**
 * The Frontend API: client tokens (browser cookie or native Bearer), pending
 * sign-ups, and one-time email codes.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('clients').addColumn('token_hash', 'text').execute();
  await db.schema.createIndex('clients_token_hash').on('clients').column('token_hash').unique().execute();

  await db.schema
    .createTable('sign_ups')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('email_address', 'text', (c) => c.notNull())
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('username', 'text')
    .addColumn('password_digest', 'text')
    .addColumn('unsafe_metadata', 'text', (c) => c.notNull())
    .addColumn('created_user_id', 'text')
    .addColumn('created_session_id', 'text')
    .addColumn('expire_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('email_codes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('purpose', 'text', (c) => c.notNull())
    /** What the code proves: a sign-up id, a user id (sign-in, reset) or an email address id. */
    .addColumn('subject_id', 'text', (c) => c.notNull())
    .addColumn('code_hash', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull())
    .addColumn('expire_at', 'bigint', (c) => c.notNull())
    .addColumn('sent_at', 'bigint', (c) => c.notNull())
    .addColumn('consumed_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('email_codes_subject').on('email_codes').columns(['purpose', 'subject_id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('email_codes').execute();
  await db.schema.dropTable('sign_ups').execute();
  await db.schema.dropIndex('clients_token_hash').execute();
  await db.schema.alterTable('clients').dropColumn('token_hash').execute();
}
