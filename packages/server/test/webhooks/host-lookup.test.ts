import { execFileSync } from 'node:child_process';
import { lookup as getaddrinfo } from 'node:dns';
import { closeSync, mkdirSync, mkdtempSync, open, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type DnsServer } from '../support/dns-server.js';
import { hostLookup, parseHosts } from '../../src/webhooks/host-lookup.js';

const ZONE = {
  'hooks.example.test': ['93.184.216.34', '2606:2800:220:1::1'],
  'v4only.example.test': ['93.184.216.35'],
  'pinned.example.test': ['93.184.216.36'],
};

let dir: string;
let dns: DnsServer;
let hostsFile: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-hosts-'));
  hostsFile = join(dir, 'hosts');
  writeFileSync(hostsFile, '# a comment\n10.9.8.7  pinned.example.test  Alias.Example.Test # trailing\n::1 six.example.test\n');
  dns = await startDnsServer(ZONE);
});

afterAll(async () => {
  await dns.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('parseHosts', () => {
  it('reads addresses and names, skipping comments, blank lines and bad addresses', () => {
    const table = parseHosts('127.0.0.1 localhost\n\n# 10.0.0.1 commented\nnot-an-ip name\nfe80::1%lo0 zoned\n::1 localhost ip6-localhost\n');
    expect(table.get('localhost')).toEqual([{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]);
    expect(table.get('ip6-localhost')).toEqual([{ address: '::1', family: 6 }]);
    expect(table.get('zoned')).toEqual([{ address: 'fe80::1%lo0', family: 6 }]);
    expect(table.has('name')).toBe(false);
    expect(table.has('commented')).toBe(false);
  });
});

describe('hostLookup', () => {
  it('asks DNS (c-ares) for both families, IPv4 first', async () => {
    const lookup = hostLookup({ hostsFile, servers: [dns.address] });
    expect(await lookup('hooks.example.test')).toEqual([
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::1', family: 6 },
    ]);
    expect(await lookup('V4ONLY.example.test')).toEqual([{ address: '93.184.216.35', family: 4 }]);
  });

  it('answers from the hosts file first, without asking DNS, and sees the file change', async () => {
    const lookup = hostLookup({ hostsFile, servers: [dns.address] });
    const asked = dns.questions.length;
    expect(await lookup('pinned.example.test')).toEqual([{ address: '10.9.8.7', family: 4 }]);
    expect(await lookup('alias.example.test')).toEqual([{ address: '10.9.8.7', family: 4 }]);
    expect(dns.questions.length).toBe(asked);

    writeFileSync(hostsFile, '10.9.8.6 elsewhere.example.test\n');
    expect(await lookup('pinned.example.test')).toEqual([{ address: '93.184.216.36', family: 4 }]); // now DNS's
    expect(await lookup('elsewhere.example.test')).toEqual([{ address: '10.9.8.6', family: 4 }]);
  });

  it('falls back to the system resolver when DNS says there is no such name', async () => {
    const lookup = hostLookup({ hostsFile: join(dir, 'missing'), servers: [dns.address] });
    // DNS (this zone) does not know localhost; the system's resolver does (its own hosts file).
    const found = await lookup('localhost');
    expect(found.length).toBeGreaterThan(0);
    for (const a of found) expect(['127.0.0.1', '::1']).toContain(a.address);
    expect(dns.questions.some((q) => q.name === 'localhost')).toBe(true);
  });

  it('answers with one family when the other question is lost, without waiting for its timeout', async () => {
    const lossy = await startDnsServer(ZONE, { drop: [28] }); // AAAA questions go unanswered
    try {
      // With a 20 s timeout, waiting for the AAAA answer would outlast this test.
      const lookup = hostLookup({ hostsFile: join(dir, 'missing'), servers: [lossy.address], timeoutMs: 20_000, tries: 1 });
      expect(await lookup('hooks.example.test')).toEqual([{ address: '93.184.216.34', family: 4 }]);
      expect(lossy.questions.map((q) => q.type).sort()).toEqual([1, 28]);
    } finally {
      await lossy.close();
    }
  });

  it('reads a hosts file again after it could not be read', async () => {
    const path = join(dir, 'hosts-later');
    mkdirSync(path); // a directory: stat works, reading fails
    const lookup = hostLookup({ hostsFile: path, servers: [dns.address] });
    expect(await lookup('pinned.example.test')).toEqual([{ address: '93.184.216.36', family: 4 }]); // DNS's
    rmSync(path, { recursive: true });
    writeFileSync(path, '10.9.8.5 pinned.example.test\n');
    expect(await lookup('pinned.example.test')).toEqual([{ address: '10.9.8.5', family: 4 }]);
  });

  it('does not fall back when DNS times out (that is the lookup that would hold a pool thread)', async () => {
    const silent = await startDnsServer({}, { silent: true });
    try {
      const lookup = hostLookup({ hostsFile: join(dir, 'missing'), servers: [silent.address], timeoutMs: 50, tries: 1 });
      await expect(lookup('localhost')).rejects.toMatchObject({ code: 'ETIMEOUT' });
      expect(silent.questions.length).toBeGreaterThan(0);
    } finally {
      await silent.close();
    }
  });

  it.skipIf(process.platform === 'win32')('resolves while every thread of libuv’s pool is busy', async () => {
    // Each open() of a FIFO for reading blocks its pool thread until a writer opens it.
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const blocked = Array.from({ length: 64 }, () => new Promise<number>((resolve, reject) =>
      open(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd)))));
    let systemAnswered = false;
    getaddrinfo('localhost', () => { systemAnswered = true; }); // queued behind the blocked opens

    try {
      // Were the lookup on the pool, it would wait for the release below: fail instead of hanging.
      const stuck = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the lookup waited for the pool')), 5_000).unref());
      const lookup = hostLookup({ hostsFile: join(dir, 'missing'), servers: [dns.address] });
      const found = await Promise.race([lookup('hooks.example.test'), stuck]);
      expect(found.map((a) => a.address)).toEqual(['93.184.216.34', '2606:2800:220:1::1']);
      expect(systemAnswered).toBe(false); // the pool really was full
    } finally {
      const writer = openSync(fifo, 'w'); // lets every blocked open() return
      for (const fd of await Promise.all(blocked)) closeSync(fd);
      closeSync(writer);
    }
  });
});
