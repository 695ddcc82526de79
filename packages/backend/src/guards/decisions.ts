import type { Auth, SignedOutAuth } from '../auth/auth-object.js';
import {
  accountSuspended, authenticationRequired, insufficientPermission, insufficientRole, invalidToken,
  type AccountSuspendedBody, type AuthenticationRequiredBody, type GuardRefusal, type InsufficientPermissionBody,
  type InsufficientRoleBody, type InvalidTokenBody,
} from './bodies.js';

/**
 * Guard decisions over an Auth object, without any web framework: each returns
 * null when the request may go on, or the status and body to answer with.
 * The Express and Hono adapters only translate these into responses, so every
 * framework refuses with the same bytes for the same reason.
 */

export type AuthRefusal = GuardRefusal<AuthenticationRequiredBody | InvalidTokenBody | AccountSuspendedBody>;

/** Signed in, or why not: no token → 401 "Authentication required"; suspended → 403; anything else → 401 invalid. */
export function requireAuth(auth: Auth): AuthRefusal | null {
  return auth.isAuthenticated ? null : signedOutRefusal(auth);
}

/** The answer to a signed-out request, by the reason it is signed out. */
export function signedOutRefusal(auth: SignedOutAuth): AuthRefusal {
  switch (auth.reason) {
    case 'missing':
      return authenticationRequired();
    case 'suspended':
      return accountSuspended(auth.suspension);
    default:
      // 'invalid', 'revoked', 'deleted': to the client these are all a token that no longer works.
      return invalidToken();
  }
}

/** Signed in with one of `roles` (a user holds one role, so a list means "any of"). */
export function requireRole(auth: Auth, roles: string | readonly string[]): AuthRefusal | GuardRefusal<InsufficientRoleBody> | null {
  if (!auth.isAuthenticated) return signedOutRefusal(auth);
  const wanted = typeof roles === 'string' ? [roles] : roles;
  if (auth.role !== null && wanted.includes(auth.role)) return null;
  return insufficientRole(roles, auth.role);
}

/** Signed in with `permission` among the token's permissions claim (the role's permissions, see docs/roles.md). */
export function requirePermission(auth: Auth, permission: string): AuthRefusal | GuardRefusal<InsufficientPermissionBody> | null {
  if (!auth.isAuthenticated) return signedOutRefusal(auth);
  if (auth.permissions.includes(permission)) return null;
  return insufficientPermission(permission, auth.role);
}

/**
 * Checks a route's role requirement when the route is declared (so a typo fails
 * at start, not per request) and returns it as the refusals name it: a string
 * stays a string, a list becomes an array.
 */
export function roleRequirement(roles: string | readonly string[]): string | string[] {
  const list = typeof roles === 'string' ? [roles] : roles;
  if (list.length === 0 || list.some((r) => typeof r !== 'string' || r === '')) {
    throw new TypeError('requireRole needs at least one role name.');
  }
  return typeof roles === 'string' ? roles : [...roles];
}

/** Checks a route's permission requirement when the route is declared. */
export function permissionRequirement(permission: string): string {
  if (typeof permission !== 'string' || permission === '') throw new TypeError('requirePermission needs a permission name.');
  return permission;
}
