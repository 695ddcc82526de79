import { ConvexError } from 'convex/values';

/**
 * The errors the guards throw. ConvexError rather than Error because only a
 * ConvexError's `data` reaches the client intact (a plain Error becomes
 * "Server Error" in production), and clients branch on `data.code`.
 * Messages are seed 002's and seed 000's wording.
 */

export type LatchkeyErrorCode = 'UNAUTHENTICATED' | 'USER_NOT_FOUND' | 'FORBIDDEN';

export type UnauthenticatedData = {
  code: 'UNAUTHENTICATED';
  message: 'Not authenticated';
};

export type UserNotFoundData = {
  code: 'USER_NOT_FOUND';
  message: 'User not found';
};

export type ForbiddenData = {
  code: 'FORBIDDEN';
  message: 'Insufficient permissions';
  /** The role, or roles, the function asked for, as passed to requireRole. */
  requiredRole: string | string[];
  /** The caller's role, or null when they have none. */
  userRole: string | null;
};

// Type aliases, not interfaces: ConvexError's data must be a Convex Value, which needs an index signature.
export type LatchkeyErrorData = UnauthenticatedData | UserNotFoundData | ForbiddenData;

export const unauthenticated = () =>
  new ConvexError<UnauthenticatedData>({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });

export const userNotFound = () => new ConvexError<UserNotFoundData>({ code: 'USER_NOT_FOUND', message: 'User not found' });

export const forbidden = (requiredRole: string | string[], userRole: string | null) =>
  new ConvexError<ForbiddenData>({ code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole, userRole });
