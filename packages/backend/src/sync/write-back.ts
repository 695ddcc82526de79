import { LatchkeyApiError } from '../client/errors.js';
import type { LatchkeyClient } from '../client/client.js';
import type { User } from '../client/types.js';
import type { RowId } from './store.js';

/** Users whose dbId was written back recently; enough to absorb a reconcile run without growing forever. */
const REMEMBERED = 10_000;

/**
 * Writes the app's row id into the user's public_metadata.dbId, so the next
 * session token carries it (session claim `{{user.public_metadata.dbId}}`,
 * seed 003) and the app can find its row without a lookup.
 *
 * Each write is a user.updated of its own. An event that predates our write
 * still shows the old dbId (a replay, the feed during reconcile, a duplicate):
 * remembering the version our write produced keeps those from writing again.
 * An event after it that lacks the dbId (someone replaced the metadata) heals.
 */
export function dbIdWriter(client: Pick<LatchkeyClient, 'users'>) {
  const written = new Map<string, { rowId: RowId; version: number }>();
  return async function writeBack(user: User, version: number, rowId: RowId): Promise<void> {
    if (user.public_metadata.dbId === rowId) return;
    const mine = written.get(user.id);
    if (mine && mine.rowId === rowId && version < mine.version) return;
    let after: User;
    try {
      after = await client.users.updateMetadata(user.id, { public_metadata: { dbId: rowId } });
    } catch (err) {
      // Deleted meanwhile: its user.deleted is on the way and there is nothing to write to.
      if (err instanceof LatchkeyApiError && err.status === 404) return;
      throw err;
    }
    written.delete(user.id);
    if (written.size >= REMEMBERED) written.delete(written.keys().next().value!);
    written.set(user.id, { rowId, version: after.updated_at });
  };
}
