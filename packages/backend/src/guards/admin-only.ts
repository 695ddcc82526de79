import type { Auth } from '../auth/auth-object.js';
import { insufficientRole, type GuardRefusal, type InsufficientRoleBody } from './bodies.js';
import { signedOutRefusal, type AuthRefusal } from './decisions.js';

export interface AdminOnlyOptions {
  /**
   * Emails treated as admins in development only: a list, or seed 004's
   * ADMIN_EMAIL comma list as one string. Ignored in every other environment.
   */
  adminEmails?: string | readonly string[] | undefined;
  /** The app's environment (NODE_ENV); the email list counts only when it is exactly "development". */
  environment?: string | undefined;
  /** The signed-in user's email: the app's row (req.user.email) or the token's email claim. */
  email?: string | null | undefined;
}

/** Splits ADMIN_EMAIL ("a@x.com, b@x.com") into lower-cased addresses; blanks are dropped. */
export function parseAdminEmails(list: string | readonly string[] | undefined): string[] {
  if (list === undefined) return [];
  const items = typeof list === 'string' ? list.split(',') : list;
  return items.map((e) => e.trim().toLowerCase()).filter((e) => e !== '');
}

/**
 * Seed 004's adminOnly: the role claim "admin" anywhere; in development, also
 * an email on the ADMIN_EMAIL list, so an app can be tried before roles are set
 * up. Never the list in production: an env var left over from development must
 * not make anyone an admin. A refusal names the role it wanted, like requireRole.
 */
export function adminOnly(auth: Auth, opts: AdminOnlyOptions = {}): AuthRefusal | GuardRefusal<InsufficientRoleBody> | null {
  if (!auth.isAuthenticated) return signedOutRefusal(auth);
  if (auth.role === 'admin') return null;
  if (opts.environment === 'development' && typeof opts.email === 'string' &&
    parseAdminEmails(opts.adminEmails).includes(opts.email.trim().toLowerCase())) {
    return null;
  }
  return insufficientRole('admin', auth.role);
}
