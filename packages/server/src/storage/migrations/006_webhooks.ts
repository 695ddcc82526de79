import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../database.js';

/**
 * Webhook delivery and the audit log.
 *
 * - `webhook_endpoints`: where events go; secrets are sealed like private keys.
 * - `webhook_messages`: one row per (endpoint, event), written in the event's own
 *   transaction (events/outbox.ts). Its id is the stable `svix-id`. Messages of one
 *   endpoint and user form a chain delivered in order; `is_head` marks the one
 *   that may go next. The partial indexes cover only pending rows, so the
 *   delivery queue stays small however much history is kept.
 * - `webhook_attempts`: every HTTP attempt, for the operator's views.
 * - `audit_logs`: who changed what (first used for endpoints disabled by delivery).
 */
const pendingOnly = sql<boolean>`status = 'pending'`;
const pendingHeads = sql<boolean>`status = 'pending' and is_head = 1`;

export function webhooksMigration(dialect: Dialect): Migration {
  const autoKey = (name: string) => (t: any) =>
    t.addColumn(name, dialect === 'postgres' ? 'bigserial' : 'integer', (c: any) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement());
  return {
    async up(db: Kysely<any>) {
      // Clerk's event_attributes.http_request: where the change came from (JSON), null when not over HTTP.
      await db.schema.alterTable('events').addColumn('http_request', 'text').execute();
      await db.schema.createTable('webhook_endpoints')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('url', 'text', (c) => c.notNull())
        .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('event_types', 'text', (c) => c.notNull().defaultTo('[]'))
        .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
        .addColumn('disabled_reason', 'text')
        .addColumn('disabled_at', 'bigint')
        .addColumn('secret', 'text', (c) => c.notNull())
        .addColumn('previous_secret', 'text')
        .addColumn('previous_secret_until', 'bigint')
        .addColumn('rate_limit', 'integer')
        .addColumn('failing_since', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();

      await db.schema.createTable('webhook_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('endpoint_id', 'text', (c) => c.notNull().references('webhook_endpoints.id').onDelete('cascade'))
        .addColumn('event_sequence', 'bigint', (c) => c.notNull())
        .addColumn('event_type', 'text', (c) => c.notNull())
        .addColumn('order_key', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('is_head', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint', (c) => c.notNull().defaultTo(0))
        .addColumn('last_attempt_at', 'bigint')
        .addColumn('last_status_code', 'integer')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('webhook_messages_endpoint_event', ['endpoint_id', 'event_sequence'])
        .execute();
      // The delivery queue: only the head of each chain (endpoint, user) can be due.
      await db.schema.createIndex('webhook_messages_due').on('webhook_messages')
        .columns(['next_attempt_at', 'event_sequence']).where(pendingHeads).execute();
      await db.schema.createIndex('webhook_messages_order').on('webhook_messages')
        .columns(['endpoint_id', 'order_key', 'event_sequence']).where(pendingOnly).execute();
      // Retention keeps an event while a pending message still owes it.
      await db.schema.createIndex('webhook_messages_owed').on('webhook_messages')
        .column('event_sequence').where(pendingOnly).execute();
      // Retention (partial, so no query on pending messages is tempted to use them).
      await db.schema.createIndex('webhook_messages_succeeded').on('webhook_messages')
        .column('updated_at').where(sql<boolean>`status = 'succeeded'`).execute();
      await db.schema.createIndex('webhook_messages_failed').on('webhook_messages')
        .column('updated_at').where(sql<boolean>`status = 'failed'`).execute();

      await db.schema.createTable('webhook_attempts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('message_id', 'text', (c) => c.notNull().references('webhook_messages.id').onDelete('cascade'))
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('attempted_at', 'bigint', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .addColumn('response', 'text', (c) => c.notNull().defaultTo(''))
        .addColumn('error', 'text')
        .execute();
      await db.schema.createIndex('webhook_attempts_message').on('webhook_attempts')
        .columns(['message_id', 'attempted_at']).execute();
      await db.schema.createIndex('webhook_attempts_time').on('webhook_attempts').column('attempted_at').execute();

      await autoKey('sequence')(db.schema.createTable('audit_logs'))
        .addColumn('id', 'text', (c: any) => c.notNull().unique())
        .addColumn('type', 'text', (c: any) => c.notNull())
        .addColumn('actor_type', 'text', (c: any) => c.notNull())
        .addColumn('actor_id', 'text')
        .addColumn('target_type', 'text')
        .addColumn('target_id', 'text')
        .addColumn('ip', 'text')
        .addColumn('user_agent', 'text')
        .addColumn('data', 'text', (c: any) => c.notNull().defaultTo('{}'))
        .addColumn('created_at', 'bigint', (c: any) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_logs_created_at').on('audit_logs').column('created_at').execute();
      await db.schema.createIndex('audit_logs_target').on('audit_logs').columns(['target_id', 'sequence']).execute();
    },
    async down(db: Kysely<any>) {
      for (const t of ['audit_logs', 'webhook_attempts', 'webhook_messages', 'webhook_endpoints']) {
        await db.schema.dropTable(t).execute();
      }
      await db.schema.alterTable('events').dropColumn('http_request').execute();
    },
  };
}
