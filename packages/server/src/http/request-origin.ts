import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { withOrigin, type RequestOrigin } from '../events/origin.js';

/** The peer address (behind a proxy, that proxy's: trusted forwarding headers come later), or '' without a socket. */
export function clientIp(c: Context): string {
  try {
    return getConnInfo(c).remote.address ?? '';
  } catch {
    // In-process requests (app.fetch in tests) have no socket.
    return '';
  }
}

export function requestOrigin(c: Context): RequestOrigin {
  return { clientIp: clientIp(c), userAgent: c.req.header('user-agent') ?? '' };
}

/** Runs the request with its origin in scope, so the events it records carry it (events/origin.ts). */
export const recordOrigin: MiddlewareHandler = (c, next) => withOrigin(requestOrigin(c), next);
