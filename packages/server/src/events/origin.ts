import { AsyncLocalStorage } from 'node:async_hooks';

/** Where a change came from, when it came over HTTP: Clerk's `event_attributes.http_request`. */
export interface RequestOrigin {
  clientIp: string;
  userAgent: string;
}

/**
 * The HTTP layer runs each API request inside `withOrigin`, and events recorded
 * during it carry that origin; the domain never sees a request. Changes from
 * the CLI or the server itself have none.
 */
const storage = new AsyncLocalStorage<RequestOrigin>();

export const withOrigin = <T>(origin: RequestOrigin, fn: () => T): T => storage.run(origin, fn);

export const currentOrigin = (): RequestOrigin | undefined => storage.getStore();
