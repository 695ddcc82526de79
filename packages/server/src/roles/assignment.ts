import { PostgresAdapter } from 'kysely';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { recordEvent } from '../events/outbox.js';
import { readStoredSettings } from '../instance/settings-store.js';
import { endUserSessions } from '../sessions/sessions.js';
import type { Db } from '../storage/database.js';
import { serializeMetadata } from '../users/metadata.js';
import { userJson } from '../users/serialize.js';
import { parseMetadata, type Metadata, type UserRecord } from '../users/user-record.js';
import { lockedUser, nextUpdatedAt } from '../users/store.js';

/**
 * A user's role is public_metadata.role. Every write of it (user create and
 * update, metadata merge and replace, sign-up, POST /v1/users/{id}/role) goes
 * through assertKnownRole, and every change of it is audited (user.role_changed).
 */

const roleOf = (m: Metadata | undefined): string | null => (typeof m?.role === 'string' ? m.role : null);

/** 422 unless public_metadata.role is absent, null, or a key of the role catalog. */
export async function assertKnownRole(db: Db, publicMetadata: Metadata | undefined, param = 'public_metadata.role'): Promise<void> {
  if (!publicMetadata || publicMetadata.role === undefined || publicMetadata.role === null) return;
  const role = publicMetadata.role;
  if (typeof role !== 'string') {
    throw new LatchkeyError('unprocessable', 'role_unknown', 'unknown role', `${param} must be a string naming a role of the catalog.`, { param_name: param });
  }
  // On PostgreSQL the role row stays share-locked until the write commits, so a concurrent delete
  // (which locks it for update, then counts holders) cannot leave this user holding a deleted role.
  const query = db.selectFrom('roles').select('key').where('key', '=', role);
  const found = await (db.getExecutor().adapter instanceof PostgresAdapter ? query.forShare() : query).executeTakeFirst();
  if (found) return;
  const keys = (await db.selectFrom('roles').select('key').orderBy('key').limit(20).execute()).map((r) => r.key);
  throw new LatchkeyError('unprocessable', 'role_unknown', 'unknown role',
    `${param}: "${role}" is not a role of this instance (${keys.length ? `roles: ${keys.join(', ')}` : 'no roles are defined: create them with POST /v1/roles or `latchkey roles`'}).`,
    { param_name: param });
}

/** A new user's public metadata with the instance's default role when it names none. */
export async function withDefaultRole(db: Db, publicMetadata: Metadata): Promise<Metadata> {
  if (publicMetadata.role !== undefined && publicMetadata.role !== null) return publicMetadata;
  const { default_role: role } = await readStoredSettings(db);
  return role ? { ...publicMetadata, role } : publicMetadata;
}

/** Audits a change of role between two states of public_metadata (in the change's transaction). */
export async function recordRoleChange(db: Db, now: number, userId: string, before: Metadata, after: Metadata, extra: object = {}): Promise<void> {
  const from = roleOf(before);
  const to = roleOf(after);
  if (from === to) return;
  await recordAudit(db, now, { type: 'user.role_changed', target: { type: 'user', id: userId }, data: { from, to, ...extra } });
}

export const assignRoleSchema = z.strictObject({
  /** A role key of the catalog; null removes the role. */
  role: z.string().min(1).max(64).nullable(),
  /** Also revoke every session of the user, so the change cannot wait for tokens to expire. */
  revoke_sessions: z.boolean().default(false),
});

/** Sets (or with null removes) the user's role: user.updated, audited, sessions revoked on request; one transaction. */
export async function assignRole(db: Db, clock: Clock, id: string, input: z.infer<typeof assignRoleSchema>): Promise<UserRecord> {
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const before = parseMetadata(rec.user.public_metadata);
    const { role: _old, ...rest } = before;
    const after = input.role === null ? rest : { ...before, role: input.role };
    await assertKnownRole(trx, after, 'role');
    const now = clock.now();
    const set = { public_metadata: serializeMetadata('public_metadata', after), updated_at: nextUpdatedAt(rec.user.updated_at, now) };
    await trx.updateTable('users').set(set).where('id', '=', id).execute();
    const next: UserRecord = { ...rec, user: { ...rec.user, ...set } };
    await recordEvent(trx, now, 'user.updated', userJson(next, now), id);
    const revoked = input.revoke_sessions ? await endUserSessions(trx, next, now, 'revoked') : [];
    await recordRoleChange(trx, now, id, before, after, input.revoke_sessions ? { sessions_revoked: revoked.length } : {});
    if (input.revoke_sessions && roleOf(before) === roleOf(after)) {
      await recordAudit(trx, now, { type: 'user.sessions_revoked', target: { type: 'user', id }, data: { sessions_revoked: revoked.length } });
    }
    return next;
  });
}
