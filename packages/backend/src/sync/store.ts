import type { DeletedUserData, User } from '../client/types.js';

/** The app's id for its user row (a serial, a uuid…), written back as public_metadata.dbId. */
export type RowId = string | number;

/**
 * The app's database, as the sync kit needs it. The version of a row is the
 * `updated_at` of the Latchkey user it holds: it strictly increases with every
 * change, user.deleted included, so "newer version wins" orders webhooks,
 * replays and the event feed alike.
 *
 * Writes must be conditional on the version in the database itself (an upsert
 * with `WHERE version <= new version`): the kit checks `version()` first to
 * skip stale events cheaply, but two deliveries may pass that check at once.
 */
export interface UserStore {
  /** The stored version of the user's row, soft-deleted rows included; undefined when there is no row. */
  version(userId: string): Promise<number | undefined>;
  /**
   * Inserts or updates the row, unless it holds a newer version (the same
   * version may be rewritten: the data is the same). Returns the row's id
   * whenever it can (on updates too, not only on creation): the kit writes it
   * back as public_metadata.dbId when the user does not carry it yet.
   */
  upsert(user: User, version: number): Promise<RowId | null | undefined | void>;
  /**
   * Marks the row deleted at `version`, unless it holds a newer one. With no
   * row, leave a tombstone at that version, so that a stale user.created or
   * user.updated replayed afterwards cannot bring the user back.
   */
  softDelete(userId: string, version: number, data: DeletedUserData): Promise<void>;
  /**
   * Records a delivery id (svix-id); false when it was recorded before, and the
   * delivery is then acknowledged without being applied. Optional: versions
   * alone already make a duplicate harmless; this saves the work.
   */
  claimDelivery?(deliveryId: string): Promise<boolean>;
  /** Forgets a claimed delivery whose processing failed, so Latchkey's retry is applied rather than dropped as a duplicate. */
  releaseDelivery?(deliveryId: string): Promise<void>;
}
