import { AsyncLocalStorage } from 'node:async_hooks';
import type { ActorRef } from '../audit/audit-log.js';

/**
 * Where a change came from, when it came over HTTP (Clerk's
 * `event_attributes.http_request`), and who made it (the audit log's actor).
 */
export interface RequestOrigin {
  clientIp: string;
  userAgent: string;
  /** Who is acting: the secret key on the Backend API, the end user on the Frontend API, the operator in the CLI. */
  actor?: ActorRef;
}

/**
 * The HTTP layer runs each API request inside `withOrigin` (and the CLI each
 * command), and the events and audit entries recorded during it carry that
 * origin; the domain never sees a request. Changes the server makes by itself
 * (an expired ban lifting, a failing endpoint disabled) run outside any.
 */
const storage = new AsyncLocalStorage<RequestOrigin>();

export const withOrigin = <T>(origin: RequestOrigin, fn: () => T): T => storage.run(origin, fn);

export const currentOrigin = (): RequestOrigin | undefined => storage.getStore();

/** Runs `fn` with the same origin but another actor (once a request's caller is known). */
export const withActor = <T>(actor: ActorRef, fn: () => T): T =>
  storage.run({ ...(storage.getStore() ?? { clientIp: '', userAgent: '' }), actor }, fn);
