import { BlockList, isIP } from 'node:net';
import { getConnInfo } from '@hono/node-server/conninfo';
import type { Context, MiddlewareHandler } from 'hono';
import { originOf, withOrigin, type RequestOrigin } from '../events/origin.js';
import type { Db } from '../storage/database.js';

declare module 'hono' {
  interface ContextVariableMap {
    /** The database handle of this request: it carries the request's origin (events/origin.ts). */
    db: Db;
  }
}

/**
 * The proxies whose X-Forwarded-For is believed (LATCHKEY_TRUSTED_PROXIES):
 * addresses and CIDR ranges, IPv4 or IPv6. Anyone can send the header; only a
 * proxy we run may tell us who its client was.
 */
export function trustedProxies(entries: string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const [address, bits] = entry.split('/') as [string, string | undefined];
    const type = isIP(address) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(bits), type);
  }
  return list;
}

/** The socket's peer, or '' without one (in-process requests: app.fetch in tests). */
function peerAddress(c: Context): string {
  if (!(c.env as { incoming?: unknown } | undefined)?.incoming) return '';
  try {
    return getConnInfo(c).remote.address ?? '';
  } catch {
    return ''; // a socket already gone
  }
}

const isTrusted = (list: BlockList, ip: string) => {
  const bare = ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
  const v = isIP(bare);
  return v !== 0 && list.check(bare, v === 6 ? 'ipv6' : 'ipv4');
};

/**
 * The client's address: the peer, or, when the peer is a trusted proxy, the
 * nearest address in X-Forwarded-For that is not one (read from the right: each
 * proxy appends the address it saw, and only those we trust are believed).
 */
export function clientIp(c: Context, trusted?: BlockList): string {
  const peer = peerAddress(c);
  if (!trusted || !isTrusted(trusted, peer)) return peer;
  const hops = (c.req.header('x-forwarded-for') ?? '').split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    if (isIP(hops[i]!) === 0) return peer; // a malformed list proves nothing
    if (!isTrusted(trusted, hops[i]!)) return hops[i]!;
  }
  return hops[0] ?? peer;
}

/** The request's origin as recorded by recordOrigin (the client's address and user agent). */
export function requestOrigin(c: Context): RequestOrigin {
  const db = c.get('db') as Db | undefined;
  return (db && originOf(db)) ?? { clientIp: clientIp(c), userAgent: c.req.header('user-agent') ?? '' };
}

/**
 * Gives the request its database handle (`c.var.db`), carrying the request's
 * origin, so the events and audit entries it records carry it (events/origin.ts).
 */
export const recordOrigin = (db: Db, trusted?: BlockList): MiddlewareHandler => (c, next) => {
  c.set('db', withOrigin(db, { clientIp: clientIp(c, trusted), userAgent: c.req.header('user-agent') ?? '' }));
  return next();
};
