import type { JwtPayload } from '../tokens/jwt.js';
import type { Suspension } from '../revocations/revocation-list.js';

/** A request whose token verified (and, with the revocation check on, was not revoked). */
export interface SignedInAuth {
  isAuthenticated: true;
  userId: string;
  /** The session (`sid`); null for JWT-template tokens, which carry none. */
  sessionId: string | null;
  claims: JwtPayload;
  /** The same claims under @clerk/backend's name, so code written against Clerk's auth object reads them unchanged. */
  sessionClaims: JwtPayload;
  token: string;
  /** `role` from the session claims ({{user.public_metadata.role}}), or `metadata.role`, or null. */
  role: string | null;
  /** `permissions` from the session claims ({{user.permissions}}), or none. */
  permissions: string[];
  /** True when the user has one of the roles given and every permission given. */
  has(check: { role?: string | string[]; permission?: string | string[] }): boolean;
}

export type SignedOutReason = 'missing' | 'invalid' | 'revoked' | 'suspended' | 'deleted';

/** A request without a usable token, and why. */
export interface SignedOutAuth {
  isAuthenticated: false;
  userId: null;
  sessionId: null;
  claims: null;
  sessionClaims: null;
  token: null;
  role: null;
  permissions: [];
  has(check: unknown): false;
  /** No token; a token that failed verification; a session revoked or a user suspended or deleted (revocation check). */
  reason: SignedOutReason;
  suspension?: Suspension;
  /** Why verification failed (reason 'invalid'). */
  error?: Error;
}

export type Auth = SignedInAuth | SignedOutAuth;

const asList = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

function roleOf(claims: JwtPayload): string | null {
  if (typeof claims.role === 'string') return claims.role;
  const metadata = claims.metadata as { role?: unknown } | undefined;
  return typeof metadata?.role === 'string' ? metadata.role : null;
}

export function signedIn(claims: JwtPayload, token: string): SignedInAuth {
  const role = roleOf(claims);
  const permissions = Array.isArray(claims.permissions) ? claims.permissions.filter((p): p is string => typeof p === 'string') : [];
  return {
    isAuthenticated: true,
    userId: claims.sub,
    sessionId: typeof claims.sid === 'string' ? claims.sid : null,
    claims,
    sessionClaims: claims,
    token,
    role,
    permissions,
    has(check) {
      const roles = asList(check.role);
      if (roles.length && (role === null || !roles.includes(role))) return false;
      return asList(check.permission).every((p) => permissions.includes(p));
    },
  };
}

export function signedOut(reason: SignedOutReason, extra: { suspension?: Suspension; error?: Error } = {}): SignedOutAuth {
  return {
    isAuthenticated: false, userId: null, sessionId: null, claims: null, sessionClaims: null, token: null, role: null, permissions: [],
    has: () => false, reason, ...extra,
  };
}
