// Event producers: each request is a Backend API PATCH /v1/users/{id}/metadata, which commits one
// user.updated event (and its webhook messages) in one transaction. Users are cycled round-robin
// from a large pool, so one user's next event comes long after its last was delivered and the
// per-user ordering rule of the delivery queue never holds an event back.
import http from 'node:http';
import { performance } from 'node:perf_hooks';

export function producer(server, users) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const auth = `Bearer ${server.secretKey}`;
  let cursor = 0;
  let counter = 0;

  /**
   * One PATCH; resolves to [status | 0 on a network error, latency ms]. Never rejects. With `acks`,
   * a 2xx answer's wall-clock time is kept under `${user id}:${updated_at}` (the pair the event's
   * data carries too): the API answers after the commit, so that time bounds the commit from above.
   */
  function patch(acks) {
    const id = users[cursor++ % users.length];
    const body = JSON.stringify({ public_metadata: { bench: ++counter } });
    const started = performance.now();
    return new Promise((resolve) => {
      const req = http.request({
        host: '127.0.0.1', port: server.port, method: 'PATCH', path: `/v1/users/${id}/metadata`, agent,
        headers: { authorization: auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      }, (res) => {
        const chunks = [];
        if (acks) res.on('data', (c) => chunks.push(c));
        else res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (acks && status >= 200 && status < 300) {
            const at = Date.now();
            try { acks.set(`${id}:${JSON.parse(Buffer.concat(chunks).toString('utf8')).updated_at}`, at); } catch { /* not counted */ }
          }
          resolve([status, performance.now() - started]);
        });
        res.on('error', () => resolve([0, performance.now() - started]));
      });
      req.on('error', () => resolve([0, performance.now() - started]));
      req.end(body);
    });
  }

  const tally = () => ({ ok: 0, non2xx: 0, errors: 0, latencies: [], statuses: {} });
  const count = (t, [status, ms]) => {
    if (status >= 200 && status < 300) { t.ok++; t.latencies.push(ms); }
    else if (status === 0) t.errors++;
    else { t.non2xx++; t.statuses[status] = (t.statuses[status] ?? 0) + 1; }
  };

  return {
    /**
     * Open loop: request i is sent at t0 + i/rate whether or not earlier ones have answered
     * (a 1 ms timer sends whatever is due). `lagMs` is how late the worst send left.
     */
    async paced({ rate, durationMs, acks }) {
      const t = tally();
      const total = Math.round((rate * durationMs) / 1000);
      const inflight = new Set();
      let sent = 0;
      let lagMs = 0;
      const t0 = performance.now();
      const wall0 = Date.now();
      await new Promise((resolve) => {
        const tick = () => {
          const now = performance.now();
          const due = Math.min(total, Math.floor(((now - t0) * rate) / 1000) + 1);
          for (; sent < due; sent++) {
            lagMs = Math.max(lagMs, now - (t0 + (sent * 1000) / rate));
            const p = patch(acks).then((r) => { count(t, r); inflight.delete(p); });
            inflight.add(p);
          }
          if (sent < total) setTimeout(tick, 1);
          else resolve();
        };
        tick();
      });
      const sendSec = (performance.now() - t0) / 1000;
      await Promise.all(inflight);
      return { ...t, sent, wall0, sendRate: sent / sendSec, lagMs };
    },

    /** Closed loop: `connections` requests always in flight, for `durationMs` or until `maxRequests` were sent. */
    async closed({ connections, durationMs = Infinity, maxRequests = Infinity }) {
      const t = tally();
      const t0 = performance.now();
      const wall0 = Date.now();
      const end = t0 + durationMs;
      let sent = 0;
      await Promise.all(Array.from({ length: connections }, async () => {
        while (performance.now() < end && sent < maxRequests) {
          sent++;
          count(t, await patch());
        }
      }));
      return { ...t, sent, wall0, seconds: (performance.now() - t0) / 1000 };
    },

    close: () => agent.destroy(),
  };
}
