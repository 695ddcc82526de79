import { listEvents } from '../events/feed.js';
import type { Db } from '../storage/database.js';

/**
 * What SDKs need to refuse still-valid tokens (issue 6's revocation check):
 * sessions that were revoked, ended or removed, users suspended (and lifted),
 * and users deleted. A client takes a snapshot once, then follows the event
 * feed from its cursor every few seconds. Tokens live at most 7 days
 * (expires_in_seconds' bound), so older revocations no longer matter.
 */
const REVOCATION_WINDOW_MS = 7 * 24 * 3_600_000;

export interface Revocations {
  object: 'revocations';
  revoked_sessions: { id: string; user_id: string; status: string; at: number }[];
  suspended_users: { id: string; reason: string | null; suspended_until: number | null }[];
  /** Users whose latest state since the cursor has no ban (perhaps lifted): drop them from the set. Each user is in one list. */
  lifted_users: string[];
  deleted_users: string[];
  /** The event sequence to ask from next (`?after=`). */
  cursor: number;
  has_more: boolean;
}

const ENDED = ['revoked', 'ended', 'removed'] as const;

/** The current state: everything within the window, and the cursor the feed continues from. */
export async function revocationSnapshot(db: Db, now: number): Promise<Revocations> {
  // The cursor first: whatever changes while the state is read is replayed from it (applying twice is harmless).
  const last = await db.selectFrom('events').select((eb) => eb.fn.max('sequence').as('s')).executeTakeFirst();
  const since = now - REVOCATION_WINDOW_MS;
  const [sessions, banned, deleted] = await Promise.all([
    db.selectFrom('sessions').select(['id', 'user_id', 'status', 'updated_at']).where('status', 'in', ENDED)
      .where('updated_at', '>', since).execute(),
    db.selectFrom('users').select(['id', 'ban_reason', 'banned_until']).where('banned', '=', 1).where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('banned_until', 'is', null), eb('banned_until', '>', now)])).execute(),
    db.selectFrom('users').select('id').where('deleted_at', '>', since).execute(),
  ]);
  return {
    object: 'revocations',
    revoked_sessions: sessions.map((s) => ({ id: s.id, user_id: s.user_id, status: s.status, at: s.updated_at })),
    suspended_users: banned.map((u) => ({ id: u.id, reason: u.ban_reason, suspended_until: u.banned_until })),
    lifted_users: [],
    deleted_users: deleted.map((u) => u.id),
    cursor: Number(last?.s ?? 0),
    has_more: false,
  };
}

interface SessionData { id: string; user_id: string; status: string; updated_at: number }
interface UserData { id: string; banned?: boolean; ban_reason?: string | null; banned_until?: number | null }

/** What changed after `after`, read from the event feed (settled against late commits). */
export async function revocationsAfter(db: Db, after: number, limit = 500): Promise<Revocations> {
  const page = await listEvents(db, {
    after, limit, types: ['session.revoked', 'session.ended', 'session.removed', 'user.updated', 'user.deleted'],
  });
  const out: Revocations = {
    object: 'revocations', revoked_sessions: [], suspended_users: [], lifted_users: [], deleted_users: [],
    cursor: page.data.at(-1)?.sequence ?? after, has_more: page.hasMore,
  };
  // One entry per user, its last state in the page: banned then lifted must read as lifted.
  const users = new Map<string, UserData | 'deleted'>();
  for (const e of page.data) {
    if (e.type.startsWith('session.')) {
      const s = JSON.parse(e.data) as SessionData;
      out.revoked_sessions.push({ id: s.id, user_id: s.user_id, status: s.status, at: s.updated_at });
    } else {
      const u = JSON.parse(e.data) as UserData;
      users.set(u.id, e.type === 'user.deleted' ? 'deleted' : u);
    }
  }
  for (const [id, u] of users) {
    if (u === 'deleted') out.deleted_users.push(id);
    else if (u.banned) out.suspended_users.push({ id, reason: u.ban_reason ?? null, suspended_until: u.banned_until ?? null });
    else out.lifted_users.push(id);
  }
  return out;
}
