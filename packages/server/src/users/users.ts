import type { Clock } from '../clock/clock.js';
import { LatchkeyError, invalidParam, notFound } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import { checkImportedDigest, checkPasswordRules, hashPassword } from '../passwords/passwords.js';
import { checkPasswordStrength } from '../passwords/strength.js';
import { endUserSessions } from '../sessions/sessions.js';
import { isUniqueViolation, violatedColumn, type Db } from '../storage/database.js';
import type { EmailAddressTable, PhoneNumberTable, UserTable } from '../storage/schema.js';
import { recordEvent } from '../events/outbox.js';
import { recordAudit, type Actor } from '../audit/audit-log.js';
import { assertKnownRole, recordRoleChange, withDefaultRole } from '../roles/assignment.js';
import { deepMerge, serializeMetadata } from './metadata.js';
import { deletedUserJson, userJson } from './serialize.js';
import type { CreateUserInput, MetadataInput, UpdateUserInput } from './schemas.js';
import { releaseUnproven } from './email-addresses.js';
import { findLiveUser, lockedUser, nextUpdatedAt } from './store.js';
import { parseMetadata, type UserRecord } from './user-record.js';

/** The users domain: every write is one transaction and re-reads what it wrote. */

export const identifierExists = (param: string, what: string) =>
  new LatchkeyError('unprocessable', 'form_identifier_exists', `That ${what} is taken. Please try another.`,
    `That ${what} is taken. Please try another.`, { param_name: param });


/** Re-reads the user inside the transaction and records user.updated with that state. */
export async function updated(trx: Db, id: string, now: number): Promise<UserRecord> {
  const rec = await findLiveUser(trx, id);
  if (!rec) throw notFound('User');
  await recordEvent(trx, now, 'user.updated', userJson(rec, now), id);
  return rec;
}

/** Two concurrent writes can both pass the checks; the unique index decides, and names the field. */
function identifierConflict(err: unknown): unknown {
  if (!isUniqueViolation(err)) return err;
  switch (violatedColumn(err)) {
    case 'phone_number':
      return identifierExists('phone_number', 'phone number');
    case 'username':
      return identifierExists('username', 'username');
    case 'external_id':
      return identifierExists('external_id', 'external id');
    default:
      return identifierExists('email_address', 'email address');
  }
}

const bool = (v: boolean | undefined, fallback = false) => ((v ?? fallback) ? 1 : 0);
const toMs = (iso: string | undefined) => (iso === undefined ? undefined : Date.parse(iso));

export async function getUser(db: Db, id: string): Promise<UserRecord> {
  const rec = await findLiveUser(db, id);
  if (!rec) throw notFound('User');
  return rec;
}

/**
 * How strong a password the Backend API takes: the instance's password_min_strength,
 * scored against the user's own details (names, addresses) as an end user's is.
 */
interface StrengthPolicy {
  minStrength: number;
  personal: (string | null | undefined)[];
}

/** Password fields of a create/update body → the digest to store (undefined: unchanged). */
async function passwordDigest(
  input: { password?: string | undefined; password_digest?: string | undefined; password_hasher?: string | undefined; skip_password_checks?: boolean | undefined },
  strength?: StrengthPolicy,
): Promise<{ digest: string; hasher: string } | undefined> {
  if (input.password_digest !== undefined || input.password_hasher !== undefined) {
    if (input.password !== undefined) throw invalidParam('password', 'Give either password or password_digest, not both.', 'form_param_exclusive');
    if (!input.password_digest || !input.password_hasher) {
      const missing = input.password_digest ? 'password_hasher' : 'password_digest';
      throw invalidParam(missing, `${missing} is required with ${missing === 'password_hasher' ? 'password_digest' : 'password_hasher'}.`, 'form_param_missing');
    }
    checkImportedDigest(input.password_hasher, input.password_digest);
    return { digest: input.password_digest, hasher: input.password_hasher };
  }
  if (input.password === undefined) return undefined;
  if (!input.skip_password_checks) {
    if (strength) checkPasswordStrength(input.password, strength.personal.filter((v): v is string => !!v), strength.minStrength);
    else checkPasswordRules(input.password);
  } else if (input.password.length === 0) throw invalidParam('password', 'password must not be empty.');
  return { digest: await hashPassword(input.password), hasher: 'argon2id' };
}

function statuses(values: string[], given: ('verified' | 'reserved')[] | undefined, param: string) {
  if (given && given.length !== values.length) {
    throw invalidParam(param, `${param} must have exactly one entry per value.`);
  }
  return values.map((_, i) => given?.[i] ?? 'verified');
}

function duplicates(values: string[]): boolean {
  return new Set(values).size !== values.length;
}

export async function createUser(db: Db, clock: Clock, input: CreateUserInput, minStrength?: number): Promise<UserRecord> {
  const rec = await buildUser(clock, input, minStrength);
  await db.transaction().execute((trx) => insertUser(trx, rec));
  return rec;
}

/** Validates a create-user input and builds its rows (hashing any password): no I/O. `minStrength`: see StrengthPolicy. */
export async function buildUser(clock: Clock, input: CreateUserInput, minStrength?: number): Promise<UserRecord> {
  const emails = input.email_address ?? [];
  const phones = input.phone_number ?? [];
  if (emails.length === 0 && phones.length === 0 && !input.username && !input.external_id) {
    throw invalidParam('email_address', 'Give at least one identifier: email_address, phone_number, username or external_id.', 'form_param_missing');
  }
  if (duplicates(emails.map((e) => e.toLowerCase()))) throw identifierExists('email_address', 'email address');
  if (duplicates(phones)) throw identifierExists('phone_number', 'phone number');
  const emailStatuses = statuses(emails, input.email_address_identification_status, 'email_address_identification_status');
  const phoneStatuses = statuses(phones, input.phone_number_identification_status, 'phone_number_identification_status');
  const personal = [...emails, input.first_name, input.last_name, input.username];
  // Hashed before the transaction: it takes ~12 ms.
  const password = await passwordDigest(input, minStrength === undefined ? undefined : { minStrength, personal });

  const now = clock.now();
  const createdAt = toMs(input.created_at) ?? now;
  const id = newId('user', now);
  // A user's identifiers are listed by (created_at, id), and ids are random within a second:
  // each given one is a millisecond older than the next, so they list in the order given.
  const givenAt = (i: number, n: number) => now - (n - 1 - i);
  const emailRows: EmailAddressTable[] = emails.map((address, i) => ({
    id: newId('idn', now), user_id: id, email_address: address, email_lower: address.toLowerCase(),
    verification_status: emailStatuses[i] === 'verified' ? 'verified' : 'unverified',
    verification_strategy: emailStatuses[i] === 'verified' ? 'admin' : null,
    reserved: emailStatuses[i] === 'reserved' ? 1 : 0, created_at: givenAt(i, emails.length), updated_at: now,
  }));
  const phoneRows: PhoneNumberTable[] = phones.map((number, i) => ({
    id: newId('idn', now), user_id: id, phone_number: number,
    verification_status: phoneStatuses[i] === 'verified' ? 'verified' : 'unverified',
    verification_strategy: phoneStatuses[i] === 'verified' ? 'admin' : null,
    reserved: phoneStatuses[i] === 'reserved' ? 1 : 0, created_at: givenAt(i, phones.length), updated_at: now,
  }));
  const user: UserTable = {
    id,
    external_id: input.external_id ?? null,
    username: input.username ?? null,
    first_name: input.first_name ?? null,
    last_name: input.last_name ?? null,
    image_url: null,
    password_digest: password?.digest ?? null,
    password_hasher: password?.hasher ?? null,
    public_metadata: serializeMetadata('public_metadata', input.public_metadata ?? {}),
    private_metadata: serializeMetadata('private_metadata', input.private_metadata ?? {}),
    unsafe_metadata: serializeMetadata('unsafe_metadata', input.unsafe_metadata ?? {}),
    primary_email_address_id: emailRows[0]?.id ?? null,
    primary_phone_number_id: phoneRows[0]?.id ?? null,
    banned: bool(input.banned),
    locked: bool(input.locked),
    locale: input.locale ?? null,
    timezone: input.timezone ?? null,
    delete_self_enabled: bool(input.delete_self_enabled, true),
    create_organization_enabled: bool(input.create_organization_enabled, true),
    legal_accepted_at: toMs(input.legal_accepted_at) ?? null,
    last_sign_in_at: null,
    last_active_at: null,
    created_at: createdAt,
    updated_at: Math.max(now, createdAt),
    deleted_at: null,
    failed_attempts: 0,
    locked_until: null,
    ban_reason: null,
    banned_until: null,
  };

  return { user, emails: emailRows, phones: phoneRows };
}

/**
 * Inserts a built user with its identifiers, user.created and its audit entry
 * (`user.created`, or `user.signed_up` by the user themself); inside the
 * caller's transaction. The default role applies when the user has none; a
 * role must be in the catalog.
 */
export async function insertUser(trx: Db, rec: UserRecord, audit: 'user.created' | 'user.signed_up' = 'user.created'): Promise<void> {
  const { user, emails, phones } = rec;
  const publicMetadata = await withDefaultRole(trx, parseMetadata(user.public_metadata));
  await assertKnownRole(trx, publicMetadata);
  user.public_metadata = JSON.stringify(publicMetadata);
  try {
    // A verified or reserved address outranks one another account only added, unproven.
    await releaseUnproven(trx, user.updated_at, emails.map((e) => e.email_lower), null);
    await assertIdentifiersFree(trx, { emails: emails.map((e) => e.email_lower), phones: phones.map((p) => p.phone_number), username: user.username, externalId: user.external_id });
    await trx.insertInto('users').values(user).execute();
    if (emails.length) await trx.insertInto('email_addresses').values(emails).execute();
    if (phones.length) await trx.insertInto('phone_numbers').values(phones).execute();
    await recordEvent(trx, user.updated_at, 'user.created', userJson(rec, user.updated_at), user.id);
    await recordAudit(trx, user.updated_at, {
      type: audit, target: { type: 'user', id: user.id },
      ...(audit === 'user.signed_up' ? { actor: { type: 'user', id: user.id } } : {}),
      data: { role: publicMetadata.role ?? null },
    });
  } catch (err) {
    throw identifierConflict(err);
  }
}

async function assertIdentifiersFree(
  db: Db,
  ids: { emails?: string[]; phones?: string[]; username?: string | null; externalId?: string | null; exceptUserId?: string },
): Promise<void> {
  const except = ids.exceptUserId ?? '';
  if (ids.emails?.length) {
    const hit = await db.selectFrom('email_addresses').select('id').where('email_lower', 'in', ids.emails).where('user_id', '!=', except).executeTakeFirst();
    if (hit) throw identifierExists('email_address', 'email address');
  }
  if (ids.phones?.length) {
    const hit = await db.selectFrom('phone_numbers').select('id').where('phone_number', 'in', ids.phones).where('user_id', '!=', except).executeTakeFirst();
    if (hit) throw identifierExists('phone_number', 'phone number');
  }
  for (const [col, value, param] of [['username', ids.username, 'username'], ['external_id', ids.externalId, 'external_id']] as const) {
    if (!value) continue;
    const hit = await db.selectFrom('users').select('id').where(col, '=', value)
      .where('deleted_at', 'is', null).where('id', '!=', except).executeTakeFirst();
    if (hit) throw identifierExists(param, param.replace('_', ' '));
  }
}

export interface UpdateOptions {
  /** What the update is audited as: an administrative change by default, or an auth event (password change, reset). */
  audit?: 'user.updated' | 'user.password_changed' | 'user.password_reset';
  actor?: Actor;
  /** With sign_out_of_other_sessions: the session that stays (the one changing its password). */
  keepSessionId?: string;
  /** More work that must commit with the update (the reset flow opens its session here). */
  alsoInTransaction?: (trx: Db) => Promise<void>;
  /** A new password must score this (StrengthPolicy); unset: only its length is checked (the caller checked the rest). */
  passwordMinStrength?: number;
}

/** Flags that steer an update rather than change a field: not listed in its audit entry. */
/** The user's own identifier `id`, which must be verified to become primary (as Clerk requires); else 422 naming `param`. */
function verifiedIdentifier<T extends { id: string; verification_status: string }>(own: T[], id: string, param: string, what: string): T {
  const found = own.find((x) => x.id === id);
  if (!found) throw invalidParam(param, `${param} must be one of the user's ${what}s.`, 'form_param_value_invalid');
  if (found.verification_status !== 'verified') {
    throw invalidParam(param, `Only a verified ${what} can become primary.`, `${what.replace(' ', '_')}_not_verified`);
  }
  return found;
}

/** The strength policy of a new password given with an update: the user's details as they are and as the update sets them. */
async function strengthFor(db: Db, id: string, input: UpdateUserInput, minStrength: number | undefined): Promise<StrengthPolicy | undefined> {
  if (minStrength === undefined || input.password === undefined || input.skip_password_checks) return undefined;
  const current = await findLiveUser(db, id);
  const u = current?.user;
  return { minStrength, personal: [...(current?.emails.map((e) => e.email_address) ?? []), u?.first_name, u?.last_name, u?.username,
    input.first_name, input.last_name, input.username] };
}

const STEERING = new Set(['skip_password_checks', 'skip_password_requirement', 'sign_out_of_other_sessions']);

export async function updateUser(db: Db, clock: Clock, id: string, input: UpdateUserInput, options: UpdateOptions = {}): Promise<UserRecord> {
  const password = await passwordDigest(input, await strengthFor(db, id, input, options.passwordMinStrength));
  try {
    return await db.transaction().execute(async (trx) => {
      const rec = await lockedUser(trx, id);
      const patch: Partial<UserTable> = {};
      const set = <K extends keyof UserTable>(k: K, v: UserTable[K] | undefined) => {
        if (v !== undefined) patch[k] = v;
      };
      set('first_name', input.first_name);
      set('last_name', input.last_name);
      set('username', input.username);
      set('external_id', input.external_id);
      set('locale', input.locale);
      set('timezone', input.timezone);
      if (input.delete_self_enabled !== undefined) patch.delete_self_enabled = bool(input.delete_self_enabled);
      if (input.create_organization_enabled !== undefined) patch.create_organization_enabled = bool(input.create_organization_enabled);
      set('created_at', toMs(input.created_at));
      set('legal_accepted_at', toMs(input.legal_accepted_at));
      if (password) Object.assign(patch, { password_digest: password.digest, password_hasher: password.hasher });
      if (input.primary_email_address_id !== undefined) {
        patch.primary_email_address_id = verifiedIdentifier(rec.emails, input.primary_email_address_id, 'primary_email_address_id', 'email address').id;
      }
      if (input.primary_phone_number_id !== undefined) {
        patch.primary_phone_number_id = verifiedIdentifier(rec.phones, input.primary_phone_number_id, 'primary_phone_number_id', 'phone number').id;
      }
      // PATCH /v1/users/{id} replaces whole metadata documents, as Clerk's does.
      if (input.public_metadata) {
        await assertKnownRole(trx, input.public_metadata);
        patch.public_metadata = serializeMetadata('public_metadata', input.public_metadata);
      }
      if (input.private_metadata) patch.private_metadata = serializeMetadata('private_metadata', input.private_metadata);
      if (input.unsafe_metadata) patch.unsafe_metadata = serializeMetadata('unsafe_metadata', input.unsafe_metadata);
      await assertIdentifiersFree(trx, { username: patch.username, externalId: patch.external_id, exceptUserId: id });
      const now = clock.now();
      await trx.updateTable('users').set({ ...patch, updated_at: nextUpdatedAt(rec.user.updated_at, now) }).where('id', '=', id).execute();
      const after = await updated(trx, id, now);
      const revoked = password && input.sign_out_of_other_sessions
        ? await endUserSessions(trx, after, now, 'revoked', id, options.keepSessionId) : [];
      // Names of the changed fields, never their values (passwords, PII).
      const fields = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined && !STEERING.has(k));
      await recordAudit(trx, now, { type: options.audit ?? 'user.updated', ...(options.actor ? { actor: options.actor } : {}), target: { type: 'user', id },
        data: { fields, ...(revoked.length ? { sessions_revoked: revoked.length } : {}) } });
      if (input.public_metadata) await recordRoleChange(trx, now, id, parseMetadata(rec.user.public_metadata), input.public_metadata);
      await options.alsoInTransaction?.(trx);
      return after;
    });
  } catch (err) {
    throw identifierConflict(err);
  }
}

/** PATCH …/metadata deep-merges; PUT …/metadata replaces the documents it names. */
export async function writeMetadata(db: Db, clock: Clock, id: string, input: MetadataInput, mode: 'merge' | 'replace'): Promise<UserRecord> {
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const patch: Partial<UserTable> = {};
    for (const key of ['public_metadata', 'private_metadata', 'unsafe_metadata'] as const) {
      const value = input[key];
      if (value === undefined) continue;
      const next = mode === 'merge' ? deepMerge(parseMetadata(rec.user[key]), value) : value;
      if (key === 'public_metadata') await assertKnownRole(trx, next);
      patch[key] = serializeMetadata(key, next);
    }
    const now = clock.now();
    const set = { ...patch, updated_at: nextUpdatedAt(rec.user.updated_at, now) };
    await trx.updateTable('users').set(set).where('id', '=', id).execute();
    // Only the row's own columns changed, under the row lock: the new state is known without reading it back.
    const next: UserRecord = { ...rec, user: { ...rec.user, ...set } };
    await recordEvent(trx, now, 'user.updated', userJson(next, now), id);
    await recordAudit(trx, now, { type: 'user.metadata_updated', target: { type: 'user', id },
      data: { mode, documents: Object.keys(patch).filter((k) => k !== 'updated_at') } });
    if (patch.public_metadata) await recordRoleChange(trx, now, id, parseMetadata(rec.user.public_metadata), parseMetadata(patch.public_metadata));
    return next;
  });
}

/**
 * Lock refuses new sign-ins and tokens but keeps sessions; unlock lifts it, and
 * any lockout from wrong passwords. (A ban is users/suspension.ts.)
 */
export async function setLocked(db: Db, clock: Clock, id: string, on: boolean): Promise<UserRecord> {
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const now = clock.now();
    const lockout = on ? {} : { failed_attempts: 0, locked_until: null };
    await trx.updateTable('users').set({ locked: on ? 1 : 0, ...lockout, updated_at: nextUpdatedAt(rec.user.updated_at, now) })
      .where('id', '=', id).execute();
    const after = await updated(trx, id, now);
    await recordAudit(trx, now, { type: on ? 'user.locked' : 'user.unlocked', target: { type: 'user', id } });
    return after;
  });
}

/**
 * Deletes a user: the row stays as a tombstone (id, external_id, deleted_at) and
 * every piece of PII goes, with the identifiers, in the same transaction: the
 * sign-up that created the user (email, names, username, unsafe metadata), the
 * one-time codes sent to them, and the ban or lock with its free-text reason.
 */
export async function deleteUser(db: Db, clock: Clock, id: string): Promise<{ id: string; external_id: string | null }> {
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const now = clock.now();
    await endUserSessions(trx, null, now, 'removed', id);
    // Codes prove a sign-up, a user (sign-in, reset) or an email address: only hashes, but nothing of the user should stay.
    const signUps = (await trx.selectFrom('sign_ups').select('id').where('created_user_id', '=', id).execute()).map((r) => r.id);
    await trx.deleteFrom('email_codes').where('subject_id', 'in', [id, ...signUps, ...rec.emails.map((e) => e.id)]).execute();
    if (signUps.length) await trx.deleteFrom('sign_ups').where('id', 'in', signUps).execute();
    await trx.deleteFrom('email_addresses').where('user_id', '=', id).execute();
    await trx.deleteFrom('phone_numbers').where('user_id', '=', id).execute();
    const updatedAt = nextUpdatedAt(rec.user.updated_at, now);
    await trx.updateTable('users').set({
      username: null, first_name: null, last_name: null, image_url: null,
      password_digest: null, password_hasher: null,
      public_metadata: '{}', private_metadata: '{}', unsafe_metadata: '{}',
      primary_email_address_id: null, primary_phone_number_id: null,
      locale: null, timezone: null, legal_accepted_at: null,
      // A ban reason is free text about the person; a tombstone is neither banned nor locked.
      banned: 0, ban_reason: null, banned_until: null, locked: 0, failed_attempts: 0, locked_until: null,
      deleted_at: now, updated_at: updatedAt,
    }).where('id', '=', id).execute();
    // Clerk's deleted object, with no PII: the external id lets an app find its row.
    await recordEvent(trx, now, 'user.deleted', {
      ...deletedUserJson(id), external_id: rec.user.external_id,
      // Not PII but the version: later than every earlier event's data.updated_at, so order-by-updated_at receivers apply the delete last.
      updated_at: updatedAt,
    }, id);
    await recordAudit(trx, now, { type: 'user.deleted', target: { type: 'user', id } });
    return { id, external_id: rec.user.external_id };
  });
}
