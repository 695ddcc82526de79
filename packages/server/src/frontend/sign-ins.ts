import { z } from 'zod';
import { isLocked, lockoutExpiresInSeconds, registerFailure } from '../abuse/lockout.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { hashPassword, verifyPassword } from '../passwords/passwords.js';
import type { Services } from '../services.js';
import { openSession } from '../sessions/sessions.js';
import { lockLiveUser } from '../users/store.js';
import type { SessionTable } from '../storage/schema.js';

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
  const id = identifier.trim().toLowerCase();
  const kinds = s.settings.get().sign_in_identifiers;
  const viaEmail = s.db.selectFrom('email_addresses').select('user_id').where('email_lower', '=', id);
  return s.db.selectFrom('users').select(['id', 'password_digest', 'banned', 'locked', 'failed_attempts', 'locked_until'])
    .where('deleted_at', 'is', null)
    .where((eb) => eb.or([
      ...(kinds.includes('email_address') ? [eb('id', 'in', viaEmail)] : []),
      ...(kinds.includes('username') ? [eb('username', '=', id)] : []),
    ]))
    .executeTakeFirst();
}

/** Refuses a first factor the instance has turned off. */
export function requireFactor(s: Services, factor: 'password' | 'email_code'): void {
  if (!s.settings.get().first_factors.includes(factor)) {
    throw new LatchkeyError('unprocessable', 'strategy_for_user_invalid', 'Sign-in method not allowed',
      `This instance does not allow sign-in with ${factor === 'password' ? 'a password' : 'an email code'}.`, { param_name: 'strategy' });
  }
}

export const lockedError = (seconds: number | null) =>
  new LatchkeyError('forbidden', 'user_locked', 'Account locked',
    seconds ? `Too many wrong passwords: try again in ${Math.ceil(seconds / 60)} minute(s).` : 'This account is locked.',
    { lockout_expires_in_seconds: seconds });

/**
 * Password sign-in. Wrong passwords count towards a lockout (instance settings
 * lockout_max_attempts / lockout_minutes); while locked, even the right password
 * is refused. Success resets the count.
 */
export async function signInWithPassword(s: Services, clientId: string, identifier: string, password: string): Promise<SessionTable> {
  requireFactor(s, 'password');
  const user = await findByIdentifier(s, identifier);
  const now = s.clock.now();
  if (user && isLocked(user, now)) throw lockedError(lockoutExpiresInSeconds(user, now));
  standIn ??= hashPassword('latchkey stand-in password, never matches');
  const digest = user?.password_digest ?? (await standIn);
  const ok = await verifyPassword(digest, password);
  if (!user || !user.password_digest) throw badCredentials();
  if (!ok) {
    const settings = s.settings.get();
    const policy = { maxAttempts: settings.lockout_max_attempts, lockoutMinutes: settings.lockout_minutes };
    // Counted under the row lock: concurrent wrong guesses each count.
    await s.db.transaction().execute(async (trx) => {
      await lockLiveUser(trx, user.id);
      const current = await trx.selectFrom('users').select(['failed_attempts', 'locked_until']).where('id', '=', user.id).executeTakeFirstOrThrow();
      await trx.updateTable('users').set(registerFailure(current, now, policy)).where('id', '=', user.id).execute();
    });
    throw badCredentials();
  }
  if (user.banned) throw new LatchkeyError('forbidden', 'user_banned', 'user is banned', 'This account is suspended.');
  if (user.locked) throw lockedError(null);
  return s.db.transaction().execute(async (trx) => {
    if (user.failed_attempts > 0 || user.locked_until !== null) {
      await trx.updateTable('users').set({ failed_attempts: 0, locked_until: null }).where('id', '=', user.id).execute();
    }
    return openSession(trx, s.clock, s.settings.get(), user.id, clientId);
  });
}
