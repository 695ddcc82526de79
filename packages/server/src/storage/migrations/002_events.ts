import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * The event outbox: every user.* / session.* change writes its event here in the
 * same transaction. `sequence` is the instance-wide order (an auto-increment key
 * in each dialect); see events/outbox.ts for why it is also the commit order.
 */
export function eventsMigration(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('events')
        .addColumn('sequence', dialect === 'postgres' ? 'bigserial' : 'integer', (c) =>
          dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('data', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_created_at').on('events').column('created_at').execute();
    },
    async down(db: Kysely<any>) {
      await db.schema.dropTable('events').execute();
    },
  };
}
