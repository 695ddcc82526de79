import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { allowedCpus } from './cpus.js';

/**
 * Password hashing on a few threads of its own, at the lowest CPU priority.
 *
 * argon2id is built to be expensive (≈11 ms of one core a hash, 19 MiB): during a
 * sign-in storm it would take every core, and the event loop, which answers the
 * cheap requests (token refreshes, session checks), would queue behind it. So
 * each hasher thread lowers its own scheduling priority to nice 19 (Linux nice
 * values are per thread): the event loop and token signing run the moment they
 * have work, and hashing soaks up every cycle they leave. Under overload that
 * means sign-ins slow down before the signed-in users notice anything; past
 * `maxWaiting` queued hashes, new ones are refused (HasherBusyError) rather
 * than queued for ever.
 * bench/signin measures both sides: sign-ins per second against the argon2
 * bound, and token p99 during a storm against idle.
 *
 * Only on Linux: elsewhere setpriority() would lower the whole process.
 *
 * When there is one hasher per CPU the process may use (the default), each is
 * also pinned to its own CPU (`taskset`). Left free, the kernel keeps moving
 * the hashers between CPUs as requests come and go, and during a storm the
 * token endpoint's p99 was about a fifth higher (bench/README.md). The cost:
 * a hasher whose CPU is busy with another program's work waits there instead
 * of moving, so LATCHKEY_HASHER_PINNING=off leaves placement to the kernel.
 */
export const HASHER_NICE = 19;

/** One thread per core by default (at most 16): more concurrent hashes than cores only add memory traffic. */
export const DEFAULT_HASHER_THREADS = Math.max(1, Math.min(availableParallelism(), 16));

/**
 * Each thread holds up to this many jobs: the one it is hashing and the next,
 * already in its inbox, so it starts that one the moment it finishes instead of
 * waiting for a busy event loop to hand it over.
 */
const DEPTH = 2;

export type HashJob = { op: 'hash'; password: string; options: object } | { op: 'verify'; digest: string; password: string };
type Message = { ok: true; value: string | boolean } | { ok: false; error: string } | { notice: string };
type Pending = { job: HashJob; resolve: (v: string | boolean) => void; reject: (e: Error) => void };

/** Too many hashes are waiting already: the caller should answer "busy, retry". */
export class HasherBusyError extends Error {
  constructor() {
    super('password hashing is saturated');
    this.name = 'HasherBusyError';
  }
}

// The worker is plain CommonJS given as text, so it runs the same from src/ (tests) and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.nice) {
  try { require('node:os').setPriority(0, workerData.nice); }
  catch (err) { parentPort.postMessage({ notice: 'Latchkey could not lower the password hashers\\' CPU priority (' + err.message + '); hashing competes with requests.' }); }
}
if (workerData.cpu !== null) {
  try {
    // Linux: /proc/thread-self names this thread's id, which taskset (util-linux) pins.
    const tid = require('node:fs').readlinkSync('/proc/thread-self').split('/').pop();
    require('node:child_process').execFileSync('taskset', ['-p', '-c', String(workerData.cpu), tid], { stdio: 'ignore', timeout: 10000 });
  } catch (err) {
    parentPort.postMessage({ notice: 'Latchkey could not pin the password hashers to CPUs (taskset: ' + (err.code || err.message) + '); the kernel places them, and hashing may delay requests more under load. LATCHKEY_HASHER_PINNING=off silences this.' });
  }
}
const argon2 = require(workerData.argon2);
// A digest argon2 cannot parse matches no password.
const verify = (job) => { try { return argon2.verifySync(job.digest, job.password); } catch { return false; } };
parentPort.on('message', (job) => {
  let answer;
  try {
    answer = { ok: true, value: job.op === 'hash' ? argon2.hashSync(job.password, job.options) : verify(job) };
  } catch (err) {
    answer = { ok: false, error: String(err && err.message || err) };
  }
  parentPort.postMessage(answer);
});`;

const argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2');

/** A notice (a thread could not lower its priority, say) is the same from every thread: said once per process. */
const noticed = new Set<string>();

class HasherThread {
  private readonly worker: Worker;
  private dead = false;
  /** Jobs sent to the thread, oldest first; it answers in that order. */
  readonly pending: Pending[] = [];

  constructor(
    source: string,
    /** Which of the pool's threads this is (0, 1, …): a replacement takes the slot, and the CPU, of the thread it replaces. */
    readonly slot: number,
    cpu: number | null,
    private readonly onAnswer: (t: HasherThread) => void,
    private readonly onDeath: (t: HasherThread, unstarted: Pending[]) => void,
  ) {
    this.worker = new Worker(source, {
      eval: true,
      workerData: { argon2: argon2Path, nice: process.platform === 'linux' ? HASHER_NICE : 0, cpu },
      // argon2 allocates its memory natively; the JS side of a hasher is tiny.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    // An idle hasher never keeps a process (a CLI command, a test run) alive; a busy one does.
    this.worker.unref();
    this.worker.on('message', (m: Message) => this.receive(m));
    this.worker.on('error', (err) => this.die(err));
    this.worker.on('exit', (code) => this.die(new Error(`password hasher thread exited (code ${code})`)));
  }

  get hasRoom(): boolean {
    return !this.dead && this.pending.length < DEPTH;
  }

  run(p: Pending): void {
    if (this.pending.push(p) === 1) this.worker.ref();
    this.worker.postMessage(p.job);
  }

  private receive(m: Message): void {
    if ('notice' in m) {
      if (!noticed.has(m.notice)) process.emitWarning(m.notice);
      noticed.add(m.notice);
      return;
    }
    const p = this.pending.shift();
    if (this.pending.length === 0) this.worker.unref();
    if (p) {
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    }
    this.onAnswer(this);
  }

  /** The job it was hashing fails (it may be what killed the thread); the one waiting in its inbox goes back to the queue. */
  private die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    const [running, ...unstarted] = this.pending.splice(0);
    running?.reject(err);
    this.onDeath(this, unstarted);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export interface HasherPoolOptions {
  /** Threads at most (default: one per core, at most 16). */
  size?: number;
  /** Jobs that may wait for a thread before new ones are refused (default: 256 per thread). */
  maxWaiting?: number;
  /** The worker's source (tests give one of their own). */
  source?: string;
  /** Pin thread k to CPU k of the process's allowed CPUs when there is one thread per CPU (Linux; default true). */
  pin?: boolean;
}

/** The CPU for each thread slot: the allowed CPUs when a pinned pool has exactly one thread per CPU, else none. */
function pinningPlan(size: number, pin: boolean): number[] {
  if (!pin || process.platform !== 'linux') return [];
  const cpus = allowedCpus();
  return cpus.length === size ? cpus : [];
}

/** Up to `size` hasher threads fed from one queue, started as work arrives. */
export class HasherPool {
  private threads: HasherThread[] = [];
  private queue: Pending[] = [];
  private size: number;
  private maxWaiting: number;
  private readonly source: string;
  private pin: boolean;
  /** The CPU of each slot (pinningPlan), worked out when the first thread starts. */
  private cpus: number[] | undefined;

  constructor(opts: HasherPoolOptions = {}) {
    this.size = opts.size ?? DEFAULT_HASHER_THREADS;
    this.maxWaiting = opts.maxWaiting ?? this.size * 256;
    this.source = opts.source ?? WORKER_SOURCE;
    this.pin = opts.pin ?? true;
  }

  /**
   * Sets the thread count (LATCHKEY_HASHER_THREADS), the waiting bound that goes
   * with it, and pinning (LATCHKEY_HASHER_PINNING); threads already started stay as they are.
   */
  configure(opts: { size?: number | undefined; pin?: boolean | undefined }): void {
    if (opts.size !== undefined) {
      this.size = opts.size;
      this.maxWaiting = opts.size * 256;
    }
    if (opts.pin !== undefined) this.pin = opts.pin;
    this.cpus = undefined;
  }

  /** The CPUs the threads are pinned to, one per slot; [] when they are not pinned. */
  private get pinnedCpus(): number[] {
    return (this.cpus ??= pinningPlan(this.size, this.pin));
  }

  run(job: HashJob): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      const p = { job, resolve, reject };
      const free = this.leastBusy();
      if (free) return free.run(p);
      if (this.threads.length < this.size) return this.trySpawn(p)?.run(p);
      if (this.queue.length >= this.maxWaiting) return reject(new HasherBusyError());
      this.queue.push(p);
    });
  }

  /** Jobs waiting for a thread plus jobs the threads hold. */
  get load(): number {
    return this.queue.length + this.threads.reduce((n, t) => n + t.pending.length, 0);
  }

  /** Threads running now. */
  get threadCount(): number {
    return this.threads.length;
  }

  /** An idle thread first; a thread with room only when every thread is busy (then no new one is started). */
  private leastBusy(): HasherThread | undefined {
    let best: HasherThread | undefined;
    for (const t of this.threads) if (t.hasRoom && (!best || t.pending.length < best.pending.length)) best = t;
    if (best && best.pending.length > 0 && this.threads.length < this.size) return undefined;
    return best;
  }

  /** A new thread, or undefined (and `p` rejected) when none can be started. */
  private trySpawn(p: Pending): HasherThread | undefined {
    try {
      let slot = 0;
      while (this.threads.some((t) => t.slot === slot)) slot++;
      const cpus = this.pinnedCpus;
      const t: HasherThread = new HasherThread(this.source, slot, cpus.length ? cpus[slot % cpus.length]! : null,
        (done) => this.refill(done), (dead, unstarted) => this.replace(dead, unstarted));
      this.threads.push(t);
      return t;
    } catch (err) {
      p.reject(err as Error);
      return undefined;
    }
  }

  private refill(t: HasherThread): void {
    while (t.hasRoom && this.queue.length) t.run(this.queue.shift()!);
  }

  /**
   * A thread died (out of memory, say). Its unstarted job goes back to the front
   * of the queue, and a new thread takes the queue. Only queued work starts one,
   * so a thread that cannot start at all fails jobs one by one instead of
   * respawning for ever.
   */
  private replace(dead: HasherThread, unstarted: Pending[]): void {
    if (!this.threads.includes(dead)) {
      for (const p of unstarted) p.reject(new Error('password hasher stopped'));
      return; // stopped on purpose
    }
    this.threads = this.threads.filter((t) => t !== dead);
    this.queue.unshift(...unstarted);
    const first = this.queue.shift();
    if (!first) return;
    const t = this.trySpawn(first);
    if (!t) {
      for (const p of this.queue.splice(0)) p.reject(new Error('password hasher thread could not start'));
      return;
    }
    t.run(first);
    this.refill(t);
  }

  /** Stops every thread (tests); jobs in hand fail, and the next job starts afresh. */
  async stop(): Promise<void> {
    const threads = this.threads;
    this.threads = [];
    for (const p of this.queue.splice(0)) p.reject(new Error('password hasher stopped'));
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

/** The process's hashers: one pool, like libuv's thread pool. */
export const hasherPool = new HasherPool();
