import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { PostgresAdapter, sql } from 'kysely';
import type { Clock } from '../clock/clock.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import type { EmailCodeTable } from '../storage/schema.js';

/** One-time 6-digit email codes: short-lived, attempt-limited, resent with a cool-down. */
export const CODE_TTL_MS = 10 * 60_000;
export const CODE_MAX_ATTEMPTS = 5;
export const RESEND_COOLDOWN_MS = 30_000;

type Purpose = EmailCodeTable['purpose'];

const digest = (id: string, code: string) => createHash('sha256').update(`${id}:${code}`).digest();

/** The codes of one subject, asked with one identifier (or with none: `requestedAs` null); see IssueOptions.requestedAs. */
const codesOf = (db: Db, purpose: Purpose, subjectId: string, requestedAs: string | null) =>
  db.selectFrom('email_codes').where('requested_as', requestedAs === null ? 'is' : '=', requestedAs)
    .where('purpose', '=', purpose).where('subject_id', '=', subjectId).where('consumed_at', 'is', null);

const latest = (db: Db, purpose: Purpose, subjectId: string, requestedAs: string | null) =>
  codesOf(db, purpose, subjectId, requestedAs).selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirst();

export interface IssueOptions {
  /** false: the caller keeps the resend cool-down itself (see requestCode). */
  cooldown?: boolean;
  /** Runs once the cool-down has passed, before the code is stored (a rate limit that may refuse). */
  beforeIssue?: () => Promise<unknown>;
  /**
   * Binds the code to what it was asked with (EmailCodeTable.requested_as):
   * checkCode must name the same, and a new code voids only the earlier ones
   * asked with the same. (Were one identifier's request to void another's code,
   * the other's next attempt would tell that both name one account.)
   */
  requestedAs?: string;
}

// Names "one subject's email codes" among PostgreSQL's two-key advisory locks (the key is a hash of the subject).
const EMAIL_CODES_LOCK_CLASS = 7242;

/**
 * Issues a new code (voiding earlier ones) and returns it for the email. The
 * cool-down is read in the transaction that stores the code, one request per
 * subject at a time (SQLite runs transactions one at a time; PostgreSQL takes a
 * lock on the subject), so resends sent together cannot all pass it.
 */
export async function issueCode(db: Db, clock: Clock, purpose: Purpose, subjectId: string, opts: IssueOptions = {}): Promise<string> {
  const now = clock.now();
  const requestedAs = opts.requestedAs ?? null;
  const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
  const id = newId('code', now);
  await db.transaction().execute(async (trx) => {
    if (trx.getExecutor().adapter instanceof PostgresAdapter) {
      await sql`select pg_advisory_xact_lock(${EMAIL_CODES_LOCK_CLASS}, hashtext(${`${purpose}:${subjectId}`}))`.execute(trx);
    }
    const previous = opts.cooldown === false ? undefined : await latest(trx, purpose, subjectId, requestedAs);
    if (previous && now - previous.sent_at < RESEND_COOLDOWN_MS) {
      const retry = Math.ceil((previous.sent_at + RESEND_COOLDOWN_MS - now) / 1000);
      throw new LatchkeyError('rate_limited', 'too_many_requests', 'Too many requests',
        `A code was sent moments ago; you can ask for another in ${retry} s.`, { retry_after_seconds: retry });
    }
    await opts.beforeIssue?.();
    await trx.updateTable('email_codes').set({ consumed_at: now })
      .where('id', 'in', codesOf(trx, purpose, subjectId, requestedAs).select('id')).execute();
    await trx.insertInto('email_codes').values({
      id, purpose, subject_id: subjectId, code_hash: digest(id, code).toString('hex'), attempts: 0,
      expire_at: now + CODE_TTL_MS, sent_at: now, consumed_at: null, created_at: now, requested_as: requestedAs,
    }).execute();
  });
  return code;
}

const codeError = (code: string, long: string, meta: Record<string, unknown> = {}) =>
  new LatchkeyError('unprocessable', code, 'verification failed', long, { param_name: 'code', ...meta });

export const wrongCode = (attemptsRemaining: number) =>
  codeError('form_code_incorrect', 'The code is incorrect.', { attempts_remaining: attemptsRemaining });

/**
 * Checks a code and consumes it; the refusal, or null when the code was right.
 * Every try counts as an attempt, reserved before the code is compared (so
 * concurrent guesses cannot all slip under the limit) and committed even when
 * the caller then fails the request; after CODE_MAX_ATTEMPTS the code is dead.
 * A code issued with `requestedAs` is live only for a check naming the same.
 */
export async function checkCode(db: Db, clock: Clock, purpose: Purpose, subjectId: string, code: string, requestedAs?: string): Promise<LatchkeyError | null> {
  const now = clock.now();
  const row = await latest(db, purpose, subjectId, requestedAs ?? null);
  if (!row || now >= row.expire_at) return codeError('verification_expired', 'This code has expired; ask for a new one.');
  const reserved = await db.updateTable('email_codes').set((eb) => ({ attempts: eb('attempts', '+', 1) }))
    .where('id', '=', row.id).where('attempts', '<', CODE_MAX_ATTEMPTS).returning('attempts').executeTakeFirst();
  if (!reserved) return codeError('verification_failed', 'Too many wrong codes; ask for a new one.');
  const ok = /^\d{6}$/.test(code) && timingSafeEqual(digest(row.id, code), Buffer.from(row.code_hash, 'hex'));
  if (!ok) return wrongCode(CODE_MAX_ATTEMPTS - reserved.attempts);
  // Only one request can consume it, even when two race with the right code.
  const res = await db.updateTable('email_codes').set({ consumed_at: now })
    .where('id', '=', row.id).where('consumed_at', 'is', null).executeTakeFirst();
  return Number(res.numUpdatedRows) === 1 ? null : codeError('verification_expired', 'This code was already used.');
}

/** checkCode, throwing its refusal. */
export async function consumeCode(db: Db, clock: Clock, purpose: Purpose, subjectId: string, code: string): Promise<void> {
  const refused = await checkCode(db, clock, purpose, subjectId, code);
  if (refused) throw refused;
}
