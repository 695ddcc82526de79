import { invalidParam, LatchkeyError } from '../errors/latchkey-error.js';
import { HasherBusyError, hasherPool, type HashJob } from './hasher-pool.js';

/**
 * argon2id with OWASP's minimum profile (m=19 MiB, t=2, p=1): about 12 ms per
 * hash on these machines, see bench/ and reference/perf-anchors.md.
 */
// algorithm 2 is Algorithm.Argon2id (a const enum, which verbatimModuleSyntax cannot import).
export const ARGON2_PARAMS = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;

/** Runs a hash on the hasher threads (hasher-pool.ts), never on the event loop; 503 when too many are waiting. */
async function onHashers(job: HashJob): Promise<string | boolean> {
  try {
    return await hasherPool.run(job);
  } catch (err) {
    if (err instanceof HasherBusyError) throw hashersBusy();
    throw err;
  }
}

/** What the caller hears when password hashing is saturated: busy, retry in a second. */
export const hashersBusy = () => new LatchkeyError('unavailable', 'server_busy', 'Too busy',
  'Too many sign-ins are being checked right now; try again in a second.', { retry_after_seconds: 1 });

export async function hashPassword(password: string): Promise<string> {
  return (await onHashers({ op: 'hash', password, options: ARGON2_PARAMS })) as string;
}

/**
 * Verifies against a stored argon2 digest (ours, or one imported as argon2i/argon2id).
 * A digest that cannot be read is a mismatch; a hasher that fails throws, so it is
 * never counted as a wrong password.
 */
export async function verifyPassword(digest: string, password: string): Promise<boolean> {
  return (await onHashers({ op: 'verify', digest, password })) as boolean;
}

/** Length rules; `skip_password_checks` bypasses them for migrations, as in Clerk. */
export function checkPasswordRules(password: string, param = 'password'): void {
  if (password.length < PASSWORD_MIN) {
    throw invalidParam(param, `Passwords must be ${PASSWORD_MIN} characters or more.`, 'form_password_length_too_short');
  }
  if (password.length > PASSWORD_MAX) {
    throw invalidParam(param, `Passwords must be ${PASSWORD_MAX} characters or fewer.`, 'form_password_length_too_long');
  }
}

/** Hashers whose digests Latchkey can verify, for importing users with `password_digest`. */
export const IMPORTABLE_HASHERS = ['argon2id', 'argon2i'] as const;

export function checkImportedDigest(hasher: string, digest: string): void {
  if (!(IMPORTABLE_HASHERS as readonly string[]).includes(hasher)) {
    throw invalidParam('password_hasher', `Latchkey can import ${IMPORTABLE_HASHERS.join(' and ')} digests; "${hasher}" is not supported.`);
  }
  const params = /^\$argon2i?d?\$v=\d+\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(digest);
  if (!digest.startsWith(`$${hasher}$`) || !params) {
    throw invalidParam('password_digest', `password_digest is not a PHC-format ${hasher} digest.`);
  }
  // Verifying runs with the digest's own cost: bound it so one sign-in cannot exhaust the server.
  const [m, t, p] = params.slice(1).map(Number) as [number, number, number];
  if (m > 262_144 || t > 16 || p > 8) {
    throw invalidParam('password_digest', 'password_digest asks for more than m=262144 KiB, t=16, p=8; rehash it with lower cost.');
  }
}
