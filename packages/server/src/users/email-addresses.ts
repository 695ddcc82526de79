import type { Clock } from '../clock/clock.js';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import { isUniqueViolation, type Db } from '../storage/database.js';
import type { EmailAddressTable } from '../storage/schema.js';
import { identifierExists, updated } from './users.js';
import { lockAndReadLiveUser, nextUpdatedAt } from './store.js';
import type { UserRecord } from './user-record.js';

/**
 * A user's own email addresses: add (unverified until a code proves it), mark
 * verified, make primary, remove. Each change is one transaction with user.updated.
 * `others` names further accounts the change will touch: every account is locked
 * in one order (by id), so two changes that touch the same two accounts wait for
 * each other instead of deadlocking.
 */
async function change(
  db: Db, clock: Clock, userId: string,
  fn: (trx: Db, rec: UserRecord, now: number) => Promise<void>,
  others: (trx: Db) => Promise<string[]> = async () => [],
): Promise<UserRecord> {
  try {
    return await db.transaction().execute(async (trx) => {
      const ids = [...new Set([userId, ...await others(trx)])].sort();
      let rec: UserRecord | undefined;
      for (const id of ids) {
        const locked = await lockAndReadLiveUser(trx, id);
        if (id === userId) rec = locked;
      }
      if (!rec) throw notFound('User');
      const now = clock.now();
      await fn(trx, rec, now);
      await trx.updateTable('users').set({ updated_at: nextUpdatedAt(rec.user.updated_at, now) }).where('id', '=', userId).execute();
      return updated(trx, userId, now);
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw identifierExists('email_address', 'email address');
    throw err;
  }
}

const own = (rec: UserRecord, emailId: string): EmailAddressTable => {
  const e = rec.emails.find((x) => x.id === emailId);
  if (!e) throw notFound('Email address');
  return e;
};

/**
 * Whether an account holds `lower` for good: verified (proven by its owner or
 * set so by the operator) or reserved by the operator. An address that was
 * only added on /v1/me, never proven, is no one's: it signs no one in
 * (frontend/sign-ins.ts), and whoever proves it, or an operator who creates a
 * user with it, takes it (`releaseUnproven`): nobody can block an address by
 * adding it first.
 */
export async function emailAddressHeld(db: Db, lower: string): Promise<boolean> {
  const held = await db.selectFrom('email_addresses').select('id').where('email_lower', '=', lower)
    .where((eb) => eb.or([eb('verification_status', '=', 'verified'), eb('reserved', '=', 1)])).executeTakeFirst();
  return held !== undefined;
}

/** The accounts other than `claimantId` that hold any of `lowers` unproven, by id. */
async function unprovenHolders(db: Db, lowers: string[], claimantId: string | null): Promise<string[]> {
  if (!lowers.length) return [];
  const rows = await db.selectFrom('email_addresses').select('user_id').where('email_lower', 'in', lowers)
    .where('verification_status', '!=', 'verified').where('reserved', '=', 0)
    .$if(claimantId !== null, (q) => q.where('user_id', '!=', claimantId!)).execute();
  return [...new Set(rows.map((r) => r.user_id))].sort();
}

/**
 * Takes `lowers` from every other account that holds one unproven, inside the
 * claimant's transaction: the address rows go, with their pending codes; a
 * primary address is replaced by the account's oldest remaining one; each such
 * account gets user.updated. Each holder is locked (all in id order) and read
 * again first: one that verified an address in the meantime keeps it, and the
 * claim fails with form_identifier_exists.
 */
export async function releaseUnproven(trx: Db, now: number, lowers: string[], claimantId: string | null): Promise<void> {
  for (const holder of await unprovenHolders(trx, lowers, claimantId)) {
    const rec = await lockAndReadLiveUser(trx, holder);
    const rows = rec?.emails.filter((e) => lowers.includes(e.email_lower)) ?? [];
    if (!rec || !rows.length) continue; // deleted, or removed by its holder, meanwhile
    if (rows.some((r) => r.verification_status === 'verified' || r.reserved)) throw identifierExists('email_address', 'email address');
    const gone = rows.map((r) => r.id);
    await trx.deleteFrom('email_codes').where('subject_id', 'in', gone).execute();
    await trx.deleteFrom('email_addresses').where('id', 'in', gone).execute();
    const primary = gone.includes(rec.user.primary_email_address_id ?? '')
      ? rec.emails.filter((e) => !gone.includes(e.id)).sort((a, b) => a.created_at - b.created_at)[0]?.id ?? null
      : rec.user.primary_email_address_id;
    await trx.updateTable('users').set({ primary_email_address_id: primary, updated_at: nextUpdatedAt(rec.user.updated_at, now) })
      .where('id', '=', holder).execute();
    await updated(trx, holder, now);
  }
}

export async function addEmailAddress(db: Db, clock: Clock, userId: string, address: string): Promise<{ user: UserRecord; emailId: string }> {
  const emailId = newId('idn', clock.now());
  const lower = address.toLowerCase();
  const user = await change(db, clock, userId, async (trx, rec, now) => {
    if (rec.emails.some((e) => e.email_lower === lower) || await emailAddressHeld(trx, lower)) {
      throw identifierExists('email_address', 'email address');
    }
    await releaseUnproven(trx, now, [lower], userId);
    if (rec.emails.length >= 20) throw new LatchkeyError('unprocessable', 'too_many_email_addresses', 'too many', 'A user may have at most 20 email addresses.');
    await trx.insertInto('email_addresses').values({
      id: emailId, user_id: userId, email_address: address, email_lower: lower, verification_status: 'unverified',
      verification_strategy: 'email_code', reserved: 0, created_at: now, updated_at: now,
    }).execute();
  }, (trx) => unprovenHolders(trx, [lower], userId));
  return { user, emailId };
}

export async function markEmailVerified(db: Db, clock: Clock, userId: string, emailId: string): Promise<UserRecord> {
  return change(db, clock, userId, async (trx, rec, now) => {
    own(rec, emailId);
    await trx.updateTable('email_addresses').set({ verification_status: 'verified', updated_at: now }).where('id', '=', emailId).execute();
  });
}

export async function makePrimaryEmail(db: Db, clock: Clock, userId: string, emailId: string): Promise<UserRecord> {
  return change(db, clock, userId, async (trx, rec) => {
    if (own(rec, emailId).verification_status !== 'verified') {
      throw new LatchkeyError('unprocessable', 'email_address_not_verified', 'not verified', 'Only a verified email address can become primary.', { param_name: 'email_address_id' });
    }
    await trx.updateTable('users').set({ primary_email_address_id: emailId }).where('id', '=', userId).execute();
  });
}

export async function removeEmailAddress(db: Db, clock: Clock, userId: string, emailId: string): Promise<UserRecord> {
  return change(db, clock, userId, async (trx, rec) => {
    own(rec, emailId);
    if (rec.user.primary_email_address_id === emailId) {
      throw new LatchkeyError('unprocessable', 'primary_email_address_undeletable', 'primary address', 'Make another address primary before removing this one.', { param_name: 'email_address_id' });
    }
    await trx.deleteFrom('email_addresses').where('id', '=', emailId).execute();
  });
}
