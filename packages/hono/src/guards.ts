import {
  adminOnly as decideAdmin, parseAdminEmails, requireAuth as decideAuth, requirePermission as decidePermission,
  requireRole as decideRole, roleRequirement, permissionRequirement, type Auth, type GuardRefusal,
} from '@latchkey/backend';
import type { Context, MiddlewareHandler } from 'hono';
import './augment.js';
import { authResolver } from './authenticate.js';

/** The refusal as JSON with its status. Never a redirect: an API client must see the status, not a sign-in page. */
export function refuse(c: Context, refusal: GuardRefusal): Response {
  return c.json(refusal.body, refusal.status);
}

/** Wraps a decision into middleware: the request goes on when it passes, else the exact refusal is sent. */
function guard(decide: (auth: Auth, c: Context) => GuardRefusal | null): MiddlewareHandler {
  const authOf = authResolver();
  return async (c, next) => {
    const refusal = decide(await authOf(c), c);
    if (refusal) return refuse(c, refusal);
    await next();
  };
}

/** 401 "Authentication required" without a token, 401 "Invalid authentication token" for a bad one, 403 for a suspended user. */
export function requireAuth(): MiddlewareHandler {
  return guard((auth) => decideAuth(auth));
}

/** Signed in with one of the roles (the role claim); else 403 naming `requiredRole` as given and `userRole`. */
export function requireRole(roles: string | readonly string[]): MiddlewareHandler {
  const required = roleRequirement(roles);
  return guard((auth) => decideRole(auth, required));
}

/** Signed in with the permission among the token's permissions; else 403 naming `requiredPermission` and `userRole`. */
export function requirePermission(permission: string): MiddlewareHandler {
  const required = permissionRequirement(permission);
  return guard((auth) => decidePermission(auth, required));
}

export interface AdminOnlyMiddlewareOptions {
  /** Development-only admin emails; ADMIN_EMAIL (comma list) by default. */
  adminEmails?: string | readonly string[];
  /** The environment; NODE_ENV by default. The email list counts only in "development". */
  environment?: string;
  /** Where ADMIN_EMAIL and NODE_ENV are read, on each request; process.env by default. */
  env?: NodeJS.ProcessEnv;
  /** The caller's email; by default the loaded row's (c.get('user').email, see protectRoute), else the token's email claim. */
  email?: (c: Context) => string | null | undefined;
}

function defaultEmail(c: Context): string | undefined {
  const row = (c.var as { user?: { email?: unknown } }).user;
  if (typeof row?.email === 'string') return row.email;
  const claim = c.get('auth').claims?.email;
  return typeof claim === 'string' ? claim : undefined;
}

/**
 * Seed 004's adminOnly: the "admin" role claim; in development only, also an
 * email from ADMIN_EMAIL. Refuses with 403 requiredRole "admin" and the userRole.
 */
export function adminOnly(opts: AdminOnlyMiddlewareOptions = {}): MiddlewareHandler {
  const fixedEmails = opts.adminEmails === undefined ? undefined : parseAdminEmails(opts.adminEmails);
  return guard((auth, c) => {
    const env = opts.env ?? process.env;
    return decideAdmin(auth, {
      adminEmails: fixedEmails ?? env.ADMIN_EMAIL,
      environment: opts.environment ?? env.NODE_ENV,
      email: auth.isAuthenticated ? (opts.email ?? defaultEmail)(c) : undefined,
    });
  });
}
