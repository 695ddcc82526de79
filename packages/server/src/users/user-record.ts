import { LatchkeyError } from '../errors/latchkey-error.js';
import type { EmailAddressTable, PhoneNumberTable, UserTable } from '../storage/schema.js';

/** A user row with its identifiers: the unit the users domain reads and returns. */
export interface UserRecord {
  user: UserTable;
  emails: EmailAddressTable[];
  phones: PhoneNumberTable[];
}

export type Metadata = Record<string, unknown>;

export const parseMetadata = (text: string): Metadata => JSON.parse(text) as Metadata;

export function primaryEmail(rec: UserRecord): EmailAddressTable | undefined {
  return rec.emails.find((e) => e.id === rec.user.primary_email_address_id);
}

export function primaryPhone(rec: UserRecord): PhoneNumberTable | undefined {
  return rec.phones.find((p) => p.id === rec.user.primary_phone_number_id);
}

/** Whether a ban holds now: one whose `banned_until` has passed does not (users/suspension.ts). */
export const isBanned = (u: Pick<UserTable, 'banned' | 'banned_until'>, now: number): boolean =>
  u.banned === 1 && (u.banned_until === null || u.banned_until > now);

/** How sign-in, token refresh and session creation refuse a suspended user: 403 user_banned with the reason and end. */
export const bannedError = (u: Pick<UserTable, 'ban_reason' | 'banned_until'>) =>
  new LatchkeyError('forbidden', 'user_banned', 'Account suspended',
    u.ban_reason ? `This account is suspended: ${u.ban_reason}` : 'This account is suspended.',
    { reason: u.ban_reason, suspended_until: u.banned_until });

/** How a lock (an operator's, or a lockout with the seconds it has left) refuses: 403 user_locked. */
export const lockedError = (seconds: number | null) =>
  new LatchkeyError('forbidden', 'user_locked', 'Account locked',
    seconds ? `Too many wrong passwords: try again in ${Math.ceil(seconds / 60)} minute(s).` : 'This account is locked.',
    { lockout_expires_in_seconds: seconds });

/** The refusal every way in (sign-in, new session, token) shares for a suspended or locked user, or null. */
export function suspensionRefusal(u: Pick<UserTable, 'banned' | 'ban_reason' | 'banned_until' | 'locked'>, now: number): LatchkeyError | null {
  if (isBanned(u, now)) return bannedError(u);
  if (u.locked) return lockedError(null);
  return null;
}
