import { lookup as getaddrinfo, Resolver, type LookupAddress } from 'node:dns';
import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';

/**
 * Finds a webhook endpoint's addresses without libuv's thread pool.
 *
 * `dns.lookup` (getaddrinfo) blocks one pool thread for as long as the DNS
 * server takes. The pool is also where token signatures run, and `latchkey`
 * gives it only one thread per core (bin/latchkey.cjs). With a slow or unreachable DNS server,
 * up to LATCHKEY_WEBHOOK_CONCURRENCY lookups would fill it, and every token
 * request would wait behind them. So names are resolved here instead:
 *
 * 1. /etc/hosts first, as getaddrinfo does (re-read when it changes);
 * 2. then DNS through c-ares (`dns.Resolver`, the servers of /etc/resolv.conf, re-read
 *    when it changes), which waits on sockets, not threads;
 * 3. then getaddrinfo, but only when DNS has definitely answered "no such name"
 *    (or no DNS server listens at all). This keeps mDNS and NSS-only names
 *    working, and such a lookup fails or succeeds fast. A DNS timeout never
 *    falls back: that is exactly the lookup that would hold a thread.
 */
export type HostLookup = (host: string) => Promise<LookupAddress[]>;

export interface HostLookupOptions {
  hostsFile?: string;
  /** DNS servers (`ip` or `ip:port`); when absent, those of `resolvConf`, re-read when it changes. */
  servers?: string[];
  resolvConf?: string;
  /** c-ares' first timeout (it doubles on each retry) and attempts per server. */
  timeoutMs?: number;
  tries?: number;
}

// DNS answered, and there is no such name (or record), or nobody answers on the port at all.
const DEFINITE_NO = new Set(['ENOTFOUND', 'ENODATA', 'ECONNREFUSED', 'ENONAME']);
// c-ares' own defaults wait over 20 s for a silent server, longer than a delivery attempt
// (15 s by default): 1 s, then 2 s, per server.
const DNS_TIMEOUT_MS = 1_000;
const DNS_TRIES = 2;
// Once one family has answered, the other gets this long (RFC 8305's resolution delay), so a
// server that drops AAAA questions does not hold up the A answer.
const RESOLUTION_DELAY_MS = 50;

type Answer = PromiseSettledResult<string[]> | undefined;

export function hostLookup(opts: HostLookupOptions = {}): HostLookup {
  const hosts = hostsTable(opts.hostsFile ?? '/etc/hosts');
  const resolver = resolverFor(opts);

  /** Both families' answers, or, once one has addresses, what has come RESOLUTION_DELAY_MS later. */
  const askBoth = (name: string) => new Promise<[Answer, Answer]>((done) => {
    const answers: [Answer, Answer] = [undefined, undefined];
    let timer: NodeJS.Timeout | undefined;
    const settle = (i: 0 | 1, answer: NonNullable<Answer>) => {
      answers[i] = answer;
      if (answers[0] && answers[1]) {
        clearTimeout(timer);
        done(answers);
      } else if (answer.status === 'fulfilled' && answer.value.length > 0 && !timer) {
        timer = setTimeout(() => done(answers), RESOLUTION_DELAY_MS);
      }
    };
    const answer = (i: 0 | 1) => (err: NodeJS.ErrnoException | null, value: string[]) =>
      settle(i, err ? { status: 'rejected', reason: err } : { status: 'fulfilled', value });
    const r = resolver();
    r.resolve4(name, answer(0));
    r.resolve6(name, answer(1));
  });

  return async (host) => {
    const name = host.toLowerCase();
    const known = hosts().get(name);
    if (known) return known;
    const [v4, v6] = await askBoth(name);
    const found: LookupAddress[] = [
      ...(v4?.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6?.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (found.length > 0) return found;
    const errors = [v4, v6].flatMap((r) => (r?.status === 'rejected' ? [r.reason as NodeJS.ErrnoException] : []));
    if (errors.length > 0 && !errors.every((e) => DEFINITE_NO.has(e.code ?? ''))) throw errors[0];
    return new Promise((resolve, reject) =>
      getaddrinfo(name, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses))));
  };
}

/** The resolver to ask now: the given servers, or the system's, made again when resolv.conf changes. */
function resolverFor({ servers, resolvConf = '/etc/resolv.conf', timeoutMs = DNS_TIMEOUT_MS, tries = DNS_TRIES }: HostLookupOptions): () => Resolver {
  const make = () => {
    const resolver = new Resolver({ timeout: timeoutMs, tries });
    if (servers) resolver.setServers(servers);
    return resolver;
  };
  if (servers) {
    const fixed = make();
    return () => fixed;
  }
  return whenChanged(resolvConf, make);
}

/** The hosts file as name → addresses. */
function hostsTable(path: string): () => Map<string, LookupAddress[]> {
  return whenChanged(path, (text) => (text === undefined ? new Map() : parseHosts(text)));
}

/**
 * `build(the file's text)` (undefined when it cannot be read), made again when the
 * file's inode, size or mtime changes. A failed read is tried again next time.
 */
function whenChanged<T>(path: string, build: (text: string | undefined) => T): () => T {
  let stamp: string | undefined;
  let value: T | undefined;
  return () => {
    let current = 'missing';
    let text: string | undefined;
    try {
      const s = statSync(path);
      current = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (current !== stamp) text = readFileSync(path, 'utf8');
    } catch {
      current = 'unreadable';
    }
    if (current !== stamp || value === undefined) {
      value = build(text);
      stamp = current === 'unreadable' ? undefined : current;
    }
    return value;
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
