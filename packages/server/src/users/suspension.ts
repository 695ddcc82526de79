import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { invalidParam } from '../errors/latchkey-error.js';
import { recordEvent } from '../events/outbox.js';
import { endUserSessions } from '../sessions/sessions.js';
import type { Db } from '../storage/database.js';
import { userJson } from './serialize.js';
import type { UserRecord } from './user-record.js';
import { findLiveUser, lockedUser, nextUpdatedAt } from './store.js';

/**
 * Suspension (a ban): revokes every session at once and refuses sign-in and
 * tokens with `user_banned` and meta { reason, suspended_until }. A ban may say
 * why and may end by itself at `until`: from then on it no longer counts, and
 * the maintenance job clears it (liftExpiredBans) so the user's state and
 * webhooks say so too. A lock (lockout or operator) is a different thing: it
 * refuses sign-in but keeps sessions.
 */

export const banSchema = z.strictObject({
  /** Shown to the user (and in guards' "Account suspended" answers). */
  reason: z.string().trim().min(1).max(500).optional(),
  /** When the ban lifts itself: milliseconds since the epoch, in the future. */
  until: z.number().int().positive().optional(),
});
export type BanInput = z.infer<typeof banSchema>;

/** Bans (or re-bans with a new reason and end) and revokes every session, in one transaction. */
export async function banUser(db: Db, clock: Clock, id: string, input: BanInput): Promise<UserRecord> {
  const now = clock.now();
  if (input.until !== undefined && input.until <= now) throw invalidParam('until', 'until must be in the future (milliseconds since the epoch).');
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const ban = { banned: 1, ban_reason: input.reason ?? null, banned_until: input.until ?? null };
    await trx.updateTable('users').set({ ...ban, updated_at: nextUpdatedAt(rec.user.updated_at, now) }).where('id', '=', id).execute();
    const after = (await findLiveUser(trx, id))!;
    await recordEvent(trx, now, 'user.updated', userJson(after, now), id);
    const revoked = await endUserSessions(trx, after, now, 'revoked');
    await recordAudit(trx, now, { type: 'user.banned', target: { type: 'user', id },
      data: { reason: ban.ban_reason, until: ban.banned_until, sessions_revoked: revoked.length } });
    return after;
  });
}

/** Lifts a ban (an operator's unban). */
export async function unbanUser(db: Db, clock: Clock, id: string): Promise<UserRecord> {
  return (await lift(db, clock, id, false)).rec;
}

/**
 * Clears the bans whose `until` has passed, as the server itself (actor
 * "system"); returns how many. Safe on every instance at once: each is
 * re-checked under the user's row lock.
 */
export async function liftExpiredBans(db: Db, clock: Clock): Promise<number> {
  const due = await db.selectFrom('users').select('id').where('banned', '=', 1)
    .where('banned_until', '<=', clock.now()).where('deleted_at', 'is', null).limit(500).execute();
  let lifted = 0;
  for (const { id } of due) if ((await lift(db, clock, id, true)).lifted) lifted++;
  return lifted;
}

async function lift(db: Db, clock: Clock, id: string, expiredOnly: boolean): Promise<{ rec: UserRecord; lifted: boolean }> {
  return db.transaction().execute(async (trx) => {
    const rec = await lockedUser(trx, id);
    const now = clock.now();
    const { banned, banned_until: until } = rec.user;
    if (banned === 0 || (expiredOnly && (until === null || until > now))) return { rec, lifted: false };
    await trx.updateTable('users').set({ banned: 0, ban_reason: null, banned_until: null, updated_at: nextUpdatedAt(rec.user.updated_at, now) })
      .where('id', '=', id).execute();
    const after = (await findLiveUser(trx, id))!;
    await recordEvent(trx, now, 'user.updated', userJson(after, now), id);
    await recordAudit(trx, now, {
      type: 'user.unbanned', target: { type: 'user', id },
      ...(expiredOnly ? { actor: { type: 'system' }, data: { expired_at: until } } : {}),
    });
    return { rec: after, lifted: true };
  });
}
