import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startCliServer } from '../support/cli.js';
import { freePort } from '../support/postgres.js';

/** What `latchkey start` applies from the environment is the operator's doing, as any other CLI change. */
describe('latchkey start: roles and settings from the environment', () => {
  it('are audited as the operator, without address or user agent', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-start-'));
    try {
      const server = await startCliServer({
        PORT: String(await freePort()),
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_ROLES: '[{"key":"editor","name":"Editor","permissions":["post:edit"]}]',
        LATCHKEY_ROLE_PRESET: 'community',
        LATCHKEY_INSTANCE_SETTINGS: '{"lockout_minutes":7}',
      });
      await server.stop();
      const db = new Database(join(dataDir, 'latchkey.db'), { readonly: true });
      const rows = db.prepare("select type, actor_type, actor_id, ip, user_agent from audit_logs where type like 'role.%' or type = 'instance.updated' order by sequence").all() as { type: string }[];
      db.close();
      let operator: string | null;
      try {
        operator = userInfo().username;
      } catch {
        operator = null;
      }
      // The roles, the preset (and the settings it fills in), then the settings.
      expect(rows.map((r) => r.type)).toEqual(['role.created', 'role.preset_applied', 'instance.updated', 'instance.updated']);
      for (const row of rows) expect(row).toMatchObject({ actor_type: 'operator', actor_id: operator, ip: null, user_agent: null });
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 60_000);
});
