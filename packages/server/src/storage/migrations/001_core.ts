import { sql, type Kysely } from 'kysely';

/** Core tables: instance, keys, users with their identifiers, clients, sessions, JWT templates. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('instance')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('settings', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('secret_keys')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('key_hash', 'text', (c) => c.notNull().unique())
    .addColumn('key_prefix', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('revoked_at', 'bigint')
    .execute();

  await db.schema
    .createTable('signing_keys')
    .addColumn('kid', 'text', (c) => c.primaryKey())
    .addColumn('alg', 'text', (c) => c.notNull())
    .addColumn('private_key', 'text', (c) => c.notNull())
    .addColumn('public_jwk', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('retired_at', 'bigint')
    .addColumn('signed_until', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('users')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('external_id', 'text')
    .addColumn('username', 'text')
    .addColumn('first_name', 'text')
    .addColumn('last_name', 'text')
    .addColumn('image_url', 'text')
    .addColumn('password_digest', 'text')
    .addColumn('password_hasher', 'text')
    .addColumn('public_metadata', 'text', (c) => c.notNull())
    .addColumn('private_metadata', 'text', (c) => c.notNull())
    .addColumn('unsafe_metadata', 'text', (c) => c.notNull())
    .addColumn('primary_email_address_id', 'text')
    .addColumn('primary_phone_number_id', 'text')
    .addColumn('banned', 'integer', (c) => c.notNull())
    .addColumn('locked', 'integer', (c) => c.notNull())
    .addColumn('locale', 'text')
    .addColumn('timezone', 'text')
    .addColumn('delete_self_enabled', 'integer', (c) => c.notNull())
    .addColumn('create_organization_enabled', 'integer', (c) => c.notNull())
    .addColumn('legal_accepted_at', 'bigint')
    .addColumn('last_sign_in_at', 'bigint')
    .addColumn('last_active_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint')
    .execute();
  // Tombstones keep their external_id (so apps can match a deletion) without blocking reuse.
  await db.schema.createIndex('users_external_id_live').on('users').column('external_id').unique()
    .where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('users_username_live').on('users').column('username').unique()
    .where(sql.ref('deleted_at'), 'is', null).execute();
  await db.schema.createIndex('users_created_at').on('users').columns(['created_at', 'id']).execute();

  await db.schema
    .createTable('email_addresses')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('email_address', 'text', (c) => c.notNull())
    .addColumn('email_lower', 'text', (c) => c.notNull().unique())
    .addColumn('verification_status', 'text', (c) => c.notNull())
    .addColumn('verification_strategy', 'text')
    .addColumn('reserved', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('email_addresses_user').on('email_addresses').column('user_id').execute();

  await db.schema
    .createTable('phone_numbers')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('phone_number', 'text', (c) => c.notNull().unique())
    .addColumn('verification_status', 'text', (c) => c.notNull())
    .addColumn('verification_strategy', 'text')
    .addColumn('reserved', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('phone_numbers_user').on('phone_numbers').column('user_id').execute();

  await db.schema
    .createTable('clients')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('last_active_session_id', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('client_id', 'text', (c) => c.notNull().references('clients.id'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('last_active_at', 'bigint', (c) => c.notNull())
    .addColumn('expire_at', 'bigint', (c) => c.notNull())
    .addColumn('abandon_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('sessions_user').on('sessions').columns(['user_id', 'created_at']).execute();
  await db.schema.createIndex('sessions_client').on('sessions').column('client_id').execute();

  await db.schema
    .createTable('jwt_templates')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('claims', 'text', (c) => c.notNull())
    .addColumn('lifetime', 'integer', (c) => c.notNull())
    .addColumn('allowed_clock_skew', 'integer', (c) => c.notNull())
    .addColumn('aud', 'text')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['jwt_templates', 'sessions', 'clients', 'phone_numbers', 'email_addresses', 'users',
    'signing_keys', 'secret_keys', 'instance']) {
    await db.schema.dropTable(t).execute();
  }
}
