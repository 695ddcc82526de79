import { createHash } from 'node:crypto';
import { z } from 'zod';
import { isLocked, lockoutExpiresInSeconds, registerFailure, registerSuccess, type LockoutState } from '../abuse/lockout.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { hashPassword, verifyPassword } from '../passwords/passwords.js';
import type { Services } from '../services.js';
import { openSession } from '../sessions/sessions.js';
import { lockLiveUser } from '../users/store.js';
import { recordAudit } from '../audit/audit-log.js';
import type { Db } from '../storage/database.js';
import { lockedError, suspensionRefusal, type UserRecord } from '../users/user-record.js';
import type { SessionTable, UserTable } from '../storage/schema.js';
import { prepared } from '../storage/prepared.js';
import type { CompiledQuery } from 'kysely';
import type { ClientRef } from './clients.js';

export const passwordSignInSchema = z.strictObject({
  /** An email address or a username. */
  identifier: z.string().min(1).max(320),
  password: z.string().min(1).max(1024),
});

/**
 * One answer for "no such user" and "wrong password": same status, same body, and
 * (by verifying against a stand-in hash) about the same time, so sign-in cannot
 * be used to learn who has an account.
 */
const badCredentials = () =>
  new LatchkeyError('unprocessable', 'form_password_incorrect', 'Incorrect identifier or password',
    'The identifier or password is incorrect.', { param_name: 'password' });

let standIn: Promise<string> | undefined;

/**
 * A live user by email address (any of theirs) or username, case-insensitively,
 * as far as the instance's sign_in_identifiers allow.
 */
export async function findByIdentifier(s: Services, identifier: string) {
  const query = identifierQuery(s.db, s.settings.get().sign_in_identifiers, identifier);
  return query && (await s.db.executeQuery<SignInUser>(query)).rows[0];
}

/** What sign-in needs to know of a user. */
type SignInUser = Pick<UserTable, 'id' | 'password_digest' | 'banned' | 'ban_reason' | 'banned_until' | 'locked' | 'failed_attempts' | 'locked_until'>;

/**
 * The query behind findByIdentifier: one indexed lookup. Usernames cannot
 * contain "@" and email addresses must, so the identifier says which it is
 * (an OR of both made SQLite scan every user on each sign-in).
 */
export function identifierQuery(db: Db, kinds: readonly string[], identifier: string): CompiledQuery | undefined {
  const id = identifier.trim().toLowerCase();
  const byEmail = id.includes('@');
  if (!kinds.includes(byEmail ? 'email_address' : 'username')) return undefined;
  return byEmail ? userByEmail(db, id) : userByUsername(db, id);
}

const signInUser = (db: Db) => db.selectFrom('users')
  .select(['id', 'password_digest', 'banned', 'ban_reason', 'banned_until', 'locked', 'failed_attempts', 'locked_until'])
  .where('deleted_at', 'is', null);
// Only an address its holder proved (or the operator reserved) is an identifier: one
// added on /v1/me and never verified would let its adder sign in by someone else's address.
const userByEmail = prepared((db: Db, email: string) =>
  signInUser(db).where('id', 'in', db.selectFrom('email_addresses').select('user_id').where('email_lower', '=', email)
    .where((eb) => eb.or([eb('verification_status', '=', 'verified'), eb('reserved', '=', 1)]))));
const userByUsername = prepared((db: Db, username: string) => signInUser(db).where('username', '=', username));

/** SHA-256 (hex) of an identifier as the lookup reads it (trimmed, case-folded): what is kept of one that names nobody. */
export const identifierDigest = (identifier: string) => createHash('sha256').update(identifier.trim().toLowerCase()).digest('hex');

/** Refuses a first factor the instance has turned off. */
export function requireFactor(s: Services, factor: 'password' | 'email_code'): void {
  if (!s.settings.get().first_factors.includes(factor)) {
    throw new LatchkeyError('unprocessable', 'strategy_for_user_invalid', 'Sign-in method not allowed',
      `This instance does not allow sign-in with ${factor === 'password' ? 'a password' : 'an email code'}.`, { param_name: 'strategy' });
  }
}

export type SignInStrategy = 'password' | 'email_code' | 'reset_password_email_code';

/**
 * Audits a refused sign-in: the user when the identifier names one, else only a
 * digest of what was typed (people paste passwords into the identifier field;
 * the digest still shows repeated tries of one identifier). `db` may be the
 * transaction of a change made with it (a failed attempt counted).
 */
export async function auditSignInFailure(db: Db, now: number, f: { userId?: string | undefined; identifier: string; strategy: SignInStrategy; reason: string }) {
  const tried = f.userId
    ? { identifier: f.identifier.slice(0, 320) }
    : { identifier_sha256: identifierDigest(f.identifier) };
  await recordAudit(db, now, {
    type: 'user.sign_in_failed',
    actor: { type: 'user', id: f.userId ?? null },
    ...(f.userId ? { target: { type: 'user', id: f.userId } } : {}),
    data: { ...tried, strategy: f.strategy, reason: f.reason },
  });
}

/** What a successful sign-in opened: the session, and its user as the answer shows them. */
export interface SignedIn {
  session: SessionTable;
  user: UserRecord;
}

/** Opens the session of a successful sign-in and audits it, in one transaction (the caller's). */
export async function signedIn(trx: Db, s: Services, userId: string, client: ClientRef, strategy: SignInStrategy): Promise<SignedIn> {
  const opened = await openSession(trx, s.clock, s.settings.get(), userId, client, true);
  const { session } = opened;
  await recordAudit(trx, session.created_at, { type: 'user.signed_in', actor: { type: 'user', id: userId },
    target: { type: 'user', id: userId }, data: { strategy, session_id: session.id } });
  return opened;
}


/**
 * Password sign-in. Wrong passwords count towards a lockout (instance settings
 * lockout_max_attempts / lockout_minutes); while locked, even the right password
 * is refused. Success resets the count. Every outcome is audited.
 *
 * Each attempt is counted as a failure before its password is checked (see
 * admitAttempt), so guesses sent in parallel cannot check more passwords than
 * the policy allows; a right password then resets the count.
 */
export async function signInWithPassword(s: Services, client: ClientRef, identifier: string, password: string): Promise<SignedIn> {
  requireFactor(s, 'password');
  const user = await findByIdentifier(s, identifier);
  const now = s.clock.now();
  const fail = async (reason: string, err: LatchkeyError) => {
    await auditSignInFailure(s.db, now, { userId: user?.id, identifier, strategy: 'password', reason });
    return err;
  };
  // Unknown users, and users without a password, go through the same transaction on no row, so they are not answered sooner.
  const admitted = await admitAttempt(s, user?.password_digest ? user.id : NO_USER, now);
  if (admitted && 'lockedFor' in admitted) throw await fail('locked_out', lockedError(admitted.lockedFor));
  // Kept once made; a failed attempt is forgotten, or every unknown identifier would fail differently from a known one.
  standIn ??= hashPassword('latchkey stand-in password, never matches').catch((err: unknown) => {
    standIn = undefined;
    throw err;
  });
  const digest = user?.password_digest ?? (await standIn);
  const ok = await verifyPassword(digest, password);
  if (!user || !admitted) throw await fail(user ? 'no_password' : 'unknown_identifier', badCredentials());
  if (!ok) {
    await auditFailure(s, user.id, identifier, now, admitted);
    throw badCredentials();
  }
  type Outcome = { refused: LatchkeyError; reason: string } | { signedIn: SignedIn };
  const outcome = await s.db.transaction().execute(async (trx): Promise<Outcome> => {
    // Read again under the lock: a ban, a manual lock or a deletion may have come while the password was checked.
    const fresh = (await lockLiveUser(trx, user.id))
      ? await trx.selectFrom('users').select(['banned', 'ban_reason', 'banned_until', 'locked']).where('id', '=', user.id).executeTakeFirstOrThrow()
      : undefined;
    // A user deleted meanwhile is answered as an unknown one.
    const refused = fresh ? suspensionRefusal(fresh, now) : badCredentials();
    if (refused) return { refused, reason: fresh ? refused.code : 'unknown_identifier' };
    await trx.updateTable('users').set(registerSuccess()).where('id', '=', user.id).execute();
    return { signedIn: await signedIn(trx, s, user.id, client, 'password') };
  });
  if ('refused' in outcome) throw await fail(outcome.reason, outcome.refused);
  return outcome.signedIn;
}

type Admission = { lockedFor: number | null } | { counted: LockoutState; before: LockoutState };

/** An id no user has (ids are user_ + 27 characters): admitAttempt on it finds no row. */
const NO_USER = 'user_none';

/**
 * Lets one password attempt through, under the user's row lock: refused while
 * the account is locked, else counted as a failure up front. The attempt that
 * reaches lockout_max_attempts locks the account, so every later one, even one
 * already on its way, is refused without checking its password.
 */
async function admitAttempt(s: Services, userId: string, now: number): Promise<Admission | undefined> {
  const settings = s.settings.get();
  const policy = { maxAttempts: settings.lockout_max_attempts, lockoutMinutes: settings.lockout_minutes };
  return s.db.transaction().execute(async (trx) => {
    await lockLiveUser(trx, userId);
    const before = await trx.selectFrom('users').select(['failed_attempts', 'locked_until']).where('id', '=', userId).executeTakeFirst();
    if (!before) return undefined;
    if (isLocked(before, now)) return { lockedFor: lockoutExpiresInSeconds(before, now) };
    const counted = registerFailure(before, now, policy);
    await trx.updateTable('users').set(counted).where('id', '=', userId).execute();
    return { counted, before };
  });
}

/** Audits a wrong password (already counted by admitAttempt); the attempt whose count locked the account audits the lockout. */
async function auditFailure(s: Services, userId: string, identifier: string, now: number, admitted: Admission): Promise<void> {
  await s.db.transaction().execute(async (trx) => {
    await auditSignInFailure(trx, now, { userId, identifier, strategy: 'password', reason: 'wrong_password' });
    if ('counted' in admitted && admitted.counted.locked_until !== null && admitted.before.locked_until !== admitted.counted.locked_until) {
      await recordAudit(trx, now, { type: 'user.locked_out', actor: { type: 'system' }, target: { type: 'user', id: userId },
        data: { failed_attempts: admitted.counted.failed_attempts, until: admitted.counted.locked_until } });
    }
  });
}
