import { DELETE_BATCH, deleteInBatches } from '../storage/batched-delete.js';
import type { Db } from '../storage/database.js';

/** An expired code is kept a day, so a late attempt still hears "expired" rather than "no code". */
const CODE_GRACE_MS = 24 * 3_600_000;

/**
 * Deletes sign-ups past their `expire_at` (completed or abandoned: either way
 * no one can read them any more, and an abandoned one holds an address, names,
 * a password digest and metadata of someone who never became a user) and
 * codes a day past theirs.
 */
export async function purgeExpiredSignUps(db: Db, now: number): Promise<{ signUps: number; codes: number }> {
  const signUps = await deleteInBatches(() => db.deleteFrom('sign_ups').where('id', 'in', (eb) =>
    eb.selectFrom('sign_ups').select('id').where('expire_at', '<=', now).limit(DELETE_BATCH)).executeTakeFirst());
  const codes = await deleteInBatches(() => db.deleteFrom('email_codes').where('id', 'in', (eb) =>
    eb.selectFrom('email_codes').select('id').where('expire_at', '<=', now - CODE_GRACE_MS).limit(DELETE_BATCH)).executeTakeFirst());
  return { signUps, codes };
}
