import type { LookupAddress } from 'node:dns';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { Deliverer } from './delivery.js';
import {
  classifyAddress, destinationProblem, guardedLookup, refusal, urlProblem, type AddressClass, type DestinationPolicy,
} from './destination.js';

const STRICT: DestinationPolicy = { allowPrivate: false, allowLoopback: false };
const DEVELOPMENT: DestinationPolicy = { allowPrivate: false, allowLoopback: true };
const OPEN: DestinationPolicy = { allowPrivate: true, allowLoopback: false };

const CLASSES: [string, AddressClass][] = [
  // public
  ['8.8.8.8', 'public'], ['93.184.216.34', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'],
  ['2606:4700:4700::1111', 'public'], ['::ffff:8.8.8.8', 'public'],
  // loopback, in every spelling a resolver or URL parser produces
  ['127.0.0.1', 'loopback'], ['127.255.255.254', 'loopback'], ['::1', 'loopback'], ['[::1]', 'loopback'],
  ['::ffff:127.0.0.1', 'loopback'], ['::FFFF:127.0.0.2', 'loopback'], ['::ffff:7f00:1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  // cloud metadata services
  ['169.254.169.254', 'metadata'], ['::ffff:169.254.169.254', 'metadata'], ['fd00:ec2::254', 'metadata'],
  ['100.100.100.200', 'metadata'],
  // link-local
  ['169.254.1.1', 'link-local'], ['fe80::1', 'link-local'], ['febf::1', 'link-local'],
  // private, carrier-grade NAT and unique local
  ['10.0.0.1', 'private'], ['10.255.255.255', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'],
  ['192.168.1.1', 'private'], ['100.64.0.1', 'private'], ['100.127.255.255', 'private'],
  ['fc00::1', 'private'], ['fd12:3456::1', 'private'], ['::ffff:10.0.0.1', 'private'], ['::ffff:a00:1', 'private'],
  ['::ffff:192.168.0.1', 'private'],
  // IPv6 forms that carry an IPv4 address are the address they carry (NAT64, translated, compatible)
  ['64:ff9b::a00:1', 'private'], ['64:ff9b::808:808', 'public'], ['64:ff9b::a9fe:a9fe', 'metadata'],
  ['::ffff:0:10.0.0.1', 'private'], ['::10.0.0.1', 'private'], ['::7f00:1', 'loopback'],
  // Azure's wire server, and IPv6 site-local
  ['168.63.129.16', 'metadata'], ['fec0::1', 'private'],
  // reserved: "this network", benchmarking, multicast, class E, unspecified, local-use NAT64, documentation
  ['0.0.0.0', 'reserved'], ['0.1.2.3', 'reserved'], ['192.0.0.8', 'reserved'], ['198.18.0.1', 'reserved'],
  ['198.19.255.255', 'reserved'], ['224.0.0.1', 'reserved'], ['239.255.255.250', 'reserved'],
  ['240.0.0.1', 'reserved'], ['255.255.255.255', 'reserved'], ['::', 'reserved'], ['ff02::1', 'reserved'],
  ['64:ff9b:1::1', 'reserved'], ['2001:db8::1', 'reserved'],
];

describe('classifyAddress', () => {
  it.each(CLASSES)('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });
});

describe('refusal', () => {
  const nonPublic = CLASSES.filter(([, c]) => c !== 'public');

  it('lets public addresses through under every policy', () => {
    for (const [address] of CLASSES.filter(([, c]) => c === 'public')) {
      for (const policy of [STRICT, DEVELOPMENT, OPEN]) expect(refusal(address, policy)).toBeUndefined();
    }
  });

  it('refuses everything else under the strict (production) policy, naming the class and the way out', () => {
    for (const [address, cls] of nonPublic) {
      const why = refusal(address, STRICT);
      expect(why, address).toContain(`resolves to a ${cls} address (${address})`);
      expect(why).toContain('LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true');
    }
    expect(refusal('127.0.0.1', STRICT)).toMatch(/allowed on development instances only/);
  });

  it('lets only loopback through on development instances', () => {
    for (const [address, cls] of nonPublic) {
      if (cls === 'loopback') expect(refusal(address, DEVELOPMENT), address).toBeUndefined();
      else expect(refusal(address, DEVELOPMENT), address).toContain(`a ${cls} address`);
    }
  });

  it('lets everything through with LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true', () => {
    for (const [address] of CLASSES) expect(refusal(address, OPEN), address).toBeUndefined();
  });
});

describe('urlProblem', () => {
  it.each([
    ['https://example.com/webhooks/clerk'],
    ['http://example.com:8080/hook?tenant=1'],
    ['http://127.0.0.1:3000/api/webhooks'],
    ['https://[2606:4700::1111]/hook'],
  ])('accepts %s', (url) => {
    expect(urlProblem(url)).toBeUndefined();
  });

  it.each([
    ['not a url', 'must be an absolute http:// or https:// URL'],
    ['/api/webhooks', 'must be an absolute http:// or https:// URL'],
    ['', 'must be an absolute http:// or https:// URL'],
    ['ftp://example.com/hook', 'must use http:// or https://'],
    ['file:///etc/passwd', 'must use http:// or https://'],
    ['javascript:alert(1)', 'must use http:// or https://'],
    ['https://user:pass@example.com/hook', 'must not carry credentials'],
    ['https://token@example.com/hook', 'must not carry credentials'],
    ['https://example.com/hook#part', 'must not carry a #fragment'],
  ])('refuses %j', (url, problem) => {
    expect(urlProblem(url)).toContain(problem);
  });
});

describe('destinationProblem', () => {
  /** A resolver that answers from a table and fails for names it does not know. */
  const table = (answers: Record<string, string[]>) => {
    const asked: string[] = [];
    const lookup = async (host: string): Promise<LookupAddress[]> => {
      asked.push(host);
      const addrs = answers[host];
      if (!addrs) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
      return addrs.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    };
    return { lookup, asked };
  };

  it('passes a name whose every address is public', async () => {
    const { lookup, asked } = table({ 'hooks.example.com': ['93.184.216.34', '2606:2800:220:1::1'] });
    expect(await destinationProblem('https://hooks.example.com/x', STRICT, lookup)).toBeUndefined();
    expect(asked).toEqual(['hooks.example.com']);
  });

  it('refuses a name with one public and one private address', async () => {
    const { lookup } = table({ 'mixed.example.com': ['93.184.216.34', '10.0.0.5'] });
    expect(await destinationProblem('https://mixed.example.com/x', STRICT, lookup)).toContain('a private address (10.0.0.5)');
    expect(await destinationProblem('https://mixed.example.com/x', OPEN, lookup)).toBeUndefined();
  });

  it('refuses a name pointing at the metadata service, even on development instances', async () => {
    const { lookup } = table({ 'metadata.example.com': ['169.254.169.254'] });
    expect(await destinationProblem('http://metadata.example.com/', DEVELOPMENT, lookup)).toContain('a metadata address');
  });

  it('passes a name that does not resolve (yet): delivery checks again when it connects', async () => {
    const { lookup, asked } = table({});
    expect(await destinationProblem('https://not-yet.example.com/x', STRICT, lookup)).toBeUndefined();
    expect(asked).toEqual(['not-yet.example.com']);
  });

  it('checks IP literals without asking the resolver, brackets and URL-normalised forms included', async () => {
    const { lookup, asked } = table({});
    expect(await destinationProblem('http://[::1]:8080/x', STRICT, lookup)).toContain('a loopback address (::1)');
    expect(await destinationProblem('http://[::1]:8080/x', DEVELOPMENT, lookup)).toBeUndefined();
    expect(await destinationProblem('http://10.1.2.3/x', STRICT, lookup)).toContain('a private address');
    // The URL parser turns these into 127.0.0.1 and ::ffff:a00:1 before anyone looks.
    expect(await destinationProblem('http://2130706433/x', STRICT, lookup)).toContain('a loopback address (127.0.0.1)');
    expect(await destinationProblem('http://0x7f.1/x', STRICT, lookup)).toContain('a loopback address');
    expect(await destinationProblem('http://[::ffff:10.0.0.1]/x', STRICT, lookup)).toContain('a private address');
    // The metadata service in IPv4-mapped form (the parser writes it ::ffff:a9fe:a9fe) is refused even on development.
    expect(await destinationProblem('http://[::ffff:169.254.169.254]/x', DEVELOPMENT, lookup)).toContain('(::ffff:a9fe:a9fe)');
    expect(await destinationProblem('http://8.8.8.8/x', STRICT, lookup)).toBeUndefined();
    expect(asked).toEqual([]);
  });
});

describe('guardedLookup', () => {
  type Answer = { err: NodeJS.ErrnoException | null; address: string | LookupAddress[]; family?: number | undefined };
  const resolve = (policy: DestinationPolicy, host: string, all: boolean) => new Promise<Answer>((done) => {
    guardedLookup(policy)(host, all ? { all: true } : {}, (err, address, family) => done({ err, address, family }));
  });

  it('refuses a forbidden resolution at connect time', async () => {
    for (const all of [false, true]) {
      const { err } = await resolve(STRICT, 'localhost', all);
      expect(err?.code).toBe('EDESTINATION');
      expect(err?.message).toMatch(/^refused: localhost resolves to a loopback address/);
    }
  });

  it('passes an allowed resolution in the shape the caller asked for', async () => {
    const one = await resolve(DEVELOPMENT, 'localhost', false);
    expect(one.err).toBeNull();
    expect(classifyAddress(one.address as string)).toBe('loopback');
    expect([4, 6]).toContain(one.family);

    const all = await resolve(DEVELOPMENT, 'localhost', true);
    expect(all.err).toBeNull();
    const list = all.address as LookupAddress[];
    expect(list.length).toBeGreaterThan(0);
    for (const a of list) expect(classifyAddress(a.address)).toBe('loopback');
  });

  it('passes the resolver error through for a name that does not exist', async () => {
    const { err } = await resolve(STRICT, 'no-such-host.invalid', false);
    expect(err).toBeTruthy();
    expect(err?.code).not.toBe('EDESTINATION');
  });
});

describe('the policy at connect time (Deliverer)', () => {
  /** POSTs once to a loopback receiver through `host`, under `policy`; returns the result and how many requests arrived. */
  async function postVia(host: string, policy: DestinationPolicy) {
    let arrived = 0;
    const server = createServer((_req, res) => {
      arrived++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const deliverer = new Deliverer(policy, 5_000);
    try {
      const { port } = server.address() as AddressInfo;
      const result = await deliverer.post(`http://${host}:${port}/hook`, {}, '{}');
      return { result, arrived };
    } finally {
      deliverer.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  // An endpoint saved while the policy allowed it (a development instance, or ALLOW_PRIVATE since turned off).
  it.each(['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]'])('refuses %s under a policy without loopback, sending nothing', async (host) => {
    const { result, arrived } = await postVia(host, STRICT);
    expect(result.statusCode).toBeNull();
    expect(result.error).toMatch(/^refused: .* resolves to a loopback address/);
    expect(arrived).toBe(0);
  });

  it.each(['127.0.0.1'])('delivers to %s where loopback is allowed', async (host) => {
    const { result, arrived } = await postVia(host, DEVELOPMENT);
    expect(result).toMatchObject({ statusCode: 200, response: 'ok', error: null });
    expect(arrived).toBe(1);
  });
});
