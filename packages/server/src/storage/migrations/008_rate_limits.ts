import type { Kysely } from 'kysely';

/**
 * Rate-limit counters shared by every instance on one PostgreSQL database
 * (abuse/rate-limits.ts, rate-limiter-flexible's layout: the bucket's name is
 * part of the key). SQLite serves one process, which counts in memory; the
 * table exists there too so both dialects keep one schema.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('rate_limits')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('expire', 'bigint')
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('rate_limits').execute();
}
