import type { Auth } from '@latchkey/backend';

/* Types c.get('auth') / c.var.auth in every Hono handler once this package is imported. */
declare module 'hono' {
  interface ContextVariableMap {
    /** Who is calling, set by latchkeyMiddleware() (or by the first guard on a route without it). */
    auth: Auth;
  }
}

export {};
