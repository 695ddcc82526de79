import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { assertBuilt, cleanEnv, CLI, ROOT } from '../support/cli.js';
import { freePort } from '../support/postgres.js';
import { databaseUrlFor } from '../support/server.js';

/**
 * Webhook delivery under crashes, end to end: real `latchkey start` processes,
 * a real receiver, a burst of user changes, and SIGKILL in the middle of it.
 *
 * The promise being tested: every committed event reaches the receiver at
 * least once, a re-send carries the same svix-id, and one user's events arrive
 * in order (sequence and data.updated_at never go back). The event feed
 * (GET /v1/events) is the truth about what was committed: a change whose
 * request died with the server may or may not be in it, and both are fine.
 *
 * LATCHKEY_WEBHOOK_TIMEOUT_MS=1000 makes a dead worker's leases lapse after
 * about 6 s (lease = timeout + 5 s), so recovery fits in a test run.
 */
const noPostgres = !inject('pgUrl');
const TIMEOUT_MS = '1000';
/** Loose bound for one Backend API call, across kills and restarts. */
const CALL_DEADLINE_MS = 60_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A small seeded PRNG for the burst's choices (users, operations, kill points,
 * pauses). The seed is printed; CRASH_TEST_SEED=<seed> replays the choices,
 * though not the timing around them.
 */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

async function until(what: string, deadlineMs: number, check: () => Promise<boolean> | boolean, everyMs = 250, status = () => ''):
  Promise<void> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}${status()}`);
    await sleep(everyMs);
  }
}

// ---------------------------------------------------------------------------
// Server processes
// ---------------------------------------------------------------------------

/** One `latchkey start` process, which the test may SIGKILL and start again on the same port. */
class ServerProcess {
  child: ChildProcess | undefined;
  /** Takes requests (false while killed or starting). */
  up = false;
  starts = 0;
  /** Exits the test did not cause: each is a failure. */
  readonly unexpectedExits: string[] = [];
  private log = '';

  constructor(readonly name: string, readonly port: number, private readonly env: Record<string, string>) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** The last few KB of the process's output, for failure messages. */
  get output(): string {
    return this.log.slice(-4_000);
  }

  async start(): Promise<void> {
    const child = spawn(process.execPath, [CLI, 'start'], {
      cwd: ROOT,
      env: { ...cleanEnv(), ...this.env, PORT: String(this.port), HOST: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts++;
    const keep = (d: string) => (this.log = (this.log + d).slice(-20_000));
    child.stdout!.setEncoding('utf8').on('data', keep);
    child.stderr!.setEncoding('utf8').on('data', keep);
    child.once('exit', (code, signal) => {
      if (this.child === child && signal !== 'SIGKILL' && signal !== 'SIGTERM') {
        this.unexpectedExits.push(`${this.name} exited (${code ?? signal}):\n${this.output}`);
      }
      this.up = false;
    });
    await this.waitReady(child);
    this.up = true;
  }

  /** SIGKILL: no shutdown hook runs, leases and in-flight attempts are simply abandoned. */
  async kill(): Promise<void> {
    const child = this.child;
    this.up = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    const child = this.child;
    this.up = false;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  private async waitReady(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`${this.name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${this.output}`);
      }
      if (Date.now() > deadline) throw new Error(`${this.name} was not ready after 30 s:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/health`, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
  }
}

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The instances behind one "load balancer": a call goes to the next instance
 * that is up, and a call whose connection died (the instance was killed) is
 * sent again, to another instance or after the restart.
 */
class Cluster {
  private next = 0;
  networkErrors = 0;

  constructor(readonly procs: ServerProcess[], private readonly secretKey: string) {}

  async call(method: string, path: string, json?: unknown): Promise<Reply> {
    const deadline = Date.now() + CALL_DEADLINE_MS;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${method} ${path}: no instance answered for ${CALL_DEADLINE_MS} ms`);
      const proc = this.pick();
      if (!proc) {
        await sleep(25);
        continue;
      }
      try {
        const res = await fetch(`${proc.url}${path}`, {
          method,
          headers: { authorization: `Bearer ${this.secretKey}`, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
          body: json === undefined ? undefined : JSON.stringify(json),
          signal: AbortSignal.timeout(20_000),
        });
        const text = await res.text();
        return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
      } catch {
        // The instance died under the request (or refused it while going down).
        this.networkErrors++;
        await sleep(25);
      }
    }
  }

  /** A call that must succeed. */
  async ok(method: string, path: string, json?: unknown): Promise<Record<string, unknown>> {
    const reply = await this.call(method, path, json);
    if (reply.status !== 200) throw new Error(`${method} ${path} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  private pick(): ServerProcess | undefined {
    for (let i = 0; i < this.procs.length; i++) {
      const p = this.procs[(this.next + i) % this.procs.length]!;
      if (p.up) {
        this.next = (this.next + i + 1) % this.procs.length;
        return p;
      }
    }
    return undefined;
  }
}

// ---------------------------------------------------------------------------
// The receiver
// ---------------------------------------------------------------------------

interface Delivery {
  svixId: string;
  webhookId: string | undefined;
  eventId: string;
  sequence: number;
  type: string;
  userId: string | undefined;
  updatedAt: number | undefined;
  /** Which instance sent it, when that can be told (Linux /proc). */
  sender: string | undefined;
}

interface Receiver {
  url: string;
  port: number;
  /** Complete requests, in arrival order. */
  deliveries: Delivery[];
  /** Requests that were not a webhook envelope: each is a failure. */
  malformed: string[];
  close(): Promise<void>;
}

/**
 * Records every complete delivery in arrival order and answers 200 at once. A
 * request cut off by its sender's death never completes, so it is not held.
 */
async function startReceiver(identify?: (remotePort: number, receiverPort: number) => string | undefined): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const malformed: string[] = [];
  const senders = new WeakMap<Socket, string>();
  let port = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', () => undefined);
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        const e = JSON.parse(text) as { id: string; sequence: number; type: string; data: { id?: string; updated_at?: number } };
        const svixId = req.headers['svix-id'];
        if (typeof svixId !== 'string' || typeof e.id !== 'string' || typeof e.sequence !== 'number') throw new Error('not an envelope');
        deliveries.push({
          svixId,
          webhookId: req.headers['webhook-id'] as string | undefined,
          eventId: e.id,
          sequence: e.sequence,
          type: e.type,
          userId: e.data?.id,
          updatedAt: e.data?.updated_at,
          sender: senders.get(req.socket),
        });
      } catch (err) {
        malformed.push(`${(err as Error).message}: ${text.slice(0, 200)}`);
      }
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  server.on('clientError', (_err, socket: Socket) => socket.destroy());
  if (identify) {
    server.on('connection', (socket: Socket) => {
      const who = identify(socket.remotePort!, port);
      if (who) senders.set(socket, who);
    });
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hooks/latchkey`,
    port,
    deliveries,
    malformed,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

/**
 * Which of `procs` owns the client end of a loopback connection to the
 * receiver: the socket's inode from /proc/net/tcp, then the process holding a
 * descriptor on it. Linux only; undefined elsewhere.
 */
function socketOwner(procs: () => ServerProcess[]) {
  return (remotePort: number, receiverPort: number): string | undefined => {
    if (!existsSync('/proc/net/tcp')) return undefined;
    const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0');
    const line = readFileSync('/proc/net/tcp', 'utf8').split('\n').map((l) => l.trim().split(/\s+/))
      .find((f) => f[1]?.endsWith(`:${hex(remotePort)}`) && f[2]?.endsWith(`:${hex(receiverPort)}`));
    const inode = line?.[9];
    if (!inode || inode === '0') return undefined;
    for (const p of procs()) {
      if (!p.pid) continue;
      try {
        for (const fd of readdirSync(`/proc/${p.pid}/fd`)) {
          try {
            if (readlinkSync(`/proc/${p.pid}/fd/${fd}`) === `socket:[${inode}]`) return p.name;
          } catch {
            // closed meanwhile
          }
        }
      } catch {
        // the process is gone
      }
    }
    return undefined;
  };
}

// ---------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------

interface FeedEvent {
  id: string;
  sequence: number;
  type: string;
  data: { id?: string; updated_at?: number };
}

interface Scenario {
  dialect: 'sqlite' | 'postgres';
  instances: number;
  users: number;
  /** Acknowledged changes (PATCH/DELETE answered 200) the burst makes at least. */
  changes: number;
  deletes: number;
  kills: number;
  /** Concurrent request loops. */
  loops: number;
  identifySenders?: boolean;
  /** How long delivery may take to catch up after the burst. */
  drainDeadlineMs: number;
}

interface Outcome {
  seed: number;
  feed: FeedEvent[];
  deliveries: Delivery[];
  malformed: string[];
  /** (user, updated_at) of every change the server acknowledged. */
  acked: { userId: string; updatedAt: number }[];
  ackedDeletes: string[];
  unexpected: string[];
  failed: unknown[];
  kills: number;
  networkErrors: number;
  unexpectedExits: string[];
  burstMs: number;
  drainMs: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function readFeed(cluster: Cluster, after: number): Promise<FeedEvent[]> {
  const out: FeedEvent[] = [];
  for (;;) {
    const page = await cluster.ok('GET', `/v1/events?after=${after}&limit=500`) as { data: FeedEvent[]; has_more: boolean; next_after: number };
    out.push(...page.data);
    after = page.next_after;
    if (!page.has_more) return out;
  }
}

async function lastSequence(cluster: Cluster): Promise<number> {
  const feed = await readFeed(cluster, 0);
  return feed.at(-1)?.sequence ?? 0;
}

async function startCluster(s: Scenario): Promise<{ cluster: Cluster; procs: ServerProcess[] }> {
  assertBuilt();
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-crash-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const databaseUrl = await databaseUrlFor(s.dialect);
  const ports: number[] = [];
  while (ports.length < s.instances) {
    const p = await freePort();
    if (!ports.includes(p)) ports.push(p);
  }
  // One issuer for all instances and across restarts: tokens and URLs must not change under the app.
  const publicUrl = s.instances === 1 ? `http://127.0.0.1:${ports[0]}` : 'http://auth.latchkey.test';
  const env: Record<string, string> = {
    LATCHKEY_DATA_DIR: dataDir,
    LATCHKEY_PUBLIC_URL: publicUrl,
    LATCHKEY_LOG_LEVEL: 'warn',
    LATCHKEY_WEBHOOK_TIMEOUT_MS: TIMEOUT_MS,
    ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}),
  };
  const procs = ports.map((port, i) => new ServerProcess(String.fromCharCode(65 + i), port, env));
  cleanups.push(async () => {
    await Promise.all(procs.map((p) => p.stop()));
  });
  // All at once, as behind a load balancer: the start-up lock sorts out who migrates.
  await Promise.all(procs.map((p) => p.start()));
  const secretKey = /^LATCHKEY_SECRET_KEY=(\S+)$/m.exec(readFileSync(join(dataDir, 'keys.env'), 'utf8'))![1]!;
  return { cluster: new Cluster(procs, secretKey), procs };
}

/**
 * Starts the instances and the receiver, subscribes the receiver to every
 * event, creates the users, then runs the burst while killing instances, and
 * waits until delivery has caught up. Returns what was committed (the feed)
 * and what arrived, for the caller to judge.
 */
async function runScenario(s: Scenario): Promise<Outcome> {
  const seed = Number(process.env.CRASH_TEST_SEED) || Date.now() % 1_000_000_007;
  const random = prng(seed);
  const { cluster, procs } = await startCluster(s);
  const receiver = await startReceiver(s.identifySenders ? socketOwner(() => procs) : undefined);
  cleanups.push(() => receiver.close());

  const startSeq = await lastSequence(cluster);
  const endpoint = await cluster.ok('POST', '/v1/webhook_endpoints', { url: receiver.url, description: 'crash test' });
  const endpointId = endpoint.id as string;

  const live: string[] = [];
  for (let i = 0; i < s.users; i += s.loops) {
    const batch = Array.from({ length: Math.min(s.loops, s.users - i) }, (_, j) => i + j);
    for (const u of await Promise.all(batch.map((n) => cluster.ok('POST', '/v1/users', {
      email_address: [`crash-${n}@example.com`], first_name: `User${n}`, external_id: `crash-${n}`,
    })))) live.push(u.id as string);
  }

  // --- the burst ---
  const acked: Outcome['acked'] = [];
  const ackedDeletes: string[] = [];
  const deleted = new Set<string>();
  const unexpected: string[] = [];
  let done = 0;
  let counter = 0;
  let deletesStarted = 0;
  let killerDone = s.kills === 0;
  let kills = 0;
  const burstStarted = Date.now();

  const change = async (loop: number): Promise<void> => {
    const n = ++counter;
    // Deletes are spread over the burst, so each lands among (and races) other loops' PATCHes.
    if (deletesStarted < s.deletes && done >= ((deletesStarted + 1) * s.changes) / (s.deletes + 1) && live.length > 1) {
      deletesStarted++;
      const id = live.splice(Math.floor(random() * live.length), 1)[0]!;
      deleted.add(id);
      const r = await cluster.call('DELETE', `/v1/users/${id}`);
      // 404: the first try was committed but its answer died with the instance.
      if (r.status === 200) {
        ackedDeletes.push(id);
        done++;
      } else if (r.status !== 404) unexpected.push(`DELETE ${id}: ${r.status} ${JSON.stringify(r.body)}`);
      return;
    }
    const id = live[Math.floor(random() * live.length)]!;
    const r = random() < 0.8
      ? await cluster.call('PATCH', `/v1/users/${id}/metadata`, { public_metadata: { n, loop }, private_metadata: { at: n } })
      : await cluster.call('PATCH', `/v1/users/${id}`, { first_name: `Name${n}` });
    if (r.status === 200) {
      acked.push({ userId: id, updatedAt: r.body.updated_at as number });
      done++;
    } else if (!(r.status === 404 && deleted.has(id))) {
      unexpected.push(`PATCH ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    }
  };

  const loop = async (i: number) => {
    while (done < s.changes || !killerDone) await change(i);
  };

  // Kill points spread over 10%–90% of the burst, each at a random spot of its own stretch.
  const killer = async () => {
    for (let k = 0; k < s.kills; k++) {
      const at = s.changes * (0.1 + (0.8 * (k + 0.15 + 0.7 * random())) / s.kills);
      await until('the burst to reach its next kill point', CALL_DEADLINE_MS, () => done >= at, 5);
      await sleep(random() * 100);
      const victim = procs[k % procs.length]!;
      await victim.kill();
      kills++;
      await sleep(150 + random() * 450);
      await victim.start();
    }
    killerDone = true;
  };

  await Promise.all([killer(), ...Array.from({ length: s.loops }, (_, i) => loop(i))]);
  const burstMs = Date.now() - burstStarted;

  // --- catching up ---
  const drainStarted = Date.now();
  // A receiver holds a delivery before its sender settles it, so once no message
  // is pending every committed event has been sent; what is missing then is lost.
  let pending: unknown[] = [];
  await until('no message to be pending', s.drainDeadlineMs, async () => {
    pending = (await cluster.ok('GET', `/v1/webhook_endpoints/${endpointId}/messages?status=pending&limit=500`) as { data: unknown[] }).data;
    return pending.length === 0;
  }, 500, () => `: ${pending.length} still pending, e.g. ${JSON.stringify(pending[0])}`);
  const drainMs = Date.now() - drainStarted;
  // A stray send after its message was settled (a bug) would land in this grace period as a repeat.
  await sleep(300);
  const feed = await readFeed(cluster, startSeq);
  const failed = (await cluster.ok('GET', `/v1/webhook_endpoints/${endpointId}/messages?status=failed&limit=100`) as { data: unknown[] }).data;

  return {
    seed, feed, deliveries: [...receiver.deliveries], malformed: receiver.malformed, acked, ackedDeletes, unexpected, failed,
    kills, networkErrors: cluster.networkErrors, unexpectedExits: procs.flatMap((p) => p.unexpectedExits), burstMs, drainMs,
  };
}

// ---------------------------------------------------------------------------
// Judging the outcome
// ---------------------------------------------------------------------------

/** Checks the outcome against the promise: the feed and the receiver agree, one svix-id per event, order per user. */
function checkDelivery(o: Outcome, s: Scenario): void {
  expect(o.unexpectedExits, 'no instance died on its own').toEqual([]);
  expect(o.unexpected, 'every request answered as expected').toEqual([]);
  expect(o.malformed, 'every request to the receiver was a webhook envelope with a svix-id').toEqual([]);
  expect(o.kills).toBe(s.kills);

  const feedById = new Map(o.feed.map((e) => [e.id, e]));
  const changes = o.feed.filter((e) => e.type === 'user.updated' || e.type === 'user.deleted');
  expect(changes.length, 'changes committed').toBeGreaterThanOrEqual(s.changes);
  expect(o.feed.filter((e) => e.type === 'user.created')).toHaveLength(s.users);

  // Every acknowledged change is in the feed (nothing committed was lost by a kill).
  const updates = new Set(o.feed.filter((e) => e.type === 'user.updated').map((e) => `${e.data.id}@${e.data.updated_at}`));
  const lostUpdates = o.acked.filter((a) => !updates.has(`${a.userId}@${a.updatedAt}`));
  expect(lostUpdates.slice(0, 5), `${lostUpdates.length} acknowledged changes missing from the feed`).toEqual([]);
  const deletedInFeed = new Set(o.feed.filter((e) => e.type === 'user.deleted').map((e) => e.data.id));
  expect(o.ackedDeletes.filter((id) => !deletedInFeed.has(id))).toEqual([]);

  // Every committed event arrived; nothing arrived that was not committed, and it arrived as committed.
  const copies = new Map<string, Delivery[]>();
  for (const d of o.deliveries) copies.set(d.eventId, [...(copies.get(d.eventId) ?? []), d]);
  const missing = o.feed.filter((e) => !copies.has(e.id)).map((e) => `${e.sequence} ${e.type}`);
  expect(missing.slice(0, 10), `${missing.length} committed events never received`).toEqual([]);
  const strangers = o.deliveries.filter((d) => {
    const e = feedById.get(d.eventId);
    return !e || e.sequence !== d.sequence || e.type !== d.type || e.data.id !== d.userId || e.data.updated_at !== d.updatedAt;
  });
  expect(strangers.slice(0, 5), 'deliveries that do not match a committed event').toEqual([]);

  // One event, one svix-id, however often it is sent; distinct events, distinct ids. webhook-id is the same id.
  const idOf = new Map<string, string>();
  for (const [eventId, ds] of copies) {
    expect(new Set(ds.map((d) => d.svixId)).size, `svix-ids of ${eventId}`).toBe(1);
    idOf.set(eventId, ds[0]!.svixId);
  }
  expect(new Set(idOf.values()).size).toBe(idOf.size);
  expect(o.deliveries.filter((d) => d.webhookId !== d.svixId)).toEqual([]);

  // Per user, in arrival order: sequence and updated_at never go back. A re-send
  // may repeat the event just delivered, never an older one.
  const byUser = new Map<string, Delivery[]>();
  for (const d of o.deliveries) byUser.set(d.userId!, [...(byUser.get(d.userId!) ?? []), d]);
  const disorder: string[] = [];
  for (const [user, ds] of byUser) {
    for (let i = 1; i < ds.length; i++) {
      const [prev, cur] = [ds[i - 1]!, ds[i]!];
      const repeat = cur.eventId === prev.eventId;
      if (!repeat && (cur.sequence <= prev.sequence || cur.updatedAt! <= prev.updatedAt!)) {
        disorder.push(`${user}: #${prev.sequence} (${prev.updatedAt}) then #${cur.sequence} (${cur.updatedAt})`);
      }
    }
  }
  expect(disorder.slice(0, 5), `${disorder.length} out-of-order arrivals`).toEqual([]);
  // A deleted user's last delivery is its user.deleted.
  for (const id of deletedInFeed) expect(byUser.get(id!)!.at(-1)!.type).toBe('user.deleted');

  expect(o.failed, 'no message given up on').toEqual([]);
}

/** Deliveries beyond the first of their event, and the most copies one event got. */
function copyStats(o: Outcome): { duplicates: number; maxCopies: number } {
  const copies = new Map<string, number>();
  for (const d of o.deliveries) copies.set(d.eventId, (copies.get(d.eventId) ?? 0) + 1);
  return { duplicates: o.deliveries.length - copies.size, maxCopies: Math.max(0, ...copies.values()) };
}

/** Printed before the checks, so a failing run still shows its seed and numbers. */
function report(label: string, o: Outcome, extra = ''): { duplicates: number; maxCopies: number } {
  const stats = copyStats(o);
  console.log(`[webhook crash] ${label}: seed ${o.seed}; ${o.feed.length} events committed, ${o.deliveries.length} deliveries, `
    + `${stats.duplicates} duplicates (max ${stats.maxCopies} copies of one event); ${o.kills} kills, `
    + `${o.networkErrors} requests retried; burst ${(o.burstMs / 1000).toFixed(1)} s, catch-up ${(o.drainMs / 1000).toFixed(1)} s${extra}`);
  return stats;
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

describe('webhook delivery survives SIGKILL during a burst of user changes', () => {
  it('SQLite: one process, killed and restarted 3 times', { timeout: 300_000 }, async () => {
    const s: Scenario = { dialect: 'sqlite', instances: 1, users: 40, changes: 2_000, deletes: 4, kills: 3, loops: 8, drainDeadlineMs: 150_000 };
    const o = await runScenario(s);
    report('SQLite, 1 process', o);
    checkDelivery(o, s);
  });

  it.skipIf(noPostgres)('PostgreSQL: two processes on one database, killed alternately 4 times', { timeout: 300_000 }, async () => {
    const s: Scenario = { dialect: 'postgres', instances: 2, users: 40, changes: 2_000, deletes: 4, kills: 4, loops: 8, drainDeadlineMs: 150_000 };
    const o = await runScenario(s);
    report('PostgreSQL, 2 processes', o);
    checkDelivery(o, s);
  });
});

describe('several instances on PostgreSQL in normal running', () => {
  it.skipIf(noPostgres)('share the work and send every event exactly once, in order per user', { timeout: 180_000 }, async () => {
    const s: Scenario = { dialect: 'postgres', instances: 2, users: 20, changes: 500, deletes: 2, kills: 0, loops: 8, identifySenders: true, drainDeadlineMs: 60_000 };
    const o = await runScenario(s);
    // Who sent what, traced through /proc where the OS has it.
    const traced = existsSync('/proc/net/tcp');
    const by = new Map<string, number>();
    for (const d of o.deliveries) by.set(d.sender ?? 'unknown', (by.get(d.sender ?? 'unknown') ?? 0) + 1);
    const stats = report('PostgreSQL, 2 processes, no kills', o, traced ? `; sent by ${[...by].map(([k, v]) => `${k}: ${v}`).join(', ')}` : '');
    checkDelivery(o, s);

    // Nothing went wrong, so nothing was sent twice.
    expect(stats.duplicates).toBe(0);
    expect(o.deliveries).toHaveLength(o.feed.length);

    // Both instances took a real share of the work (about half each in practice; 10% leaves room for a busy machine).
    if (traced) {
      expect(by.get('unknown') ?? 0, 'every delivery traced to its instance').toBe(0);
      expect(by.get('A') ?? 0).toBeGreaterThan(o.deliveries.length * 0.1);
      expect(by.get('B') ?? 0).toBeGreaterThan(o.deliveries.length * 0.1);
    }
  });
});
