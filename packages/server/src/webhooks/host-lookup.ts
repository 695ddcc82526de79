import { lookup as getaddrinfo, Resolver, type LookupAddress } from 'node:dns';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * Finds a webhook endpoint's addresses without libuv's thread pool.
 *
 * `dns.lookup` (getaddrinfo) blocks one pool thread for as long as the DNS
 * server takes. The pool is also where token signatures run, and it has only
 * one thread per core (bin/latchkey.cjs). With a slow or unreachable DNS server,
 * up to LATCHKEY_WEBHOOK_CONCURRENCY lookups would fill it, and every token
 * request would wait behind them. So names are resolved here instead:
 *
 * 1. /etc/hosts first, as getaddrinfo does (re-read when it changes);
 * 2. then DNS through c-ares (`dns.Resolver`), which waits on sockets, not threads;
 * 3. then getaddrinfo, but only when DNS has definitely answered "no such name"
 *    (or no DNS server listens at all). This keeps mDNS and NSS-only names
 *    working, and such a lookup fails or succeeds fast. A DNS timeout never
 *    falls back: that is exactly the lookup that would hold a thread.
 */
export type HostLookup = (host: string) => Promise<LookupAddress[]>;

export interface HostLookupOptions {
  hostsFile?: string;
  /** DNS servers (`ip` or `ip:port`); the system's (/etc/resolv.conf) when absent. */
  servers?: string[];
  /** c-ares' first timeout and attempts per server; its defaults when absent. */
  timeoutMs?: number;
  tries?: number;
}

// DNS answered, and there is no such name (or record), or nobody answers on the port at all.
const DEFINITE_NO = new Set(['ENOTFOUND', 'ENODATA', 'ECONNREFUSED', 'ENONAME']);

export function hostLookup({ hostsFile = '/etc/hosts', servers, timeoutMs, tries }: HostLookupOptions = {}): HostLookup {
  const hosts = hostsTable(hostsFile);
  const resolver = new Resolver({ ...(timeoutMs !== undefined && { timeout: timeoutMs }), ...(tries !== undefined && { tries }) });
  if (servers) resolver.setServers(servers);
  const ask = (rrtype: 'A' | 'AAAA', host: string) => new Promise<string[]>((resolve, reject) => {
    const done = (err: NodeJS.ErrnoException | null, addresses: string[]) => (err ? reject(err) : resolve(addresses));
    if (rrtype === 'A') resolver.resolve4(host, done);
    else resolver.resolve6(host, done);
  });

  return async (host) => {
    const name = host.toLowerCase();
    const known = hosts().get(name);
    if (known) return known;
    const [v4, v6] = await Promise.allSettled([ask('A', name), ask('AAAA', name)]);
    const found: LookupAddress[] = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (found.length > 0) return found;
    const errors = [v4, v6].flatMap((r) => (r.status === 'rejected' ? [r.reason as NodeJS.ErrnoException] : []));
    if (errors.length > 0 && !errors.every((e) => DEFINITE_NO.has(e.code ?? ''))) throw errors[0];
    return new Promise((resolve, reject) =>
      getaddrinfo(name, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
  };
}

/** The hosts file as name → addresses, parsed again only when its size or mtime changes. */
function hostsTable(path: string): () => Map<string, LookupAddress[]> {
  let stamp = '';
  let table = new Map<string, LookupAddress[]>();
  return () => {
    let current: string;
    try {
      const s = statSync(path);
      current = `${s.mtimeMs}:${s.size}`;
    } catch {
      current = 'missing';
    }
    if (current !== stamp) {
      stamp = current;
      table = current === 'missing' ? new Map() : parseHosts(readFileSync(path, 'utf8'));
    }
    return table;
  };
}

export function parseHosts(text: string): Map<string, LookupAddress[]> {
  const table = new Map<string, LookupAddress[]>();
  for (const line of text.split('\n')) {
    const [address, ...names] = line.replace(/#.*/, '').trim().split(/\s+/);
    const family = address ? isIP(address.replace(/%.*/, '')) : 0;
    if (family === 0) continue;
    for (const name of names) {
      const key = name.toLowerCase();
      const list = table.get(key) ?? [];
      if (!list.some((a) => a.address === address)) list.push({ address: address!, family });
      table.set(key, list);
    }
  }
  return table;
}
