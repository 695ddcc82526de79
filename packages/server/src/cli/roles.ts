import { parseArgs } from 'node:util';
import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { validate } from '../http/body.js';
import { readStoredSettings, SettingsStore } from '../instance/settings-store.js';
import { createRole, createRoleSchema, deleteRole, listRoles, roleJson, updateRole, updateRoleSchema } from '../roles/catalog.js';
import { applyPreset, PRESET_NAMES, type PresetName } from '../roles/presets.js';
import { list, noMoreArguments, UsageError, withStorage } from './shared.js';

const roleFlags = { name: { type: 'string' }, description: { type: 'string' }, permissions: { type: 'string' } } as const;

/** latchkey roles list | create | update | delete | preset */
export async function roles(config: Config, sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'list':
      noMoreArguments('roles list', args);
      return withStorage(config, async ({ db }) => {
        const settings = await readStoredSettings(db);
        const all = await listRoles(db);
        if (all.length === 0) process.stdout.write('No roles. Add some with `latchkey roles create` or `latchkey roles preset <name>`.\n');
        for (const r of all.map((role) => roleJson(role, settings))) {
          const marks = [r.is_default && 'default', r.allowed_at_sign_up && 'sign-up'].filter(Boolean).join(', ');
          process.stdout.write(`${r.key}  ${r.name}${marks ? `  (${marks})` : ''}  permissions: ${r.permissions.join(',') || '-'}\n`);
        }
      });
    case 'create':
    case 'update': {
      const [key, ...flags] = args;
      if (!key || key.startsWith('--')) throw new UsageError(`latchkey roles ${sub} <key> --name <name> [--description <text>] [--permissions a:b,c:d]`);
      const { values } = parseArgs({ args: flags, options: roleFlags });
      const fields = { name: values.name, description: values.description, permissions: list(values.permissions) };
      return withStorage(config, async ({ db }) => {
        const role = sub === 'create'
          ? await createRole(db, systemClock, validate(createRoleSchema, { key, ...fields }))
          : await updateRole(db, systemClock, key, validate(updateRoleSchema, fields));
        process.stdout.write(`${sub === 'create' ? 'Created' : 'Updated'} role ${role.key} (${role.permissions.join(',') || 'no permissions'}).\n`);
      });
    }
    case 'delete': {
      const [key, ...extra] = args;
      if (!key) throw new UsageError('latchkey roles delete <key>');
      noMoreArguments('roles delete <key>', extra);
      return withStorage(config, async ({ db }) => {
        await deleteRole(db, systemClock, key);
        process.stdout.write(`Deleted role ${key}.\n`);
      });
    }
    case 'preset': {
      const [name, ...extra] = args as [PresetName, ...string[]];
      if (!PRESET_NAMES.includes(name)) throw new UsageError(`latchkey roles preset <${PRESET_NAMES.join('|')}>`);
      noMoreArguments(`roles preset ${name}`, extra);
      return withStorage(config, async ({ db }) => {
        const settings = new SettingsStore(db, systemClock);
        const created = await applyPreset(db, systemClock, settings, name);
        process.stdout.write(created.length ? `Added roles: ${created.join(', ')}.\n` : 'Every role of that preset exists already.\n');
      });
    }
  }
  throw new UsageError(`Unknown command: roles ${sub ?? ''}`);
}
