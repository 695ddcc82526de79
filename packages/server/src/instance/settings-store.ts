import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import type { Db } from '../storage/database.js';
import { instanceSettingsSchema, type InstanceSettings } from './settings.js';

/** The stored settings (not any instance's cached copy), defaults filled in. */
export async function readStoredSettings(db: Db): Promise<InstanceSettings> {
  const row = await db.selectFrom('instance').select('settings').executeTakeFirstOrThrow();
  // Parsing fills defaults for settings added after the instance was created.
  return instanceSettingsSchema.parse(JSON.parse(row.settings));
}

type Patch = Partial<InstanceSettings>;

/** Locks the instance row (its settings) for the rest of the transaction; a no-op update, as SQLite has no FOR UPDATE. */
export async function lockInstance(trx: Db): Promise<void> {
  await trx.updateTable('instance').set((eb) => ({ updated_at: eb.ref('updated_at') })).execute();
}

/**
 * The instance's settings, held in memory for the hot paths and re-read every
 * few seconds so a change made through another instance reaches this one.
 */
export class SettingsStore {
  private current!: InstanceSettings;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db, private readonly clock: Clock) {}

  async reload(): Promise<void> {
    this.current = await readStoredSettings(this.db);
  }

  startAutoReload(intervalMs = 5_000, onError: (err: unknown) => void = () => {}): void {
    this.timer = setInterval(() => this.reload().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  get(): InstanceSettings {
    return this.current;
  }

  /**
   * Applies a validated partial update to the stored settings (not this
   * instance's possibly stale copy), under the row's lock, so concurrent PATCHes
   * through different instances both land. A function patch sees the stored
   * settings. A change is audited (instance.updated, with the names of the
   * settings that changed); an update that changes nothing writes nothing.
   * `acting` is the handle whose origin the audit entry records (events/origin.ts).
   */
  async update(patch: Patch | ((stored: InstanceSettings) => Patch), verify?: (trx: Db, patch: Patch) => Promise<void>,
    acting: Db = this.db): Promise<InstanceSettings> {
    const next = await acting.transaction().execute(async (trx) => {
      await lockInstance(trx);
      const stored = await readStoredSettings(trx);
      const given = typeof patch === 'function' ? patch(stored) : patch;
      // Under the instance lock, which changes that depend on the settings (deleting a role) take too.
      if (verify) await verify(trx, given);
      const merged = instanceSettingsSchema.parse({ ...stored, ...given });
      const changed = (Object.keys(merged) as (keyof InstanceSettings)[])
        .filter((k) => JSON.stringify(merged[k]) !== JSON.stringify(stored[k]));
      if (changed.length === 0) return merged;
      const now = this.clock.now();
      await trx.updateTable('instance').set({ settings: JSON.stringify(merged), updated_at: now }).execute();
      await recordAudit(trx, now, { type: 'instance.updated', target: { type: 'instance', id: 'instance' }, data: { fields: changed } });
      return merged;
    });
    this.current = next;
    return next;
  }
}
