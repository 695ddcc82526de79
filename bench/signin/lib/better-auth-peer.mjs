#!/usr/bin/env node
// Better Auth as a benchmark peer, in its own process: its own SQLite file (better-sqlite3),
// schema by programmatic getMigrations, served by toNodeHandler on node:http. Rate limiter and
// telemetry off; NODE_ENV=production is set by the parent. Prints "READY <port>" when listening.
// Usage: node better-auth-peer.mjs <dataDir>
import { createServer } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';

const dataDir = process.argv[2];
const db = new Database(join(dataDir, 'better-auth.sqlite'));
db.pragma('journal_mode = WAL');
const options = {
  database: db,
  secret: 'bench-secret-bench-secret-bench-secret-0123456789',
  baseURL: 'http://127.0.0.1',
  trustedOrigins: ['http://localhost:3000'],
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
};
const { runMigrations } = await getMigrations(options);
await runMigrations();
const auth = betterAuth(options);
const server = createServer(toNodeHandler(auth));
server.listen(0, '127.0.0.1', () => process.stdout.write(`READY ${server.address().port}\n`));
process.on('SIGTERM', () => process.exit(0));
