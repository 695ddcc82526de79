#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { systemClock } from '../clock/clock.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { ValidationErrors } from '../http/errors.js';
import { validate } from '../http/body.js';
import { Keyring, rotateSigningKey } from '../keys/keyring.js';
import { publicKeyPem } from '../keys/signing-key.js';
import { createLatchkey } from '../latchkey.js';
import { preparePasswordStrength } from '../passwords/strength.js';
import { createUserSchema } from '../users/schemas.js';
import { createUser } from '../users/users.js';
import { auditLogs } from './audit-logs.js';
import { jwtTemplates } from './jwt-templates.js';
import { roles } from './roles.js';
import { OPERATOR, UsageError, withStorage } from './shared.js';
import { webhooks } from './webhooks.js';

const HELP = `latchkey: self-hosted auth server

Usage:
  latchkey start                 run the server (migrates and bootstraps first)
  latchkey migrate               bring the database schema up to date, then exit
  latchkey keys rotate           new signing key now; the old one stays in the JWKS
                                 until the last token it signed has expired
  latchkey users create --email <address> [--password <pw>] [--first-name <n>]
                        [--last-name <n>] [--username <u>]
  latchkey webhooks create --url <url> [--events user.created,user.deleted,…]
                           [--description <text>] [--rate-limit <per second>]
  latchkey webhooks update <endpoint id> [--url <url>] [--events <types>|all]
                           [--description <text>] [--rate-limit <per second>|none]
                           [--enabled true|false]
  latchkey webhooks list
  latchkey webhooks rotate-secret <endpoint id>
                                 new secret now; the old one keeps signing for 24 h
  latchkey webhooks delete <endpoint id>
  latchkey roles list
  latchkey roles create <key> --name <name> [--description <text>] [--permissions a:b,c:d]
  latchkey roles update <key> [--name <name>] [--description <text>] [--permissions …]
  latchkey roles delete <key>    refused while users hold it or a setting names it
  latchkey roles preset marketplace|community
                                 add customer/store_owner/admin or user/moderator/admin
  latchkey jwt-templates list
  latchkey jwt-templates create <name> --claims '<json>' | --claims-file <path>
                                [--lifetime <s>] [--aud <aud>] [--clock-skew <s>]
  latchkey jwt-templates update <template id> [--name <n>] [--claims …] [--lifetime …] …
  latchkey jwt-templates delete <template id>
  latchkey audit-logs export [--since <time>] [--until <time>] [--types a,b]
                             [--target <id>] [--actor <id>]   JSON lines on stdout
  latchkey print-config          print the env vars an app needs (incl. CLERK_JWT_KEY)

Configuration comes from the environment: see README.md.`;

async function start(config: Config): Promise<void> {
  const lk = await createLatchkey(config, { origin: OPERATOR });
  const port = await lk.listen();
  // Load the password-strength dictionaries now (~0.3 s) rather than during the first sign-up.
  setImmediate(preparePasswordStrength);
  const base = config.publicUrl;
  const lines = [
    '',
    `  Latchkey is running on http://${config.host}:${port}  (issuer ${base})`,
    `  Storage:          ${lk.storage.dialect === 'postgres' ? 'PostgreSQL' : config.sqlitePath}`,
    `  Publishable key:  ${lk.boot.publishableKey}`,
    lk.boot.newSecretKey
      ? `  Secret key:       ${lk.boot.newSecretKey}\n                    (shown once; also in ${join(config.dataDir, 'keys.env')}, mode 600)`
      : `  Secret key:       in ${join(config.dataDir, 'keys.env')} (written at first start)`,
    `  Backend API:      ${base}/v1`,
    `  Discovery:        ${base}/.well-known/openid-configuration`,
    `  JWKS:             ${base}/.well-known/jwks.json`,
    `  App config:       npm run -s latchkey -- print-config`,
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  const stop = async (signal: string) => {
    lk.services.logger.info({ signal }, 'shutting down');
    await lk.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
}

function readKeysEnv(config: Config): Record<string, string> {
  const file = join(config.dataDir, 'keys.env');
  if (!existsSync(file)) return {};
  return Object.fromEntries(
    readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

async function printConfig(config: Config): Promise<void> {
  await withStorage(config, async ({ db }, boot) => {
    const keyring = await Keyring.load(db, systemClock, config.encryptionKey);
    const keys = readKeysEnv(config);
    const secret = keys.LATCHKEY_SECRET_KEY ?? '<the secret key printed at first start>';
    const pem = publicKeyPem(keyring.activeKey).trim();
    process.stdout.write([
      '# Latchkey',
      `LATCHKEY_API_URL=${config.publicUrl}`,
      `LATCHKEY_PUBLISHABLE_KEY=${boot.publishableKey}`,
      `LATCHKEY_SECRET_KEY=${secret}`,
      '# For apps on @clerk/backend / @clerk/express',
      `CLERK_API_URL=${config.publicUrl}`,
      `CLERK_PUBLISHABLE_KEY=${boot.publishableKey}`,
      `CLERK_SECRET_KEY=${secret}`,
      '# Networkless verification (optional; must be updated after `latchkey keys rotate`)',
      `CLERK_JWT_KEY="${pem}"`,
      '',
    ].join('\n'));
  });
}

async function rotate(config: Config): Promise<void> {
  await withStorage(config, async ({ db }) => {
    const { newKid, retiredKids } = await rotateSigningKey(db, systemClock, config.encryptionKey);
    process.stdout.write(`New signing key ${newKid} is active (running servers pick it up within 5 s).\n`);
    for (const kid of retiredKids) {
      process.stdout.write(`Retired ${kid}: it stays in the JWKS until the last token it signed has expired.\n`);
    }
  });
}

async function usersCreate(config: Config, args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      email: { type: 'string', multiple: true },
      password: { type: 'string' },
      'first-name': { type: 'string' },
      'last-name': { type: 'string' },
      username: { type: 'string' },
    },
  });
  const input = validate(createUserSchema, {
    email_address: values.email,
    password: values.password,
    first_name: values['first-name'],
    last_name: values['last-name'],
    username: values.username,
  });
  await withStorage(config, async ({ db }) => {
    const rec = await createUser(db, systemClock, input);
    process.stdout.write(`Created ${rec.user.id}\n`);
  });
}

async function main(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  const config = loadConfig();
  switch (command) {
    case 'start':
      return start(config);
    case 'migrate':
      return withStorage(config, async () => process.stdout.write('Database is up to date.\n') as unknown as void);
    case 'print-config':
      return printConfig(config);
    case 'keys':
      if (sub === 'rotate') return rotate(config);
      break;
    case 'users':
      if (sub === 'create') return usersCreate(config, rest);
      break;
    case 'webhooks':
      return webhooks(config, sub, rest);
    case 'roles':
      return roles(config, sub, rest);
    case 'jwt-templates':
      return jwtTemplates(config, sub, rest);
    case 'audit-logs':
      return auditLogs(config, sub, rest);
  }
  throw new UsageError(`Unknown command: ${argv.join(' ')}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError) process.stderr.write(`${err.message}\n\n${HELP}\n`);
  else if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else if (err instanceof LatchkeyError) process.stderr.write(`${err.longMessage}\n`);
  else if (err instanceof ValidationErrors) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`latchkey: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError ? 2 : 1);
});
