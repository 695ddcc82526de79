import { z } from 'zod';
import { checkPasswordStrength } from '../passwords/strength.js';
import type { Services } from '../services.js';
import type { ClientRef } from './clients.js';
import { findLiveUser } from '../users/store.js';
import { updateUser } from '../users/users.js';
import { primaryEmail } from '../users/user-record.js';
import { CODE_MAX_ATTEMPTS, checkCode, issueCode, wrongCode } from './email-codes.js';
import { isLocked, lockoutExpiresInSeconds } from '../abuse/lockout.js';
import { lockedError, suspensionRefusal } from '../users/user-record.js';
import { auditSignInFailure, findByIdentifier, identifierDigest, requireFactor, signedIn, type SignedIn } from './sign-ins.js';

/**
 * Passwordless sign-in and password reset by email code, built so that an
 * unknown identifier cannot be told from a known one: both get a stored code
 * (the unknown one's is never sent, under an opaque subject), so answers,
 * cool-downs and attempt limits are the same; the email is sent without making
 * the request wait on SMTP, so timing does not tell either.
 */
type Purpose = 'sign_in' | 'reset_password';

export const requestCodeSchema = z.strictObject({ identifier: z.string().min(1).max(320) });
export const codeSignInSchema = z.strictObject({ identifier: z.string().min(1).max(320), code: z.string().max(16) });
export const resetSchema = z.strictObject({
  identifier: z.string().min(1).max(320),
  code: z.string().max(16),
  password: z.string(),
});

/**
 * Whom a code is stored under: the user, or for an unknown identifier an opaque
 * subject; and the identifier it was asked with (`requestedAs`). A code proves
 * only that spelling: tried under the account's other identifier (its username
 * after its email), it answers `verification_expired` as an unknown identifier
 * does, rather than telling that both name one account.
 */
const codeSubject = (found: { id: string } | undefined, identifier: string) => {
  const requestedAs = identifierDigest(identifier);
  return { subjectId: found?.id ?? `unknown:${requestedAs}`, requestedAs };
};

const SUBJECT_LINES: Record<Purpose, string> = {
  sign_in: 'is your sign-in code',
  reset_password: 'is your password reset code',
};

/**
 * Stores a code for the identifier and emails it if there is such a user. The
 * resend cool-down is keyed on the identifier as typed, not on the user: keyed
 * on the user, a known account's second spelling (its username after its email)
 * would wait where an unknown identifier does not.
 */
export async function requestCode(s: Services, purpose: Purpose, identifier: string): Promise<void> {
  if (purpose === 'sign_in') requireFactor(s, 'email_code');
  // Keyed as the lookup reads it, so " jane@example.com" is not a fresh cool-down for jane@example.com.
  const key = identifier.trim().toLowerCase();
  await s.limits.consume('codeCooldownPerIdentifier', `${purpose}:${key}`);
  await s.limits.consume('codesSentPerIdentifier', key);
  const found = await findByIdentifier(s, identifier);
  const { subjectId, requestedAs } = codeSubject(found, identifier);
  const code = await issueCode(s.db, s.clock, purpose, subjectId, { cooldown: false, requestedAs });
  if (!found) return;
  const rec = await findLiveUser(s.db, found.id);
  const to = rec && primaryEmail(rec)?.email_address;
  if (!to) return;
  s.mailer
    .send({ to, subject: `${code} ${SUBJECT_LINES[purpose]}`, text: `Your code is ${code}. It expires in 10 minutes.\n\nIf you did not ask for it, ignore this email.`, kind: purpose }, s.db)
    .catch((err: unknown) => s.logger.error({ err, kind: purpose }, 'sending an email code failed'));
}

/** Checks the code for the identifier; the user it proves, or the same errors for everyone (audited either way). */
async function proveCode(s: Services, purpose: Purpose, identifier: string, code: string) {
  await s.limits.consume('codeAttemptsPerIdentifier', identifier);
  const found = await findByIdentifier(s, identifier);
  const strategy = purpose === 'sign_in' ? 'email_code' : 'reset_password_email_code';
  const fail = (reason: string, db = s.db) => auditSignInFailure(db, s.clock.now(), { userId: found?.id, identifier, strategy, reason });
  // The attempt counted and its audit entry commit together (and stay, though the request fails).
  const wrong = await s.db.transaction().execute(async (trx) => {
    const { subjectId, requestedAs } = codeSubject(found, identifier);
    const err = await checkCode(trx, s.clock, purpose, subjectId, code, requestedAs);
    if (err) await fail(found ? err.code : 'unknown_identifier', trx);
    return err;
  });
  if (wrong) throw wrong;
  // An unknown identifier's code is never sent: matching it is a lucky guess, answered as a wrong one.
  if (!found) {
    await fail('unknown_identifier');
    throw wrongCode(CODE_MAX_ATTEMPTS - 1);
  }
  const now = s.clock.now();
  // A lockout from wrong passwords holds for every way in but a reset (which lifts it); a suspension and a lock hold for all.
  const lockedOut = purpose === 'sign_in' && isLocked(found, now);
  const refused = lockedOut ? lockedError(lockoutExpiresInSeconds(found, now)) : suspensionRefusal(found, now);
  if (refused) {
    await fail(lockedOut ? 'locked_out' : refused.code);
    throw refused;
  }
  return found;
}

export async function signInWithCode(s: Services, client: ClientRef, identifier: string, code: string): Promise<SignedIn> {
  requireFactor(s, 'email_code');
  const user = await proveCode(s, 'sign_in', identifier, code);
  return s.db.transaction().execute((trx) => signedIn(trx, s, user.id, client, 'email_code'));
}

/**
 * Sets a new password after proving the code; every existing session of the
 * user is revoked (whoever knew the old password is out), the lockout is lifted,
 * and this client is signed in. The password is checked before the code is spent.
 */
export async function resetPassword(s: Services, client: ClientRef, input: z.infer<typeof resetSchema>): Promise<SignedIn> {
  // Judged against the identifier only, the same for known and unknown ones.
  checkPasswordStrength(input.password, [input.identifier], s.settings.get().password_min_strength);
  // Refuses a suspended or locked user before anything changes: a reset must not half-happen.
  const user = await proveCode(s, 'reset_password', input.identifier, input.code);
  const self = { type: 'user' as const, id: user.id };
  // One transaction: the new password, every existing session revoked (user.updated, session.revoked),
  // the lockout lifted, and this client's new session.
  let done: SignedIn | undefined;
  await updateUser(s.db, s.clock, user.id, { password: input.password, skip_password_checks: true, sign_out_of_other_sessions: true }, {
    audit: 'user.password_reset', actor: self,
    alsoInTransaction: async (trx) => {
      await trx.updateTable('users').set({ failed_attempts: 0, locked_until: null }).where('id', '=', user.id).execute();
      done = await signedIn(trx, s, user.id, client, 'reset_password_email_code');
    },
  });
  return done!;
}
