// @ts-check
/**
 * The shop's settings, read once from the environment. Every variable is listed
 * here and in README.md; nothing else in the app reads process.env, so a test
 * can run several shops in one process, each with its own environment.
 */

/**
 * @typedef {object} ShopConfig
 * @property {'latchkey' | 'clerk'} authSdk        which middleware verifies tokens (AUTH_SDK)
 * @property {string} apiUrl                       Latchkey's URL (LATCHKEY_API_URL, or CLERK_API_URL)
 * @property {string} secretKey                    the instance's secret key (LATCHKEY_SECRET_KEY, or CLERK_SECRET_KEY)
 * @property {string | undefined} publishableKey   CLERK_PUBLISHABLE_KEY (AUTH_SDK=clerk only)
 * @property {string | undefined} webhookSecret    the endpoint's whsec_… (LATCHKEY_WEBHOOK_SECRET); unset → the route answers 500
 * @property {string} databaseUrl                  the shop's own PostgreSQL database (DATABASE_URL)
 * @property {string | undefined} smtpUrl          SMTP_URL; unset → emails are written to the log instead
 * @property {string} mailFrom                     MAIL_FROM
 * @property {number} port                         PORT
 * @property {string | undefined} nodeEnv          NODE_ENV ("development" enables ADMIN_EMAIL)
 * @property {string | undefined} adminEmails      ADMIN_EMAIL, a comma list (development only)
 * @property {boolean} revocationCheck             LATCHKEY_REVOCATION_CHECK (on by default; AUTH_SDK=latchkey)
 * @property {number} revocationIntervalMs         LATCHKEY_REVOCATION_INTERVAL_MS
 * @property {number} workerPollMs                 WEBHOOK_WORKER_POLL_MS: how often the inbox is looked at when idle
 * @property {number} retryBaseMs                  WEBHOOK_RETRY_BASE_MS: the first retry's delay; doubles per attempt
 * @property {number} retryMaxMs                   WEBHOOK_RETRY_MAX_MS: the longest delay between attempts
 * @property {number} maxAttempts                  WEBHOOK_MAX_ATTEMPTS: then the row is parked for a person to look at
 * @property {NodeJS.ProcessEnv} env               the environment it came from
 */

export class ConfigError extends Error {
  /** @param {string[]} problems */
  constructor(problems) {
    super(`The shop's environment is incomplete:\n  - ${problems.join('\n  - ')}\n(see examples/express-shop/README.md)`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/**
 * @param {string | undefined} value
 * @param {number} fallback
 * @param {string} name
 * @param {string[]} problems
 */
function integer(value, fallback, name, problems) {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) {
    problems.push(`${name} must be a non-negative integer (got ${JSON.stringify(value)})`);
    return fallback;
  }
  return n;
}

/**
 * @param {string | undefined} value
 * @param {boolean} fallback
 * @param {string} name
 * @param {string[]} problems
 */
function flag(value, fallback, name, problems) {
  if (value === undefined || value === '') return fallback;
  if (/^(1|true|on|yes)$/i.test(value)) return true;
  if (/^(0|false|off|no)$/i.test(value)) return false;
  problems.push(`${name} must be on or off (got ${JSON.stringify(value)})`);
  return fallback;
}

/**
 * Reads and checks the environment; throws a ConfigError listing every problem at once.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {ShopConfig}
 */
export function loadConfig(env = process.env) {
  /** @type {string[]} */
  const problems = [];
  const authSdk = env.AUTH_SDK || 'latchkey';
  if (authSdk !== 'latchkey' && authSdk !== 'clerk') problems.push(`AUTH_SDK must be latchkey or clerk (got ${JSON.stringify(authSdk)})`);

  // Clerk's names work in both modes, so an app moving from Clerk keeps its .env.
  const apiUrl = env.LATCHKEY_API_URL || env.CLERK_API_URL || '';
  const secretKey = env.LATCHKEY_SECRET_KEY || env.CLERK_SECRET_KEY || '';
  if (!apiUrl) problems.push('LATCHKEY_API_URL (or CLERK_API_URL) is required: the URL of your Latchkey server');
  if (!secretKey) problems.push('LATCHKEY_SECRET_KEY (or CLERK_SECRET_KEY) is required: the instance secret key sk_…');
  const publishableKey = env.CLERK_PUBLISHABLE_KEY || undefined;
  if (authSdk === 'clerk' && !publishableKey) problems.push('CLERK_PUBLISHABLE_KEY is required with AUTH_SDK=clerk');

  const databaseUrl = env.DATABASE_URL || '';
  if (!databaseUrl) problems.push('DATABASE_URL is required: a PostgreSQL database for the shop (postgres://…)');

  const config = {
    authSdk: /** @type {'latchkey' | 'clerk'} */ (authSdk),
    apiUrl,
    secretKey,
    publishableKey,
    webhookSecret: env.LATCHKEY_WEBHOOK_SECRET || env.CLERK_WEBHOOK_SIGNING_SECRET || env.CLERK_WEBHOOK_SECRET || undefined,
    databaseUrl,
    smtpUrl: env.SMTP_URL || undefined,
    mailFrom: env.MAIL_FROM || 'Latchkey Shop <shop@example.com>',
    port: integer(env.PORT, 3000, 'PORT', problems),
    nodeEnv: env.NODE_ENV || undefined,
    adminEmails: env.ADMIN_EMAIL || undefined,
    revocationCheck: flag(env.LATCHKEY_REVOCATION_CHECK, true, 'LATCHKEY_REVOCATION_CHECK', problems),
    revocationIntervalMs: integer(env.LATCHKEY_REVOCATION_INTERVAL_MS, 5_000, 'LATCHKEY_REVOCATION_INTERVAL_MS', problems),
    workerPollMs: integer(env.WEBHOOK_WORKER_POLL_MS, 1_000, 'WEBHOOK_WORKER_POLL_MS', problems),
    retryBaseMs: integer(env.WEBHOOK_RETRY_BASE_MS, 2_000, 'WEBHOOK_RETRY_BASE_MS', problems),
    retryMaxMs: integer(env.WEBHOOK_RETRY_MAX_MS, 15 * 60_000, 'WEBHOOK_RETRY_MAX_MS', problems),
    maxAttempts: integer(env.WEBHOOK_MAX_ATTEMPTS, 12, 'WEBHOOK_MAX_ATTEMPTS', problems),
    env,
  };
  if (config.maxAttempts < 1) problems.push('WEBHOOK_MAX_ATTEMPTS must be at least 1');
  if (problems.length) throw new ConfigError(problems);
  return config;
}
