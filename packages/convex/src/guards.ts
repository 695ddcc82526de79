import type { Auth } from 'convex/server';
import { forbidden, unauthenticated, userNotFound } from './errors.js';
import { PROVISIONAL_VERSION, type LatchkeyUserDoc } from './schema.js';
import { findUserRow, type AnyDbReader } from './user-rows.js';

/** What the guards need of a query or mutation ctx (actions have no db: call a query from them). */
export interface GuardCtx {
  auth: Auth;
  db: AnyDbReader;
}

/**
 * The caller's users row. Throws ConvexError
 * {code:'UNAUTHENTICATED', message:'Not authenticated'} without a valid token, and
 * {code:'USER_NOT_FOUND', message:'User not found'} when the token is valid but
 * no live row exists (the webhook has not arrived and ensureUser was not called,
 * or the user was deleted).
 */
export async function requireUser(ctx: GuardCtx): Promise<LatchkeyUserDoc> {
  const identity = await ctx.auth.getUserIdentity();
  if (!identity) throw unauthenticated();
  const row = await findUserRow(ctx.db, identity.subject);
  if (!row || row.deletedAt !== undefined) throw userNotFound();
  return row;
}

/**
 * The caller's role. A synced row's role (public_metadata.role, kept current by
 * the webhook) is the answer, even when it has none: a token minted before a
 * demotion may still claim the old role for up to its lifetime. Only a
 * provisional row, made by ensureUser from a token without a role, defers to
 * the token's `role` claim.
 */
async function roleOf(ctx: GuardCtx, user: LatchkeyUserDoc): Promise<string | null> {
  if (user.role || user.updatedAt !== PROVISIONAL_VERSION) return user.role ?? null;
  const claim = ((await ctx.auth.getUserIdentity()) as Record<string, unknown> | null)?.role;
  return typeof claim === 'string' && claim !== '' ? claim : null;
}

/**
 * requireUser, then the caller's role (see roleOf) must be `roles` (or one of them).
 * Throws ConvexError {code:'FORBIDDEN', message:'Insufficient permissions',
 * requiredRole, userRole} otherwise: seed 000's 403 body, with requiredRole
 * exactly as passed here and userRole null when the caller has none.
 */
export async function requireRole(ctx: GuardCtx, roles: string | readonly string[]): Promise<LatchkeyUserDoc> {
  const user = await requireUser(ctx);
  const allowed: readonly string[] = typeof roles === 'string' ? [roles] : roles;
  const role = await roleOf(ctx, user);
  if (role === null || !allowed.includes(role)) throw forbidden(typeof roles === 'string' ? roles : [...roles], role);
  return user;
}
