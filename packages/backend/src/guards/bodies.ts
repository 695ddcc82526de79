/**
 * The answers app-side guards give, exactly as the seed apps (and PRODUCT.md
 * "Errors") spell them: apps and their clients match on these strings, so they
 * live in one place and every adapter (Express, Hono) sends the same bytes.
 * Each call builds a fresh object, so a caller that decorates one answer
 * cannot change the next.
 */

export interface AuthenticationRequiredBody {
  error: 'Authentication required';
  message: 'Please sign in to access this resource';
}
export interface InvalidTokenBody {
  error: 'Invalid authentication token';
  message: 'Token has expired or is malformed';
}
export interface AccountSuspendedBody {
  error: 'Account suspended';
  reason: string | null;
  /** When the suspension lifts itself (ms since the epoch), or null for an indefinite one. */
  suspendedUntil: number | null;
}
export interface InsufficientRoleBody {
  error: 'Insufficient permissions';
  /** The role, or roles, the route asked for, as the route gave them. */
  requiredRole: string | string[];
  userRole: string | null;
}
export interface InsufficientPermissionBody {
  error: 'Insufficient permissions';
  requiredPermission: string;
  userRole: string | null;
}
export interface UserNotFoundBody {
  message: 'User not found';
}

export type GuardBody =
  | AuthenticationRequiredBody
  | InvalidTokenBody
  | AccountSuspendedBody
  | InsufficientRoleBody
  | InsufficientPermissionBody
  | UserNotFoundBody;

/** A guard's refusal: the HTTP status and the JSON body to send. A passing guard returns null instead. */
export interface GuardRefusal<B extends GuardBody = GuardBody> {
  status: 401 | 403 | 404;
  body: B;
}

/** No token at all: 401. */
export function authenticationRequired(): GuardRefusal<AuthenticationRequiredBody> {
  return { status: 401, body: { error: 'Authentication required', message: 'Please sign in to access this resource' } };
}

/** A token that failed verification, or whose session was revoked or whose user was deleted: 401. */
export function invalidToken(): GuardRefusal<InvalidTokenBody> {
  return { status: 401, body: { error: 'Invalid authentication token', message: 'Token has expired or is malformed' } };
}

/** A suspended (banned) user's still-valid token, known through the revocation check: 403. */
export function accountSuspended(suspension?: { reason: string | null; suspendedUntil: number | null }): GuardRefusal<AccountSuspendedBody> {
  return {
    status: 403,
    body: { error: 'Account suspended', reason: suspension?.reason ?? null, suspendedUntil: suspension?.suspendedUntil ?? null },
  };
}

export function insufficientRole(requiredRole: string | readonly string[], userRole: string | null): GuardRefusal<InsufficientRoleBody> {
  return {
    status: 403,
    body: { error: 'Insufficient permissions', requiredRole: typeof requiredRole === 'string' ? requiredRole : [...requiredRole], userRole },
  };
}

export function insufficientPermission(requiredPermission: string, userRole: string | null): GuardRefusal<InsufficientPermissionBody> {
  return { status: 403, body: { error: 'Insufficient permissions', requiredPermission, userRole } };
}

/** protectRoute: signed in, but the app has no row for the user even after asking Latchkey (seed 004's shape): 404. */
export function userNotFound(): GuardRefusal<UserNotFoundBody> {
  return { status: 404, body: { message: 'User not found' } };
}
