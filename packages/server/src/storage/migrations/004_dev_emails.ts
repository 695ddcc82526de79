import type { Kysely } from 'kysely';

/** The development outbox: every email a development instance sends, listed at GET /v1/dev/outbox. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('dev_emails')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('to_address', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('text', 'text', (c) => c.notNull())
    .addColumn('html', 'text')
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('dev_emails_created_at').on('dev_emails').columns(['created_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('dev_emails').execute();
}
