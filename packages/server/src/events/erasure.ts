import type { Db } from '../storage/database.js';

/**
 * Erases a deleted user's personal data from their earlier events, in the
 * deletion's transaction. The feed keeps events for `event_retention_days`, and
 * a webhook message reads its event when it goes out, so without this the
 * names, addresses and metadata the deletion erased would still be served and
 * sent. Each event keeps its id, type and place in the sequence (feed readers
 * and deliveries stay in order); its data becomes `stub` (Clerk's deleted
 * object) with the event's `updated_at`, a session event's keeps the session with `user: stub`, and the IP
 * address and user agent of the request that made it go.
 */
export async function eraseUserFromEvents(trx: Db, userId: string, stub: object): Promise<void> {
  const rows = await trx.selectFrom('events').select(['id', 'type', 'data']).where('user_id', '=', userId).execute();
  for (const row of rows) {
    const was = JSON.parse(row.data) as { updated_at?: unknown };
    // updated_at is no one's data but the version: receivers that order by it still can.
    const data = row.type.startsWith('session.') ? { ...was, user: stub } : { ...stub, ...(was.updated_at === undefined ? {} : { updated_at: was.updated_at }) };
    await trx.updateTable('events').set({ data: JSON.stringify(data), http_request: null }).where('id', '=', row.id).execute();
  }
}
