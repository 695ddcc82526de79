import type { LookupAddress, LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { hostLookup, type HostLookup } from './host-lookup.js';

/**
 * Where a webhook may be sent. A server that POSTs to URLs an operator (or a
 * leaked secret key) chose can be turned against its own network: the cloud
 * metadata service hands out credentials, and internal services trust their
 * neighbours. So addresses are classed, and only public ones are allowed unless
 * the operator says otherwise. The check runs when an endpoint is saved and
 * again at every connection (webhooks/delivery.ts), so a DNS name that later
 * points inward (DNS rebinding) is still refused.
 */
export interface DestinationPolicy {
  /** Private, link-local and metadata addresses too (LATCHKEY_WEBHOOKS_ALLOW_PRIVATE). */
  allowPrivate: boolean;
  /** Loopback (development instances, where the app runs on the same machine). */
  allowLoopback: boolean;
}

export type AddressClass = 'public' | 'loopback' | 'private' | 'link-local' | 'metadata' | 'reserved';

function blockList(entries: [string, number, 'ipv4' | 'ipv6'][]): BlockList {
  const list = new BlockList();
  for (const [net, prefix, type] of entries) list.addSubnet(net, prefix, type);
  return list;
}

// Cloud metadata services: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS IPv6, Alibaba, Azure's wire server.
const METADATA = new Set(['169.254.169.254', 'fd00:ec2::254', '100.100.100.200', '168.63.129.16']);
const LOOPBACK = blockList([['127.0.0.0', 8, 'ipv4'], ['::1', 128, 'ipv6']]);
const LINK_LOCAL = blockList([['169.254.0.0', 16, 'ipv4'], ['fe80::', 10, 'ipv6']]);
const PRIVATE = blockList([
  ['10.0.0.0', 8, 'ipv4'], ['172.16.0.0', 12, 'ipv4'], ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['fc00::', 7, 'ipv6'], // unique local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated, still routed by some networks)
]);
const RESERVED = blockList([
  ['0.0.0.0', 8, 'ipv4'], ['192.0.0.0', 24, 'ipv4'], ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'], ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'], ['ff00::', 8, 'ipv6'], ['2001:db8::', 32, 'ipv6'],
  ['64:ff9b:1::', 48, 'ipv6'], // local-use NAT64: may reach anything behind the translator
]);

/** The eight 16-bit groups of an IPv6 address (which may end in a dotted IPv4). */
function groups(v6: string): number[] {
  let text = v6.toLowerCase();
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const [h, t] = [parse(head), parse(tail)];
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

/**
 * IPv6 forms that carry an IPv4 address are classed as that address:
 * IPv4-mapped `::ffff:a.b.c.d` (in either spelling: `new URL` writes `::ffff:a00:1`),
 * IPv4-translated `::ffff:0:a.b.c.d`, IPv4-compatible `::a.b.c.d`, and NAT64 `64:ff9b::a.b.c.d`.
 */
function unmapped(address: string): string {
  if (isIP(address) !== 6) return address;
  const g = groups(address);
  const zeros = (n: number) => g.slice(0, n).every((x) => x === 0);
  const carries = (zeros(5) && (g[5] === 0xffff || (g[5] === 0 && (g[6] !== 0 || g[7]! > 1))))
    || (zeros(4) && g[4] === 0xffff && g[5] === 0)
    || (g[0] === 0x64 && g[1] === 0xff9b && g.slice(2, 6).every((x) => x === 0));
  if (!carries) return address.toLowerCase();
  return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
}

export function classifyAddress(raw: string): AddressClass {
  const address = unmapped(raw.replace(/^\[|\]$/g, ''));
  const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  if (METADATA.has(address)) return 'metadata';
  if (LOOPBACK.check(address, family)) return 'loopback';
  if (LINK_LOCAL.check(address, family)) return 'link-local';
  if (PRIVATE.check(address, family)) return 'private';
  if (RESERVED.check(address, family)) return 'reserved';
  return 'public';
}

/** Why `address` may not be used, or undefined when it may. */
export function refusal(address: string, policy: DestinationPolicy): string | undefined {
  const cls = classifyAddress(address);
  if (cls === 'public' || policy.allowPrivate) return undefined;
  if (cls === 'loopback' && policy.allowLoopback) return undefined;
  const hint = cls === 'loopback'
    ? 'loopback addresses are allowed on development instances only; set LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true to allow them'
    : 'set LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true to allow private addresses';
  return `resolves to a ${cls} address (${address}); ${hint}`;
}

/** The problem with a webhook URL's form, or undefined when it is acceptable. */
export function urlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be an absolute http:// or https:// URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must use http:// or https://';
  if (url.username || url.password) return 'must not carry credentials (user:password@); the signature authenticates each delivery';
  if (url.hash) return 'must not carry a #fragment';
  if (!url.hostname) return 'must name a host';
  return undefined;
}

// One resolver for the process, made on first use (it reads /etc/resolv.conf).
let shared: HostLookup | undefined;
const defaultLookup: HostLookup = (host) => (shared ??= hostLookup())(host);

/**
 * Checks where a URL's host points. Every address must be allowed: a name with
 * one public and one private address could otherwise be steered inward. A host
 * that does not resolve (yet) passes; delivery checks again when it connects.
 */
export async function destinationProblem(value: string, policy: DestinationPolicy, lookup: HostLookup = defaultLookup):
  Promise<string | undefined> {
  const host = new URL(value).hostname.replace(/^\[|\]$/g, '');
  let addresses: string[];
  if (isIP(host)) addresses = [host];
  else {
    try {
      addresses = (await lookup(host)).map((a) => a.address);
    } catch {
      return undefined;
    }
  }
  for (const address of addresses) {
    const why = refusal(address, policy);
    if (why) return why;
  }
  return undefined;
}

/**
 * A `lookup` for http.request that refuses forbidden addresses at connect time
 * (after DNS has answered), so what was checked is what is connected to.
 * Names are resolved off libuv's pool (host-lookup.ts).
 */
export function guardedLookup(policy: DestinationPolicy, lookup: HostLookup = defaultLookup) {
  return (hostname: string, options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    const answer = (addrs: LookupAddress[]) => {
      for (const a of addrs) {
        const why = refusal(a.address, policy);
        if (why) {
          return callback(Object.assign(new Error(`refused: ${hostname} ${why}`), { code: 'EDESTINATION' }), '', 0);
        }
      }
      const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
      const usable = family === 4 || family === 6 ? addrs.filter((a) => a.family === family) : addrs;
      if (usable.length === 0) {
        const what = family === 4 || family === 6 ? `IPv${family} address` : 'address';
        return callback(Object.assign(new Error(`${hostname} has no ${what}`), { code: 'ENOTFOUND' }), '', 0);
      }
      if (options.all) return callback(null, usable);
      callback(null, usable[0]!.address, usable[0]!.family);
    };
    lookup(hostname).then(answer, (err: NodeJS.ErrnoException) => callback(err, '', 0));
  };
}
