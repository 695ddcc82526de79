import type { Clock } from '../clock/clock.js';
import { notFound } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import type { InstanceSettings } from '../instance/settings.js';
import type { Db } from '../storage/database.js';
import type { SessionStatus, SessionTable, UserTable } from '../storage/schema.js';
import { prepared } from '../storage/prepared.js';
import type { Insertable } from 'kysely';
import { recordEvent } from '../events/outbox.js';
import { recordAudit } from '../audit/audit-log.js';
import { findLiveUser, loadUserRecords } from '../users/store.js';
import type { ClientRef } from '../frontend/clients.js';
import { userJson } from '../users/serialize.js';
import { lockedError, suspensionRefusal, type UserRecord } from '../users/user-record.js';
import { isLocked, lockoutExpiresInSeconds } from '../abuse/lockout.js';
import { sessionJson } from './serialize.js';
import { withEffectiveStatus } from './lifecycle.js';

/** The sessions domain: create, read, list, revoke. */

/** Persists expiry/abandonment that the clock has already decided (see lifecycle.ts). */
async function settle(db: Db, now: number, scope: { userId?: string; clientId?: string; sessionId?: string }): Promise<void> {
  for (const [status, column] of [['expired', 'expire_at'], ['abandoned', 'abandon_at']] as const) {
    let q = db.updateTable('sessions').set({ status, updated_at: now })
      .where('status', '=', 'active').where(column, '<=', now);
    if (scope.userId) q = q.where('user_id', '=', scope.userId);
    if (scope.clientId) q = q.where('client_id', '=', scope.clientId);
    if (scope.sessionId) q = q.where('id', '=', scope.sessionId);
    await q.execute();
  }
}

export function sessionDeadlines(settings: InstanceSettings, now: number) {
  const expire_at = now + settings.session_max_lifetime * 1000;
  const idle = settings.session_inactivity_timeout * 1000;
  return { expire_at, abandon_at: idle > 0 ? Math.min(expire_at, now + idle) : expire_at };
}

/**
 * Creates an active session for a user, server-side (POST /v1/sessions). A new
 * client is created for it unless one is given.
 */
export async function createSession(
  db: Db,
  clock: Clock,
  settings: InstanceSettings,
  userId: string,
): Promise<SessionTable> {
  return db.transaction().execute(async (trx) => {
    const { session } = await openSession(trx, clock, settings, userId);
    await recordAudit(trx, session.created_at, { type: 'session.created', target: { type: 'user', id: userId }, data: { session_id: session.id } });
    return session;
  });
}

/**
 * Opens an active session for a user on a client (a new token-less one unless
 * given) and makes it the client's active session, re-keying an existing
 * client (see ExistingClientRef); inside the caller's transaction. Returns
 * the session and the user as it now is.
 */
export async function openSession(
  trx: Db,
  clock: Clock,
  settings: InstanceSettings,
  userId: string,
  client?: ClientRef,
  /** The user proved a first factor to open it (a sign-in, a verified sign-up, a reset): the tokens' `fva`. */
  firstFactorVerified = false,
): Promise<{ session: SessionTable; user: UserRecord }> {
  const now = clock.now();
  // Under the user's row lock (taken by this update): a concurrent ban either sees
  // this session and revokes it, or commits first and this create sees `banned`.
  // A refusal throws, and the caller's transaction undoes the update.
  const row = (await trx.executeQuery<UserTable>(touchLiveUser(trx, userId, now))).rows[0];
  if (!row) throw notFound('User');
  // A lockout from wrong passwords refuses every new session, the Backend API's too; a password
  // sign-in and a reset clear it before they get here. Sessions already open keep their tokens.
  const refused = suspensionRefusal(row, now) ?? (isLocked(row, now) ? lockedError(lockoutExpiresInSeconds(row, now)) : null);
  if (refused) throw refused;
  const stored = client && 'create' in client ? client.create : undefined;
  let clientId = client && 'existing' in client ? client.existing : stored?.id ?? newId('client', now);
  const session: SessionTable = {
    id: newId('sess', now),
    client_id: clientId,
    user_id: userId,
    status: 'active',
    last_active_at: now,
    ...sessionDeadlines(settings, now),
    first_factor_verified_at: firstFactorVerified ? now : null,
    created_at: now,
    updated_at: now,
  };
  if (client && 'existing' in client) {
    const { numAffectedRows } = await trx.executeQuery(rekeyClient(trx, clientId, session.id, client.tokenHash, client.previousHash, now));
    // Another sign-in re-keyed this client since the request read it. Taking the
    // client now would hand that sign-in's session to this request's token (and
    // whoever planted the old one): this session opens on a new client instead.
    if (Number(numAffectedRows ?? 0) !== 1) {
      clientId = session.client_id = newId('client', now);
      await trx.executeQuery(insertClient(trx, clientId, client.tokenHash, session.id, now, now));
    }
  } else {
    await trx.executeQuery(insertClient(trx, clientId, stored?.token_hash ?? null, session.id, stored?.created_at ?? now, now));
  }
  await trx.executeQuery(insertSession(trx, ...SESSION_COLUMNS.map((c) => session[c])));
  const [user] = await loadUserRecords(trx, [row]);
  await recordEvent(trx, now, 'session.created', sessionEventData(session, user!), userId);
  return { session, user: user! };
}

// The statements every sign-in runs, compiled once (storage/prepared.ts).
const touchLiveUser = prepared((db: Db, userId: string, now: number) => db.updateTable('users')
  .set({ last_active_at: now, last_sign_in_at: now }).where('id', '=', userId).where('deleted_at', 'is', null).returningAll());
// The new token replaces the client's only while the client still has the one the request came with (see ClientRef).
const rekeyClient = prepared((db: Db, clientId: string, sessionId: string, tokenHash: string, previousHash: string, now: number) =>
  db.updateTable('clients').set({ last_active_session_id: sessionId, updated_at: now, token_hash: tokenHash })
    .where('id', '=', clientId).where('token_hash', '=', previousHash));
const insertClient = prepared((db: Db, id: string, tokenHash: string | null, sessionId: string, createdAt: number, now: number) =>
  db.insertInto('clients').values({ id, token_hash: tokenHash, last_active_session_id: sessionId, created_at: createdAt, updated_at: now }));
const SESSION_COLUMNS = ['id', 'client_id', 'user_id', 'status', 'last_active_at', 'expire_at', 'abandon_at', 'first_factor_verified_at',
  'created_at', 'updated_at'] as const;
const insertSession = prepared((db: Db, ...values: unknown[]) =>
  db.insertInto('sessions').values(Object.fromEntries(SESSION_COLUMNS.map((c, i) => [c, values[i]])) as Insertable<SessionTable>));

// Read by the Backend API's session reads: compiled once.
const sessionById = prepared((db: Db, id: string) => db.selectFrom('sessions').selectAll().where('id', '=', id));

/** A session with its status as of now; 404 when unknown. */
export async function getSession(db: Db, clock: Clock, id: string): Promise<SessionTable> {
  return settled(db, clock, (await db.executeQuery<SessionTable>(sessionById(db, id))).rows[0]);
}

/** A session row read by the caller (undefined: 404) with its status as of now, persisted if the clock changed it. */
export async function settled(db: Db, clock: Clock, row: SessionTable | undefined): Promise<SessionTable> {
  if (!row) throw notFound('Session');
  const now = clock.now();
  const current = withEffectiveStatus(row, now);
  if (current !== row) await settle(db, now, { sessionId: row.id });
  return current;
}

export interface SessionFilter {
  user_id?: string | undefined;
  client_id?: string | undefined;
  status?: SessionStatus | undefined;
}

export async function listSessions(
  db: Db,
  clock: Clock,
  f: SessionFilter,
  page: { limit: number; offset: number },
): Promise<{ data: SessionTable[]; total_count: number }> {
  const now = clock.now();
  await settle(db, now, { userId: f.user_id, clientId: f.client_id });
  let q = db.selectFrom('sessions');
  if (f.user_id) q = q.where('user_id', '=', f.user_id);
  if (f.client_id) q = q.where('client_id', '=', f.client_id);
  if (f.status) q = q.where('status', '=', f.status);
  const [rows, count] = await Promise.all([
    q.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit).offset(page.offset).execute(),
    q.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
  ]);
  return { data: rows.map((r) => withEffectiveStatus(r, now)), total_count: Number(count.n) };
}

/** Revokes an active session. Revoking one that is no longer active changes nothing. */
export async function revokeSession(db: Db, clock: Clock, id: string): Promise<SessionTable> {
  const current = await getSession(db, clock, id);
  if (current.status !== 'active') return current;
  await db.transaction().execute(async (trx) => {
    const now = clock.now();
    const revoked: SessionTable = { ...current, status: 'revoked', updated_at: Math.max(now, current.updated_at + 1) };
    const res = await trx.updateTable('sessions').set({ status: 'revoked', updated_at: revoked.updated_at })
      .where('id', '=', id).where('status', '=', 'active').executeTakeFirst();
    // Only the request that actually revoked it records the event.
    if (Number(res.numUpdatedRows) === 1) {
      await recordEvent(trx, now, 'session.revoked', sessionEventData(revoked, (await findLiveUser(trx, current.user_id)) ?? null), current.user_id);
      await recordAudit(trx, now, { type: 'session.revoked', target: { type: 'user', id: current.user_id }, data: { session_id: id } });
    }
  });
  return getSession(db, clock, id);
}

/**
 * Ends every active session of a user (ban, password change, deletion) and
 * records session.revoked / session.removed for each; call inside the caller's
 * transaction. `user` is the state the events carry (null once deleted).
 */
export async function endUserSessions(
  db: Db,
  user: UserRecord | null,
  now: number,
  status: 'revoked' | 'removed',
  userId: string = user!.user.id,
  /** A session to leave alone (the one changing the password). */
  exceptSessionId = '',
): Promise<string[]> {
  const rows = await db.selectFrom('sessions').selectAll().where('user_id', '=', userId).where('status', '=', 'active')
    .where('id', '!=', exceptSessionId).execute();
  if (rows.length) {
    await db.updateTable('sessions').set({ status, updated_at: now })
      .where('id', 'in', rows.map((r) => r.id)).where('status', '=', 'active').execute();
  }
  for (const row of rows) {
    await recordEvent(db, now, `session.${status}`, sessionEventData({ ...row, status, updated_at: now }, user), userId);
  }
  return rows.map((r) => r.id);
}

/** Session events carry the Session and its User (null when there is none any more). */
const sessionEventData = (s: SessionTable, user: UserRecord | null) => ({ ...sessionJson(s), user: user ? userJson(user) : null });

/** Sign-out: ends an active session and records session.ended. Ending one already over changes nothing. */
export async function endSession(db: Db, clock: Clock, session: SessionTable): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const now = clock.now();
    const ended: SessionTable = { ...session, status: 'ended', updated_at: Math.max(now, session.updated_at + 1) };
    const res = await trx.updateTable('sessions').set({ status: 'ended', updated_at: ended.updated_at })
      .where('id', '=', session.id).where('status', '=', 'active').executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      await recordEvent(trx, now, 'session.ended', sessionEventData(ended, (await findLiveUser(trx, session.user_id)) ?? null), session.user_id);
      await recordAudit(trx, now, { type: 'user.signed_out', actor: { type: 'user', id: session.user_id },
        target: { type: 'user', id: session.user_id }, data: { session_id: session.id } });
    }
  });
}

/** The session's user just proved a first factor again (their current password): its tokens' `fva` starts again from 0. */
export async function recordFirstFactor(db: Db, sessionId: string, now: number): Promise<void> {
  await db.updateTable('sessions').set({ first_factor_verified_at: now }).where('id', '=', sessionId).where('status', '=', 'active').execute();
}

/** last_active_at moves at most this often: token refreshes every minute should not each write. */
const TOUCH_INTERVAL_MS = 30_000;

/**
 * Records activity: last_active_at, and abandon_at pushed out by the inactivity
 * timeout (never past expire_at). Throttled to one write per TOUCH_INTERVAL_MS,
 * or per half the timeout when that is shorter: otherwise a session used more
 * often than its timeout could still be abandoned between two writes.
 */
export async function touchSession(db: Db, clock: Clock, settings: InstanceSettings, session: SessionTable): Promise<void> {
  const now = clock.now();
  const idle = settings.session_inactivity_timeout * 1000;
  const interval = idle > 0 ? Math.min(TOUCH_INTERVAL_MS, idle / 2) : TOUCH_INTERVAL_MS;
  if (now - session.last_active_at < interval) return;
  const abandon_at = idle > 0 ? Math.min(session.expire_at, now + idle) : session.abandon_at;
  await db.updateTable('sessions').set({ last_active_at: now, abandon_at })
    .where('id', '=', session.id).where('status', '=', 'active').execute();
}
