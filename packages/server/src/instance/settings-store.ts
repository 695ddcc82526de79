import type { Clock } from '../clock/clock.js';
import type { Db } from '../storage/database.js';
import { instanceSettingsSchema, type InstanceSettings } from './settings.js';

/**
 * The instance's settings, held in memory for the hot paths and re-read every
 * few seconds so a change made through another instance reaches this one.
 */
export class SettingsStore {
  private current!: InstanceSettings;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db, private readonly clock: Clock) {}

  async reload(): Promise<void> {
    const row = await this.db.selectFrom('instance').select('settings').executeTakeFirstOrThrow();
    // Parsing fills defaults for settings added after the instance was created.
    this.current = instanceSettingsSchema.parse(JSON.parse(row.settings));
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
   * through different instances both land.
   */
  async update(patch: Partial<InstanceSettings>): Promise<InstanceSettings> {
    const next = await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('instance').set((eb) => ({ updated_at: eb.ref('updated_at') })).execute();
      const row = await trx.selectFrom('instance').select('settings').executeTakeFirstOrThrow();
      const merged = instanceSettingsSchema.parse({ ...JSON.parse(row.settings), ...patch });
      await trx.updateTable('instance').set({ settings: JSON.stringify(merged), updated_at: this.clock.now() }).execute();
      return merged;
    });
    this.current = next;
    return next;
  }
}
