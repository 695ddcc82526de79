// The webhook receiver, run as its own process (fork, IPC with advanced serialization) so that its
// work does not share an event loop with the producer or the server. POST /e/<n> is endpoint n.
// Each delivery is answered 204 at once; what it records is compact: endpoint, sequence, arrival
// (Date.now() when the body was complete) and the envelope's `timestamp` (the server's Date.now()
// when the event was recorded, inside the committing transaction). Same machine, same clock:
// latency = arrival - timestamp. It checks the body is the event envelope, and verifies the
// signature (standardwebhooks, `webhook-*` headers) of the first delivery and every SAMPLE-th after
// per endpoint, so the bench proves the deliveries are real without paying HMAC on all of them.
import http from 'node:http';
import { Webhook } from 'standardwebhooks';

const SAMPLE = 50;
const verifiers = new Map(); // endpoint index -> Webhook
const perEndpoint = new Map(); // endpoint index -> requests seen
const seen = new Set(); // `${ep}:${sequence}`: the same event twice to one endpoint is a duplicate
let records = [];
const stats = { requests: 0, duplicates: 0, badRequests: 0, verified: 0, badSignatures: 0, unverifiable: 0 };

const server = http.createServer((req, res) => {
  const m = /^\/e\/(\d+)$/.exec(req.url ?? '');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const arrival = Date.now();
    const body = Buffer.concat(chunks).toString('utf8');
    let event;
    try {
      event = JSON.parse(body);
    } catch { /* counted below */ }
    if (req.method !== 'POST' || !m || event?.object !== 'event' || !Number.isInteger(event.sequence) || !Number.isInteger(event.timestamp)) {
      stats.badRequests++;
      res.writeHead(400).end();
      return;
    }
    res.writeHead(204).end();
    const ep = Number(m[1]);
    stats.requests++;
    const n = (perEndpoint.get(ep) ?? 0) + 1;
    perEndpoint.set(ep, n);
    const key = `${ep}:${event.sequence}`;
    if (seen.has(key)) stats.duplicates++;
    else seen.add(key);
    records.push(ep, event.sequence, arrival, event.timestamp);
    if (n === 1 || n % SAMPLE === 0) verify(ep, body, req.headers);
  });
});
server.keepAliveTimeout = 60_000;

function verify(ep, body, headers) {
  const wh = verifiers.get(ep);
  if (!wh) { stats.unverifiable++; return; }
  try {
    wh.verify(body, {
      'webhook-id': headers['webhook-id'], 'webhook-timestamp': headers['webhook-timestamp'], 'webhook-signature': headers['webhook-signature'],
    });
    // Clerk's verifyWebhook reads the svix-* copies: they must carry the same signature.
    if (headers['svix-signature'] !== headers['webhook-signature'] || headers['svix-id'] !== headers['webhook-id']) throw new Error('svix headers differ');
    stats.verified++;
  } catch {
    stats.badSignatures++;
  }
}

process.on('message', (msg) => {
  if (msg.cmd === 'secret') {
    verifiers.set(msg.endpoint, new Webhook(msg.secret));
    process.send({ id: msg.id });
  } else if (msg.cmd === 'take') {
    // Everything recorded since the last take, as one Float64Array: [ep, seq, arrival, ts]*.
    const out = Float64Array.from(records);
    records = [];
    process.send({ id: msg.id, records: out, stats: { ...stats, pid: process.pid } });
  } else if (msg.cmd === 'close') {
    server.closeAllConnections?.();
    server.close(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));

server.listen(0, '127.0.0.1', () => process.send({ ready: true, port: server.address().port }));
