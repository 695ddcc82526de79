import type { Kysely } from 'kysely';

/**
 * Roles, suspension with a reason and an end, and the audit log's filters.
 *
 * - `roles`: the instance's role catalog; a user's role is public_metadata.role.
 * - `users.ban_reason`, `users.banned_until`: a ban may say why and lift itself.
 * - `sign_ups.role`: the role an end user picked at sign-up (one the instance allows).
 * - `audit_logs`: indexes for the actor and type filters (target and time exist).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('roles')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('permissions', 'text', (c) => c.notNull().defaultTo('[]'))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('updated_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.alterTable('users').addColumn('ban_reason', 'text').execute();
  await db.schema.alterTable('users').addColumn('banned_until', 'bigint').execute();
  await db.schema.alterTable('sign_ups').addColumn('role', 'text').execute();
  await db.schema.createIndex('users_banned_until').on('users').column('banned_until').execute();
  await db.schema.createIndex('audit_logs_actor').on('audit_logs').columns(['actor_id', 'sequence']).execute();
  await db.schema.createIndex('audit_logs_type').on('audit_logs').columns(['type', 'sequence']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('audit_logs_type').execute();
  await db.schema.dropIndex('audit_logs_actor').execute();
  await db.schema.dropIndex('users_banned_until').execute();
  await db.schema.alterTable('sign_ups').dropColumn('role').execute();
  await db.schema.alterTable('users').dropColumn('banned_until').execute();
  await db.schema.alterTable('users').dropColumn('ban_reason').execute();
  await db.schema.dropTable('roles').execute();
}
