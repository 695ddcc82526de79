#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { systemClock } from '../clock/clock.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { ValidationErrors } from '../http/errors.js';
import { validate } from '../http/body.js';
import { SecretKeyVerifier } from '../instance/api-keys.js';
import { findSecretKey, keysFileNotice, type SecretKeyLookup } from '../instance/keys-file.js';
import { Keyring, rotateSigningKey } from '../keys/keyring.js';
import { publicKeyPem } from '../keys/signing-key.js';
import { createLatchkey } from '../latchkey.js';
import { preparePasswordStrength } from '../passwords/strength.js';
import { createUserSchema } from '../users/schemas.js';
import { createUser } from '../users/users.js';
import { auditLogs } from './audit-logs.js';
import { jwtTemplates } from './jwt-templates.js';
import { roles } from './roles.js';
import { noArguments, OPERATOR, UsageError, withStorage } from './shared.js';
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
  latchkey help | <command> --help | -h
                                 print this, and do nothing else

Configuration comes from the environment: see README.md.`;

async function start(config: Config): Promise<void> {
  const lk = await createLatchkey(config, { origin: OPERATOR });
  const port = await lk.listen();
  // Load the password-strength dictionaries now (~0.3 s) rather than during the first sign-up.
  setImmediate(preparePasswordStrength);
  const base = config.publicUrl;
  const { boot } = lk;
  const notice = boot.keysFile && keysFileNotice(config.dataDir, boot.keysFile);
  const accepted = (key: string) => lk.services.secretKeys.identify(key) !== undefined;
  const lines = [
    '',
    `  Latchkey is running on http://${config.host}:${port}  (issuer ${base})`,
    `  Storage:          ${lk.storage.dialect === 'postgres' ? 'PostgreSQL' : config.sqlitePath}`,
    `  Publishable key:  ${boot.publishableKey}`,
    boot.newSecretKey
      ? `  Secret key:       ${boot.newSecretKey}\n                    (shown once; also in ${boot.keysFile}, mode 600)`
      : `  Secret key:       ${whereIsTheSecretKey(config, findSecretKey(config.dataDir, boot.instance.id, accepted))}`,
    ...(notice ? [`  ${notice.replaceAll('\n', '\n  ')}`] : []),
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

/** The start banner's word on the secret key of an instance that existed already. */
function whereIsTheSecretKey(config: Config, lookup: SecretKeyLookup): string {
  if (lookup.found) return `in ${lookup.file}`;
  const others = lookup.others.length
    ? `; ${lookup.others.join(' and ')} ${lookup.others.length === 1 ? 'holds' : 'hold'} another instance's key, or a revoked one`
    : '';
  return `not in ${config.dataDir} (it was printed at first start${others})`;
}

async function printConfig(config: Config): Promise<void> {
  await withStorage(config, async ({ db }, boot) => {
    const keyring = await Keyring.load(db, systemClock, config.encryptionKey);
    // Only a secret key this instance accepts: the data dir may hold another instance's.
    const verifier = new SecretKeyVerifier(db);
    await verifier.reload();
    const lookup = findSecretKey(config.dataDir, boot.instance.id, (key) => verifier.identify(key) !== undefined);
    for (const file of lookup.found ? [] : lookup.others) {
      process.stderr.write(`latchkey: ${file} holds a secret key, but not a secret key of this instance (another instance's, or revoked): it is left out.\n`);
    }
    const secret = lookup.found ? lookup.secretKey : '<the secret key printed at first start>';
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

/** `--help` or `-h` anywhere (before a `--`) asks for the usage, whatever the command: nothing else is done. */
function asksForHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

/** What parseArgs throws for an unknown option, a missing value or a stray positional: a usage error too. */
function isArgumentError(err: unknown): err is Error {
  const code = (err as { code?: unknown } | null)?.code;
  return err instanceof Error && typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

async function main(argv: string[]): Promise<void> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || asksForHelp(argv)) {
    process.stdout.write(`${HELP}\n`);
    return;
  }
  // Arguments are checked before the configuration is loaded, so a mistyped command
  // says so even where the environment is not set up.
  switch (command) {
    case 'start':
      noArguments('start', argv.slice(1));
      return start(loadConfig());
    case 'migrate':
      noArguments('migrate', argv.slice(1));
      return withStorage(loadConfig(), async () => process.stdout.write('Database is up to date.\n') as unknown as void);
    case 'print-config':
      noArguments('print-config', argv.slice(1));
      return printConfig(loadConfig());
    case 'keys':
      if (sub !== 'rotate') break;
      noArguments('keys rotate', rest);
      return rotate(loadConfig());
    case 'users':
      if (sub === 'create') return usersCreate(loadConfig(), rest);
      break;
    case 'webhooks':
      return webhooks(loadConfig(), sub, rest);
    case 'roles':
      return roles(loadConfig(), sub, rest);
    case 'jwt-templates':
      return jwtTemplates(loadConfig(), sub, rest);
    case 'audit-logs':
      return auditLogs(loadConfig(), sub, rest);
  }
  throw new UsageError(`Unknown command: ${argv.join(' ')}`);
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof UsageError || isArgumentError(err)) process.stderr.write(`${err.message}\n\n${HELP}\n`);
  else if (err instanceof ConfigError) process.stderr.write(`${err.message}\n`);
  else if (err instanceof LatchkeyError) process.stderr.write(`${err.longMessage}\n`);
  else if (err instanceof ValidationErrors) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`latchkey: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(err instanceof UsageError || isArgumentError(err) ? 2 : 1);
});
