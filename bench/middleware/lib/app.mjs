// One Express 5 app for bench/middleware, in a process of its own (forked by apps.mjs), so that it
// does not share an event loop with the load generator. `node app.mjs <variant>`:
//   none      GET /api/me answers { userId: null } and reads nothing: the cost of Express itself.
//   latchkey  app.use(latchkeyMiddleware({ jwtKey })) + requireAuth() from @latchkey/express.
//   clerk     app.use(clerkMiddleware({ jwtKey, secretKey, publishableKey })) from @clerk/express, and a
//             guard answering 401 JSON when getAuth(req).userId is null (Clerk's own requireAuth redirects).
// Both auth variants verify networkless with the same PEM (BENCH_JWT_KEY). Every fetch the process
// makes is counted (IPC 'stats'), so the bench can show that none went out while it measured.
// Listens on 127.0.0.1, a free port, sent to the parent as { port } once listening.
import express from 'express';

const variant = process.argv[2];
const { BENCH_JWT_KEY: jwtKey, BENCH_SECRET_KEY: secretKey, BENCH_PUBLISHABLE_KEY: publishableKey } = process.env;

// Count outgoing fetches (both SDKs would use the global fetch for JWKS or the Backend API).
let fetches = 0;
const realFetch = globalThis.fetch;
globalThis.fetch = (...args) => { fetches++; return realFetch(...args); };

const app = express();

if (variant === 'none') {
  app.get('/api/me', (_req, res) => { res.json({ userId: null }); });
} else if (variant === 'latchkey') {
  const { latchkeyMiddleware, requireAuth } = await import('@latchkey/express');
  app.use(latchkeyMiddleware({ jwtKey }));
  app.get('/api/me', requireAuth(), (req, res) => { res.json({ userId: req.auth.userId }); });
} else if (variant === 'clerk') {
  const { clerkMiddleware, getAuth } = await import('@clerk/express');
  app.use(clerkMiddleware({ jwtKey, secretKey, publishableKey }));
  // The same answers as @latchkey/express's requireAuth (Clerk says only "signed out"; a token that was sent is "invalid").
  const requireAuth = (req, res, next) => {
    if (getAuth(req).userId) return next();
    if (req.headers.authorization) res.status(401).json({ error: 'Invalid authentication token', message: 'Token has expired or is malformed' });
    else res.status(401).json({ error: 'Authentication required', message: 'Please sign in to access this resource' });
  };
  app.get('/api/me', requireAuth, (req, res) => { res.json({ userId: getAuth(req).userId }); });
} else {
  throw new Error(`Unknown variant ${JSON.stringify(variant)} (none | latchkey | clerk)`);
}

const server = app.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }));
process.on('message', (m) => { if (m === 'stats') process.send({ fetches }); });
// exit (not close): keep-alive sockets would hold close() open; exit also lets --cpu-prof write its profile
process.on('SIGTERM', () => process.exit(0));
process.on('disconnect', () => process.exit(0));
