import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import type { SettingsStore } from '../instance/settings-store.js';
import type { InstanceSettings } from '../instance/settings.js';
import type { Db } from '../storage/database.js';
import type { CreateRoleInput } from './catalog.js';

/**
 * Ready-made role sets for the two shapes the seed apps use. Applying one adds
 * the roles the catalog lacks (existing ones are left as they are) and fills
 * the role settings and session claims that are still unset.
 */
export interface RolePreset {
  roles: CreateRoleInput[];
  defaultRole: string;
  signUpRoles: string[];
}

/** What apps that gate on roles read from a session token: sessionClaims.role, .dbId and .permissions. */
export const ROLE_SESSION_CLAIMS = {
  role: '{{user.public_metadata.role}}',
  dbId: '{{user.public_metadata.dbId}}',
  permissions: '{{user.permissions}}',
};

const own = 'profile:manage';

export const ROLE_PRESETS: Record<'marketplace' | 'community', RolePreset> = {
  /** A marketplace (seed 000): customers buy, store owners sell, admins run the platform. */
  marketplace: {
    roles: [
      { key: 'customer', name: 'Customer', description: 'Places orders, manages a cart and their own data.',
        permissions: ['order:create', 'cart:manage', own] },
      { key: 'store_owner', name: 'Store owner', description: 'Manages their store, its products, orders and settings.',
        permissions: ['store:manage', 'product:manage', 'order:manage', own] },
      { key: 'admin', name: 'Administrator', description: 'Runs the platform: approves stores, reads analytics, manages everything.',
        permissions: ['platform:manage', 'store:approve', 'analytics:read', 'store:manage', 'product:manage', 'order:manage', 'user:manage', own] },
    ],
    defaultRole: 'customer',
    signUpRoles: ['customer', 'store_owner'],
  },
  /** A community or shop with staff (seed 004): users, moderators who handle orders, admins. */
  community: {
    roles: [
      { key: 'user', name: 'User', description: 'A signed-up member.', permissions: [own] },
      { key: 'moderator', name: 'Moderator', description: 'Updates order status and moderates content.',
        permissions: ['order:update', 'content:moderate', own] },
      { key: 'admin', name: 'Administrator', description: 'Manages products, orders and users.',
        permissions: ['product:create', 'product:manage', 'order:update', 'content:moderate', 'user:manage', own] },
    ],
    defaultRole: 'user',
    signUpRoles: [],
  },
};

export type PresetName = keyof typeof ROLE_PRESETS;
export const PRESET_NAMES = Object.keys(ROLE_PRESETS) as PresetName[];

/** Adds a preset's missing roles, then fills unset role settings and session claims. Idempotent. */
export async function applyPreset(db: Db, clock: Clock, settings: SettingsStore, name: PresetName): Promise<string[]> {
  const preset = ROLE_PRESETS[name];
  const created = await db.transaction().execute(async (trx) => {
    const now = clock.now();
    // Roles that exist stay as they are, also when another instance adds them at the same moment.
    const inserted = await trx.insertInto('roles')
      .values(preset.roles.map((r) => ({ ...r, permissions: JSON.stringify(r.permissions), created_at: now, updated_at: now })))
      .onConflict((oc) => oc.column('key').doNothing()).returning('key').execute();
    const created = inserted.map((r) => r.key);
    if (created.length) await recordAudit(trx, now, { type: 'role.preset_applied', target: { type: 'role_preset', id: name }, data: { created } });
    return created;
  });
  await settings.update((stored) => {
    const patch: Partial<InstanceSettings> = {};
    if (stored.default_role === null) patch.default_role = preset.defaultRole;
    if (stored.sign_up_roles.length === 0 && preset.signUpRoles.length) patch.sign_up_roles = preset.signUpRoles;
    if (Object.keys(stored.session_claims).length === 0) patch.session_claims = ROLE_SESSION_CLAIMS;
    return patch;
  }, undefined, db);
  return created;
}
