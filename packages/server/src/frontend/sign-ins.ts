import { z } from 'zod';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { hashPassword, verifyPassword } from '../passwords/passwords.js';
import type { Services } from '../services.js';
import { openSession } from '../sessions/sessions.js';
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

async function findByIdentifier(s: Services, identifier: string) {
  const id = identifier.trim().toLowerCase();
  const viaEmail = s.db.selectFrom('email_addresses').select('user_id').where('email_lower', '=', id);
  return s.db.selectFrom('users').select(['id', 'password_digest', 'banned', 'locked'])
    .where('deleted_at', 'is', null)
    .where((eb) => eb.or([eb('id', 'in', viaEmail), eb('username', '=', id)]))
    .executeTakeFirst();
}

export async function signInWithPassword(s: Services, clientId: string, identifier: string, password: string): Promise<SessionTable> {
  const user = await findByIdentifier(s, identifier);
  standIn ??= hashPassword('latchkey stand-in password, never matches');
  const digest = user?.password_digest ?? (await standIn);
  const ok = await verifyPassword(digest, password);
  if (!user || !user.password_digest || !ok) throw badCredentials();
  if (user.banned) throw new LatchkeyError('forbidden', 'user_banned', 'user is banned', 'This account is suspended.');
  if (user.locked) throw new LatchkeyError('forbidden', 'user_locked', 'user is locked', 'This account is locked.');
  return s.db.transaction().execute((trx) => openSession(trx, s.clock, s.settings.get(), user.id, clientId));
}
