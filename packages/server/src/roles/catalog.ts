import { PostgresAdapter, sql, type SqlBool } from 'kysely';
import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import { lockInstance, readStoredSettings } from '../instance/settings-store.js';
import type { InstanceSettings } from '../instance/settings.js';
import { isUniqueViolation, type Db } from '../storage/database.js';
import type { RoleTable } from '../storage/schema.js';

/**
 * The instance's role catalog. A role is a key (what public_metadata.role
 * holds, the convention Clerk apps read), a name, a description and the
 * permissions it grants. Every write of a user's role is checked against it
 * (roles/assignment.ts); tokens carry the role's permissions (tokens/shortcodes.ts).
 */
export interface Role {
  key: string;
  name: string;
  description: string;
  permissions: string[];
  created_at: number;
  updated_at: number;
}

const permission = z.string().min(1).max(128)
  .regex(/^[A-Za-z0-9_.*-]+(:[A-Za-z0-9_.*-]+)*$/, 'must be words joined by ":", such as "store:manage"');
const fields = {
  name: z.string().trim().min(1).max(128),
  description: z.string().max(1024),
  permissions: z.array(permission).max(100).transform((p) => [...new Set(p)]),
};
export const createRoleSchema = z.strictObject({
  key: z.string().min(1).max(64).regex(/^[a-z][a-z0-9_-]*$/, 'must start with a lower-case letter and hold only a-z, 0-9, "_" and "-"'),
  name: fields.name,
  description: fields.description.default(''),
  permissions: fields.permissions.default([]),
});
export const updateRoleSchema = z.strictObject(fields).partial();
export type CreateRoleInput = z.infer<typeof createRoleSchema>;

export const fromRow = (r: RoleTable): Role => ({ ...r, permissions: JSON.parse(r.permissions) as string[] });

export function roleJson(r: Role, settings: InstanceSettings) {
  return {
    object: 'role' as const,
    key: r.key,
    name: r.name,
    description: r.description,
    permissions: r.permissions,
    /** New users get this role (instance setting default_role). */
    is_default: settings.default_role === r.key,
    /** End users may choose this role when they sign up (instance setting sign_up_roles). */
    allowed_at_sign_up: settings.sign_up_roles.includes(r.key),
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
}

export async function listRoles(db: Db): Promise<Role[]> {
  return (await db.selectFrom('roles').selectAll().orderBy('created_at').orderBy('key').execute()).map(fromRow);
}

export async function getRole(db: Db, key: string): Promise<Role> {
  const row = await db.selectFrom('roles').selectAll().where('key', '=', key).executeTakeFirst();
  if (!row) throw notFound('Role');
  return fromRow(row);
}

export async function createRole(db: Db, clock: Clock, input: CreateRoleInput): Promise<Role> {
  const now = clock.now();
  const row: RoleTable = { ...input, permissions: JSON.stringify(input.permissions), created_at: now, updated_at: now };
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('roles').values(row).execute();
      await recordAudit(trx, now, { type: 'role.created', target: { type: 'role', id: input.key }, data: { permissions: input.permissions } });
    });
  } catch (err) {
    if (isUniqueViolation(err)) {
      throw new LatchkeyError('unprocessable', 'form_identifier_exists', 'key is taken', `A role with the key "${input.key}" exists.`, { param_name: 'key' });
    }
    throw err;
  }
  return fromRow(row);
}

export async function updateRole(db: Db, clock: Clock, key: string, patch: z.infer<typeof updateRoleSchema>): Promise<Role> {
  return db.transaction().execute(async (trx) => {
    const current = await getRole(trx, key);
    const now = Math.max(clock.now(), current.updated_at + 1);
    const set = { ...patch, permissions: patch.permissions && JSON.stringify(patch.permissions), updated_at: now };
    await trx.updateTable('roles').set(set).where('key', '=', key).execute();
    await recordAudit(trx, now, { type: 'role.updated', target: { type: 'role', id: key }, data: { fields: Object.keys(patch), ...(patch.permissions ? { permissions: patch.permissions } : {}) } });
    return { ...current, ...patch, updated_at: now };
  });
}

/** Creates the roles that are missing and brings the others up to date (LATCHKEY_ROLES at start); audited as usual. */
export async function upsertRoles(db: Db, clock: Clock, roles: CreateRoleInput[]): Promise<void> {
  for (const role of roles) {
    const current = await db.selectFrom('roles').selectAll().where('key', '=', role.key).executeTakeFirst();
    if (!current) {
      // Another instance starting at the same moment may create it first: then it is up to date already.
      await createRole(db, clock, role).catch((err: unknown) => {
        if (!(err instanceof LatchkeyError && err.code === 'form_identifier_exists')) throw err;
      });
    } else if (current.name !== role.name || current.description !== role.description || current.permissions !== JSON.stringify(role.permissions)) {
      await updateRole(db, clock, role.key, { name: role.name, description: role.description, permissions: role.permissions });
    }
  }
}

/** How many live users hold the role (public_metadata.role). */
export async function holders(db: Db, key: string): Promise<number> {
  const role = db.getExecutor().adapter instanceof PostgresAdapter
    ? sql`(public_metadata::jsonb ->> 'role')`
    : sql`json_extract(public_metadata, '$.role')`;
  const row = await db.selectFrom('users').select((eb) => eb.fn.countAll<number>().as('n'))
    .where('deleted_at', 'is', null).where(sql<SqlBool>`${role} = ${key}`).executeTakeFirstOrThrow();
  return Number(row.n);
}

const inUse = (key: string, why: string, meta: Record<string, unknown>) =>
  new LatchkeyError('unprocessable', 'role_in_use', 'role is in use', `The role "${key}" cannot be deleted: ${why}.`, meta);

/** Deletes a role nobody holds and no setting names. */
export async function deleteRole(db: Db, clock: Clock, key: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    // Locked first, so a user write checking the role (assignment.ts) either commits before the count below or sees it gone.
    const lock = trx.selectFrom('roles').select('key').where('key', '=', key);
    if (!(await (trx.getExecutor().adapter instanceof PostgresAdapter ? lock.forUpdate() : lock).executeTakeFirst())) throw notFound('Role');
    await lockInstance(trx); // a concurrent settings change naming this role waits, then finds it gone
    const settings = await readStoredSettings(trx);
    if (settings.default_role === key) throw inUse(key, 'it is the default role (instance setting default_role)', { setting: 'default_role' });
    if (settings.sign_up_roles.includes(key)) throw inUse(key, 'users may pick it at sign-up (instance setting sign_up_roles)', { setting: 'sign_up_roles' });
    const users = await holders(trx, key);
    if (users > 0) throw inUse(key, `${users} user(s) hold it; give them another role first`, { user_count: users });
    await trx.deleteFrom('roles').where('key', '=', key).execute();
    await recordAudit(trx, clock.now(), { type: 'role.deleted', target: { type: 'role', id: key } });
  });
}

/** Refuses instance settings that name roles the catalog lacks (default_role, sign_up_roles). */
export async function checkRoleSettings(db: Db, patch: Partial<Pick<InstanceSettings, 'default_role' | 'sign_up_roles'>>): Promise<void> {
  const named = [...(patch.default_role ? [['default_role', patch.default_role]] : []), ...(patch.sign_up_roles ?? []).map((k) => ['sign_up_roles', k])];
  if (named.length === 0) return;
  const known = new Set((await db.selectFrom('roles').select('key').execute()).map((r) => r.key));
  for (const [param, key] of named) {
    if (!known.has(key!)) {
      throw new LatchkeyError('unprocessable', 'role_unknown', 'unknown role', `${param} names the role "${key}", which is not in the role catalog.`, { param_name: param });
    }
  }
}

/**
 * The catalog held in memory for token minting (a role's permissions), re-read
 * every few seconds like the settings, and at once after a change made here.
 */
export class RoleCatalog {
  private byKey = new Map<string, Role>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly db: Db) {}

  async reload(): Promise<void> {
    this.byKey = new Map((await listRoles(this.db)).map((r) => [r.key, r]));
  }

  startAutoReload(intervalMs = 5_000, onError: (err: unknown) => void = () => {}): void {
    this.timer = setInterval(() => this.reload().catch(onError), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The permissions of a role; none for no role or one not in the catalog. */
  permissionsOf(role: unknown): string[] {
    return typeof role === 'string' ? this.byKey.get(role)?.permissions ?? [] : [];
  }
}
