import { Hono } from 'hono';
import { z } from 'zod';
import { createRole, createRoleSchema, deleteRole, getRole, listRoles, roleJson, updateRole, updateRoleSchema, type Role } from '../../roles/catalog.js';
import { applyPreset, PRESET_NAMES } from '../../roles/presets.js';
import type { Services } from '../../services.js';
import { jsonBody } from '../body.js';

const presetBody = z.strictObject({ preset: z.enum(PRESET_NAMES as [string, ...string[]]) });

/** Backend API: /v1/roles, the role catalog. */
export function roleRoutes(s: Services) {
  const app = new Hono();
  const { clock } = s;
  const json = (r: Role) => roleJson(r, s.settings.get());
  const list = async () => {
    const data = (await listRoles(s.db)).map(json);
    return { object: 'list', data, total_count: data.length };
  };
  // Changes here reach this instance's token minting at once, others' within seconds.
  const changed = <T>(value: T) => s.roles.reload().then(() => value);

  app.get('/', async (c) => c.json(await list()));
  app.post('/', async (c) => c.json(json(await changed(await createRole(c.var.db, clock, await jsonBody(c, createRoleSchema))))));
  /** Adds a ready-made role set (marketplace: customer/store_owner/admin; community: user/moderator/admin). */
  app.post('/presets', async (c) => {
    const { preset } = await jsonBody(c, presetBody);
    await changed(await applyPreset(c.var.db, clock, s.settings, preset as (typeof PRESET_NAMES)[number]));
    return c.json(await list());
  });
  app.get('/:key', async (c) => c.json(json(await getRole(c.var.db, c.req.param('key')))));
  app.patch('/:key', async (c) =>
    c.json(json(await changed(await updateRole(c.var.db, clock, c.req.param('key'), await jsonBody(c, updateRoleSchema))))));
  app.delete('/:key', async (c) => {
    await changed(await deleteRole(c.var.db, clock, c.req.param('key')));
    return c.json({ object: 'role', key: c.req.param('key'), deleted: true });
  });
  return app;
}
