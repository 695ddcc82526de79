// The bench side of the receiver: starts receiver-process.mjs, hands it the endpoints' secrets,
// and pulls its records into one growing log of deliveries.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export async function startReceiver() {
  const child = fork(fileURLToPath(new URL('./receiver-process.mjs', import.meta.url)), [], {
    serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map();
  let nextId = 0;
  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('receiver did not start in 10 s')), 10_000);
    child.once('exit', (code) => reject(new Error(`receiver exited (${code})`)));
    child.on('message', (m) => {
      if (m.ready) { clearTimeout(t); resolve(m.port); return; }
      waiting.get(m.id)?.(m);
      waiting.delete(m.id);
    });
  });
  const ask = (msg) => new Promise((resolve) => {
    const id = nextId++;
    waiting.set(id, resolve);
    child.send({ ...msg, id });
  });

  // The delivery log, oldest first: endpoint index, sequence, arrival ms, envelope timestamp ms.
  const log = { ep: [], seq: [], arrival: [], ts: [] };
  let stats = null;
  return {
    pid: child.pid,
    url: (ep) => `http://127.0.0.1:${port}/e/${ep}`,
    log,
    stats: () => stats,
    setSecret: (endpoint, secret) => ask({ cmd: 'secret', endpoint, secret }),
    /** Pulls what arrived since the last pull into `log`; returns how many. */
    async pull() {
      const m = await ask({ cmd: 'take' });
      const r = m.records;
      for (let i = 0; i < r.length; i += 4) {
        log.ep.push(r[i]);
        log.seq.push(r[i + 1]);
        log.arrival.push(r[i + 2]);
        log.ts.push(r[i + 3]);
      }
      stats = m.stats;
      return r.length / 4;
    },
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.send({ cmd: 'close' });
      const t = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(t);
    },
  };
}
