import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import { recordEvent } from '../events/outbox.js';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import type { DevEmailTable } from '../storage/schema.js';
import type { MailMessage, Mailer } from './mailer.js';

/**
 * Development instances' mailer: keeps every message in `dev_emails` (listed at
 * GET /v1/dev/outbox) and logs it, body included, so a developer finds the code
 * in the console. Never used on production instances.
 */
export class DevOutbox implements Mailer {
  constructor(private readonly db: Db, private readonly clock: Clock, private readonly logger: Logger) {}

  async send(message: MailMessage, acting: Db = this.db): Promise<void> {
    const now = this.clock.now();
    const row: DevEmailTable = {
      id: newId('eml', now),
      to_address: message.to,
      subject: message.subject,
      text: message.text,
      html: message.html ?? null,
      kind: message.kind,
      created_at: now,
    };
    // Clerk sends email.created on development instances; so do we, with the email, in the same transaction.
    await acting.transaction().execute(async (trx) => {
      await trx.insertInto('dev_emails').values(row).execute();
      await recordEvent(trx, now, 'email.created', emailEventData(row), null);
    });
    this.logger.info({ email_id: row.id, kind: row.kind, to: row.to_address, subject: row.subject, text: row.text },
      `email to ${row.to_address} (development outbox): ${row.subject}`);
  }
}

export interface DevEmailQuery {
  limit: number;
  offset: number;
  /** Recipients to keep (case-insensitive); empty keeps all. */
  to: string[];
}

/** Stored development emails, newest first, and how many match in all. */
export async function listDevEmails(db: Db, q: DevEmailQuery): Promise<{ data: DevEmailTable[]; totalCount: number }> {
  const lowered = q.to.map((t) => t.toLowerCase());
  let base = db.selectFrom('dev_emails');
  if (lowered.length) base = base.where(sql<string>`lower(to_address)`, 'in', lowered);
  const [rows, count] = await Promise.all([
    base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(q.limit).offset(q.offset).execute(),
    base.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { data: rows, totalCount: Number(count.n) };
}

/** Clerk's Email object, as email.created carries it. */
function emailEventData(e: DevEmailTable) {
  return {
    object: 'email',
    id: e.id,
    slug: e.kind,
    from_email_name: 'no-reply',
    to_email_address: e.to_address,
    email_address_id: null,
    user_id: null,
    subject: e.subject,
    body: e.html ?? e.text,
    body_plain: e.text,
    status: 'delivered',
    data: {},
    delivered_by_clerk: false,
    created_at: e.created_at,
  };
}

/** The Backend API's shape for a stored email. */
export function devEmailJson(e: DevEmailTable) {
  return {
    object: 'email' as const,
    id: e.id,
    to_email_address: e.to_address,
    subject: e.subject,
    body: e.text,
    html: e.html,
    kind: e.kind,
    created_at: e.created_at,
  };
}
