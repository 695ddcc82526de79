import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * Password hashing on a few threads of its own, at the lowest CPU priority.
 *
 * argon2id is built to be expensive (≈11 ms of one core a hash, 19 MiB): during a
 * sign-in storm it would take every core, and the event loop, which answers the
 * cheap requests (token refreshes, session checks), would queue behind it. So
 * each hasher thread lowers its own scheduling priority to nice 19 (Linux nice
 * values are per thread): the event loop and token signing run the moment they
 * have work, and hashing soaks up every cycle they leave. Under overload that
 * means sign-ins slow down before the signed-in users notice anything.
 * bench/signin measures both sides: sign-ins per second against the argon2
 * bound, and token p99 during a storm against idle.
 *
 * Only on Linux: elsewhere setpriority() would lower the whole process.
 */
export const HASHER_NICE = 19;

/** One thread per core (at most 16): more concurrent hashes than cores only add memory traffic. */
const SIZE = Math.max(1, Math.min(availableParallelism(), 16));

type Job = { op: 'hash'; password: string; options: object } | { op: 'verify'; digest: string; password: string };
type Answer = { ok: true; value: string | boolean } | { ok: false; error: string };
type Pending = { job: Job; resolve: (v: string | boolean) => void; reject: (e: Error) => void };

// The worker is plain CommonJS given as text, so it runs the same from src/ (tests) and dist/.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
if (workerData.nice) { try { require('node:os').setPriority(0, workerData.nice); } catch {} }
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

/**
 * Each thread holds up to this many jobs: the one it is hashing and the next,
 * already in its inbox, so it starts that one the moment it finishes instead of
 * waiting for a busy event loop to hand it over.
 */
const DEPTH = 2;

class HasherThread {
  private readonly worker: Worker;
  private dead = false;
  /** Jobs sent to the thread, oldest first; it answers in that order. */
  readonly pending: Pending[] = [];

  constructor(private readonly onAnswer: (t: HasherThread) => void, private readonly onDeath: (t: HasherThread) => void) {
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { argon2: argon2Path, nice: process.platform === 'linux' ? HASHER_NICE : 0 },
      // argon2 allocates its memory natively; the JS side of a hasher is tiny.
      resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
    });
    // An idle hasher never keeps a process (a CLI command, a test run) alive; a busy one does.
    this.worker.unref();
    this.worker.on('message', (answer: Answer) => this.settle(answer));
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

  private settle(answer: Answer): void {
    const p = this.pending.shift();
    if (this.pending.length === 0) this.worker.unref();
    if (p) {
      if (answer.ok) p.resolve(answer.value);
      else p.reject(new Error(answer.error));
    }
    this.onAnswer(this);
  }

  private die(err: Error): void {
    if (this.dead) return;
    this.dead = true;
    for (const p of this.pending.splice(0)) p.reject(err);
    this.onDeath(this);
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

/** Up to SIZE hasher threads fed from one queue (process-wide, started as work arrives). */
class HasherPool {
  private threads: HasherThread[] = [];
  private queue: Pending[] = [];

  run(job: Job): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      const p = { job, resolve, reject };
      const t = this.leastBusy() ?? (this.threads.length < SIZE ? this.spawn() : undefined);
      if (t) t.run(p);
      else this.queue.push(p);
    });
  }

  /** Jobs waiting for a thread plus jobs the threads hold. */
  get load(): number {
    return this.queue.length + this.threads.reduce((n, t) => n + t.pending.length, 0);
  }

  /** An idle thread first; a thread with room only when every thread is busy (then no new one is started). */
  private leastBusy(): HasherThread | undefined {
    let best: HasherThread | undefined;
    for (const t of this.threads) if (t.hasRoom && (!best || t.pending.length < best.pending.length)) best = t;
    if (best && best.pending.length > 0 && this.threads.length < SIZE) return undefined;
    return best;
  }

  private spawn(): HasherThread {
    const t: HasherThread = new HasherThread((done) => this.refill(done), (dead) => this.replace(dead));
    this.threads.push(t);
    return t;
  }

  private refill(t: HasherThread): void {
    while (t.hasRoom && this.queue.length) t.run(this.queue.shift()!);
  }

  /**
   * A thread that died (out of memory, say) failed its jobs; a new one takes the
   * queue. Only queued work spawns one, so a thread that cannot start at all
   * fails jobs one by one instead of respawning forever.
   */
  private replace(dead: HasherThread): void {
    if (!this.threads.includes(dead)) return; // stopped on purpose
    this.threads = this.threads.filter((t) => t !== dead);
    if (this.queue.length) this.refill(this.spawn());
  }

  /** Stops every thread (tests); the next job starts afresh. */
  async stop(): Promise<void> {
    const threads = this.threads;
    this.threads = [];
    for (const p of this.queue.splice(0)) p.reject(new Error('password hasher stopped'));
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

export const hasherPool = new HasherPool();
