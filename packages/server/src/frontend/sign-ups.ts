import { z } from 'zod';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import { hashPassword } from '../passwords/passwords.js';
import { checkPasswordStrength } from '../passwords/strength.js';
import { readStoredSettings } from '../instance/settings-store.js';
import type { Services } from '../services.js';
import { openSession } from '../sessions/sessions.js';
import type { SignUpTable } from '../storage/schema.js';
import type { ExistingClientRef } from './clients.js';
import type { SignedIn } from './sign-ins.js';
import { buildUser, identifierExists, insertUser } from '../users/users.js';
import { emailAddressHeld } from '../users/email-addresses.js';
import { consumeCode, issueCode, type IssueOptions } from './email-codes.js';
import { serializeMetadata } from '../users/metadata.js';
import { emailAddress } from '../users/schemas.js';

/** A sign-up waits this long for its email code before it is abandoned. */
const SIGN_UP_TTL_MS = 24 * 3600_000;

export const signUpSchema = z.strictObject({
  email_address: emailAddress,
  password: z.string(),
  first_name: z.string().max(256).optional(),
  last_name: z.string().max(256).optional(),
  username: z.string().min(4).max(64).regex(/^[A-Za-z0-9_.-]+$/).transform((u) => u.toLowerCase()).optional(),
  unsafe_metadata: z.record(z.string(), z.unknown()).optional(),
  /** A role the instance lets end users pick (sign_up_roles), e.g. customer or store_owner; else the default role. */
  role: z.string().min(1).max(64).optional(),
});
export type SignUpInput = z.infer<typeof signUpSchema>;

export const signUpJson = (s: SignUpTable) => ({
  object: 'sign_up' as const,
  id: s.id,
  status: s.status,
  email_address: s.email_address,
  first_name: s.first_name,
  last_name: s.last_name,
  username: s.username,
  role: s.role,
  unverified_fields: s.status === 'complete' ? [] : ['email_address'],
  verifications: { email_address: { status: s.status === 'complete' ? 'verified' : 'unverified', strategy: 'email_code' } },
  created_user_id: s.created_user_id,
  created_session_id: s.created_session_id,
  abandon_at: s.expire_at,
});

const roleNotAllowed = (allowed: string[]) =>
  new LatchkeyError('unprocessable', 'role_not_allowed', 'role not allowed',
    allowed.length ? `role must be one of ${allowed.join(', ')}.` : 'This instance does not let users pick a role at sign-up.',
    { param_name: 'role' });

async function sendCode(s: Services, signUp: SignUpTable, opts: IssueOptions = {}): Promise<void> {
  const code = await issueCode(s.db, s.clock, 'sign_up', signUp.id, opts);
  await s.mailer.send({
    to: signUp.email_address,
    subject: `${code} is your verification code`,
    text: `Your verification code is ${code}. It expires in 10 minutes.\n\nIf you did not sign up, ignore this email.`,
    kind: 'verification_code',
  }, s.db);
}

/**
 * Starts a sign-up: checks what can be checked now (password rules, that the
 * address is free), stores the pending sign-up with the password already hashed,
 * and emails a code. The user exists only once the code is verified.
 */
export async function startSignUp(s: Services, clientId: string, input: SignUpInput): Promise<SignUpTable> {
  const settings = s.settings.get();
  const missing = settings.sign_up_required_fields.filter((f) => !input[f]);
  if (missing.length) {
    throw new LatchkeyError('unprocessable', 'form_param_missing', 'is missing', `${missing.join(', ')} must be included.`, { param_name: missing[0] });
  }
  if (input.role !== undefined && !settings.sign_up_roles.includes(input.role)) throw roleNotAllowed(settings.sign_up_roles);
  checkPasswordStrength(input.password, [input.email_address, input.first_name, input.last_name, input.username].filter((v): v is string => !!v),
    settings.password_min_strength);
  if (await emailAddressHeld(s.db, input.email_address.toLowerCase())) throw identifierExists('email_address', 'email address');
  // Checked now as well as at verification, so a taken username cannot waste the code.
  if (input.username) {
    const user = await s.db.selectFrom('users').select('id').where('username', '=', input.username).where('deleted_at', 'is', null).executeTakeFirst();
    if (user) throw identifierExists('username', 'username');
  }
  // Checked now, not only when the user is built, so the code is never spent on a sign-up that cannot complete.
  const unsafeMetadata = serializeMetadata('unsafe_metadata', input.unsafe_metadata ?? {});
  await s.limits.consume('codesSentPerIdentifier', input.email_address);
  const now = s.clock.now();
  const signUp: SignUpTable = {
    id: newId('sua', now), client_id: clientId, status: 'missing_requirements', email_address: input.email_address,
    first_name: input.first_name ?? null, last_name: input.last_name ?? null, username: input.username ?? null,
    password_digest: await hashPassword(input.password), unsafe_metadata: unsafeMetadata, role: input.role ?? null,
    created_user_id: null, created_session_id: null, expire_at: now + SIGN_UP_TTL_MS, created_at: now, updated_at: now,
  };
  await s.db.insertInto('sign_ups').values(signUp).execute();
  await sendCode(s, signUp);
  return signUp;
}

async function pendingSignUp(s: Services, clientId: string, id: string): Promise<SignUpTable> {
  const row = await s.db.selectFrom('sign_ups').selectAll().where('id', '=', id).where('client_id', '=', clientId).executeTakeFirst();
  if (!row || s.clock.now() >= row.expire_at) throw notFound('Sign-up');
  return row;
}

/** Sends a new code (after a cool-down). */
export async function resendSignUpCode(s: Services, clientId: string, id: string): Promise<SignUpTable> {
  const signUp = await pendingSignUp(s, clientId, id);
  if (signUp.status === 'complete') return signUp;
  await sendCode(s, signUp, { beforeIssue: () => s.limits.consume('codesSentPerIdentifier', signUp.email_address) });
  return signUp;
}

/**
 * Verifies the code, then creates the user (email verified) and a session on
 * the client (`client`: the sign-up's own, re-keyed as every sign-in re-keys it),
 * and completes the sign-up: all in one transaction. `signedIn` (the session
 * and the user) is absent for a replay of a completed verification, which
 * changes nothing.
 */
export async function verifySignUp(s: Services, client: ExistingClientRef, id: string, code: string): Promise<{ signUp: SignUpTable; signedIn?: SignedIn }> {
  const signUp = await pendingSignUp(s, client.existing, id);
  if (signUp.status === 'complete') return { signUp };
  await s.limits.consume('codeAttemptsPerIdentifier', signUp.email_address);
  await consumeCode(s.db, s.clock, 'sign_up', signUp.id, code);
  const rec = await buildUser(s.clock, {
    email_address: [signUp.email_address],
    first_name: signUp.first_name, last_name: signUp.last_name, username: signUp.username,
    unsafe_metadata: JSON.parse(signUp.unsafe_metadata) as Record<string, unknown>,
    ...(signUp.role ? { public_metadata: { role: signUp.role } } : {}),
  });
  rec.user.password_digest = signUp.password_digest;
  rec.user.password_hasher = 'argon2id';
  for (const e of rec.emails) e.verification_strategy = 'email_code';
  return s.db.transaction().execute(async (trx) => {
    // Re-checked against the stored settings: an operator may have withdrawn the role since the sign-up began.
    if (signUp.role) {
      const allowed = (await readStoredSettings(trx)).sign_up_roles;
      if (!allowed.includes(signUp.role)) throw roleNotAllowed(allowed);
    }
    await insertUser(trx, rec, 'user.signed_up');
    const opened = await openSession(trx, s.clock, s.settings.get(), rec.user.id, client, true);
    const { session } = opened;
    const done: SignUpTable = {
      // On a new client if another sign-in re-keyed this one first (openSession): the sign-up goes with its session.
      ...signUp, client_id: session.client_id, status: 'complete', created_user_id: rec.user.id, created_session_id: session.id,
      password_digest: null, updated_at: s.clock.now(),
    };
    await trx.updateTable('sign_ups').set(done).where('id', '=', id).execute();
    return { signUp: done, signedIn: opened };
  });
}
