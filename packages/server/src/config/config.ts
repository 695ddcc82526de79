import { isIP } from 'node:net';
import { resolve, join } from 'node:path';
import { z } from 'zod';
import { rateLimitsOverrideSchema, type RateLimitsOverride } from '../abuse/rate-limits.js';
import { settingsPatchSchema, type SettingsPatch } from '../instance/settings.js';
import { createRoleSchema, type CreateRoleInput } from '../roles/catalog.js';
import { PRESET_NAMES, type PresetName } from '../roles/presets.js';

export interface Config {
  port: number;
  host: string;
  /** The issuer: used byte for byte in every token and in discovery. No trailing slash. */
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | undefined;
  sqlitePath: string;
  encryptionKey: string | undefined;
  production: boolean;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Frontend API rate-limit buckets changed by LATCHKEY_RATE_LIMITS (JSON). */
  rateLimits?: RateLimitsOverride | undefined;
  /** Instance settings applied at every start (LATCHKEY_INSTANCE_SETTINGS, JSON); undefined: none. */
  instanceSettings?: SettingsPatch | undefined;
  /** LATCHKEY_SMTP_URL: where end-user email goes (smtp:// or smtps://); unset keeps it in the development outbox. */
  smtpUrl: string | undefined;
  /** LATCHKEY_MAIL_FROM; unset means `Latchkey <no-reply@<public URL host>>` (mail/smtp-mailer.ts). */
  mailFrom: string | undefined;
  webhooks: WebhookConfig;
  /** LATCHKEY_TRUSTED_PROXIES: addresses/CIDRs whose X-Forwarded-For gives the client's address (http/request-origin.ts). */
  trustedProxies: string[];
  /** LATCHKEY_ROLE_PRESET: a ready-made role set applied at start (roles/presets.ts). */
  rolePreset?: PresetName | undefined;
  /** LATCHKEY_ROLES (JSON array): roles created or brought up to date at every start. */
  roles?: CreateRoleInput[] | undefined;
  /** LATCHKEY_HASHER_THREADS: password-hashing threads (passwords/hasher-pool.ts); undefined: one per core, at most 16. */
  hasherThreads?: number | undefined;
  /** LATCHKEY_HASHER_PINNING=off: the kernel places the hasher threads instead of one per CPU (passwords/hasher-pool.ts). */
  hasherPinning: boolean;
}

/** How this instance delivers webhooks (webhooks/worker.ts). */
export interface WebhookConfig {
  /** LATCHKEY_WEBHOOK_DELIVERY=off: this instance records events but leaves delivery to the others. */
  deliver: boolean;
  /** LATCHKEY_WEBHOOKS_ALLOW_PRIVATE=true: endpoints may be private, link-local or metadata addresses. */
  allowPrivate: boolean;
  /** LATCHKEY_WEBHOOK_TIMEOUT_MS: one attempt's limit, 15 s by default. */
  timeoutMs: number;
  /** LATCHKEY_WEBHOOK_CONCURRENCY: attempts in flight per instance. */
  concurrency: number;
}

export class ConfigError extends Error {
  constructor(public readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * The public URL is the token issuer, which verifiers compare byte for byte, so it
 * is taken only as typed in its canonical form: origin and path. The URL parser
 * forgives what the issuer would keep (surrounding whitespace, an empty "?" or
 * "#", a backslash for "/", an upper-case host, a default port), so such a value would
 * give tokens an issuer that differs from the URL they are fetched at.
 */
const publicUrl = z.string().superRefine((value, ctx) => {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute URL such as https://auth.example.com' });
    return;
  }
  const canonical = url.origin + url.pathname.replace(/\/+$/, '');
  const writeAs = `write it as "${canonical}" (it is the token issuer, compared byte for byte)`;
  const problem = url.protocol !== 'http:' && url.protocol !== 'https:' ? 'must use http or https'
    : value.endsWith('/') ? 'must not end with "/" (it is the token issuer, compared byte for byte)'
    : url.username || url.password ? 'must not carry credentials'
    : /\s/.test(value) ? `must not contain whitespace: ${writeAs}`
    : value.includes('\\') ? `must not contain a backslash: ${writeAs}`
    : value.includes('?') ? `must not carry a query${url.search ? '' : ', not even an empty "?"'}: ${writeAs}`
    : value.includes('#') ? `must not carry a fragment${url.hash ? '' : ', not even an empty "#"'}: ${writeAs}`
    : value !== canonical ? `must be written in its canonical form: ${writeAs}`
    : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// The messages never quote the value: the URL may carry the SMTP password.
const smtpUrl = z.string().superRefine((value, ctx) => {
  const example = 'such as smtp://user:pass@smtp.example.com:587 or smtps://user:pass@smtp.example.com:465';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.addIssue({ code: 'custom', message: `must be an smtp:// or smtps:// URL ${example}` });
    return;
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    ctx.addIssue({ code: 'custom', message: `must use smtp:// (STARTTLS when offered) or smtps:// (TLS), ${example}` });
  } else if (!url.hostname) {
    ctx.addIssue({ code: 'custom', message: `must name the SMTP server's host, ${example}` });
  }
});

const mailFrom = z.string().trim().superRefine((value, ctx) => {
  const problem = value === '' ? 'must not be blank'
    : /[\r\n]/.test(value) ? 'must be one line'
    : !/[^\s<>@]+@[^\s<>@]+/.test(value) ? 'must contain an email address, e.g. "Acme <no-reply@acme.com>" or no-reply@acme.com'
    : undefined;
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const env = z.object({
  PORT: z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('127.0.0.1'),
  LATCHKEY_PUBLIC_URL: publicUrl.optional(),
  LATCHKEY_DATA_DIR: z.string().min(1).default('.latchkey'),
  LATCHKEY_DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  LATCHKEY_ENCRYPTION_KEY: z.string().min(32, 'must be at least 32 characters (e.g. `openssl rand -base64 32`)').optional(),
  NODE_ENV: z.string().optional(),
  LATCHKEY_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  LATCHKEY_INSTANCE_SETTINGS: z.string().optional(),
  LATCHKEY_RATE_LIMITS: z.string().optional(),
  LATCHKEY_ROLE_PRESET: z.enum(PRESET_NAMES as [PresetName, ...PresetName[]], { message: `must be one of ${PRESET_NAMES.join(', ')}` }).optional(),
  LATCHKEY_ROLES: z.string().optional(),
  LATCHKEY_TRUSTED_PROXIES: z.string().transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
    .pipe(z.array(z.string().refine(validProxy, 'must be a comma-separated list of IP addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1')))
    .optional(),
  LATCHKEY_SMTP_URL: smtpUrl.optional(),
  LATCHKEY_MAIL_FROM: mailFrom.optional(),
  LATCHKEY_WEBHOOK_DELIVERY: z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('on'),
  LATCHKEY_WEBHOOKS_ALLOW_PRIVATE: z.enum(['true', 'false'], { message: 'must be "true" or "false"' }).default('false'),
  LATCHKEY_WEBHOOK_TIMEOUT_MS: z.coerce.number({ message: 'must be a number' }).int('must be an integer')
    .min(100).max(60_000).default(15_000),
  LATCHKEY_WEBHOOK_CONCURRENCY: z.coerce.number({ message: 'must be a number' }).int('must be an integer')
    .min(1).max(1024).default(64),
  // Each hash in flight holds 19 MiB (more for imported digests): a container with less CPU or memory than the host shows sets this.
  LATCHKEY_HASHER_THREADS: z.coerce.number({ message: 'must be a number' }).int('must be an integer').min(1).max(64).optional(),
  LATCHKEY_HASHER_PINNING: z.enum(['on', 'off'], { message: 'must be "on" or "off"' }).default('on'),
}).refine((e) => e.PORT !== 0 || e.LATCHKEY_PUBLIC_URL !== undefined, {
  // The default issuer names PORT, but the port PORT=0 gets is picked only when the server listens.
  path: ['PORT'],
  message: '0 (any free port) needs LATCHKEY_PUBLIC_URL set: the default issuer, http://127.0.0.1:$PORT, cannot name a port picked only when the server listens',
  // Checked beside every other variable's problems, unless PORT or the URL has its own.
  when: ({ issues }) => !issues.some((i) => i.path?.[0] === 'PORT' || i.path?.[0] === 'LATCHKEY_PUBLIC_URL'),
});

/** An IP address, or a CIDR range with a prefix length that fits its family. */
function validProxy(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  const n = Number(bits);
  return /^\d+$/.test(bits) && n <= (family === 4 ? 32 : 128);
}

/** A variable holding a JSON object checked by `schema`, with one message per problem. */
function parseJsonVar<S extends z.ZodType>(name: string, text: string, schema: S, example: string): z.infer<S> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError([`${name}: must be a JSON object, e.g. ${example}`]);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${name}.${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  return parsed.data;
}

/** Reads and validates the configuration, reporting every bad value at once. */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): Config {
  // Empty strings mean "unset": `FOO= latchkey start` should not fail validation.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = env.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const production = e.NODE_ENV === 'production';
  if (production && !e.LATCHKEY_ENCRYPTION_KEY) {
    throw new ConfigError(['LATCHKEY_ENCRYPTION_KEY: is required when NODE_ENV=production (private keys are encrypted with it)']);
  }
  const dataDir = resolve(e.LATCHKEY_DATA_DIR);
  const instanceSettings = e.LATCHKEY_INSTANCE_SETTINGS === undefined ? undefined
    : parseJsonVar('LATCHKEY_INSTANCE_SETTINGS', e.LATCHKEY_INSTANCE_SETTINGS, settingsPatchSchema, '{"session_inactivity_timeout":1800}');
  const rateLimits = e.LATCHKEY_RATE_LIMITS === undefined ? undefined
    : parseJsonVar('LATCHKEY_RATE_LIMITS', e.LATCHKEY_RATE_LIMITS, rateLimitsOverrideSchema, '{"signInPerIp":{"points":100,"durationSec":60}}');
  const roles = e.LATCHKEY_ROLES === undefined ? undefined
    : parseJsonVar('LATCHKEY_ROLES', e.LATCHKEY_ROLES, z.array(createRoleSchema).max(100), '[{"key":"editor","name":"Editor","permissions":["post:edit"]}]');
  return {
    instanceSettings,
    rateLimits,
    rolePreset: e.LATCHKEY_ROLE_PRESET,
    trustedProxies: e.LATCHKEY_TRUSTED_PROXIES ?? [],
    roles,
    hasherThreads: e.LATCHKEY_HASHER_THREADS,
    hasherPinning: e.LATCHKEY_HASHER_PINNING === 'on',
    port: e.PORT,
    host: e.HOST,
    publicUrl: e.LATCHKEY_PUBLIC_URL ?? `http://127.0.0.1:${e.PORT}`,
    dataDir,
    databaseUrl: e.LATCHKEY_DATABASE_URL,
    sqlitePath: join(dataDir, 'latchkey.db'),
    encryptionKey: e.LATCHKEY_ENCRYPTION_KEY,
    production,
    logLevel: e.LATCHKEY_LOG_LEVEL,
    smtpUrl: e.LATCHKEY_SMTP_URL,
    mailFrom: e.LATCHKEY_MAIL_FROM,
    webhooks: {
      deliver: e.LATCHKEY_WEBHOOK_DELIVERY === 'on',
      allowPrivate: e.LATCHKEY_WEBHOOKS_ALLOW_PRIVATE === 'true',
      timeoutMs: e.LATCHKEY_WEBHOOK_TIMEOUT_MS,
      concurrency: e.LATCHKEY_WEBHOOK_CONCURRENCY,
    },
  };
}
