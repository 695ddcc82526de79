import { Hono } from 'hono';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { createUserSchema, metadataSchema, replaceMetadataSchema, updateUserSchema, userFilterSchema, userListSchema } from '../../users/schemas.js';
import { deletedUserJson, userJson as toJson } from '../../users/serialize.js';
import type { UserRecord } from '../../users/user-record.js';
import { countUsers, listUsers } from '../../users/store.js';
import { createUser, deleteUser, getUser, setLocked, updateUser, writeMetadata } from '../../users/users.js';
import { banSchema, banUser, unbanUser } from '../../users/suspension.js';
import { assignRole, assignRoleSchema } from '../../roles/assignment.js';
import { jsonBody, queryParams } from '../body.js';

const ARRAY_PARAMS = ['email_address', 'phone_number', 'username', 'user_id', 'external_id', 'web3_wallet', 'organization_id'];
const noBody = z.strictObject({});

/** Backend API: /v1/users (Clerk-compatible). */
export function userRoutes(s: Services) {
  const app = new Hono();
  const { clock } = s;
  const userJson = (rec: UserRecord) => toJson(rec, clock.now());

  app.get('/', async (c) => {
    const q = queryParams(c, userListSchema, ARRAY_PARAMS);
    const users = await listUsers(c.var.db, q, { limit: q.limit, offset: q.offset, orderBy: q.order_by });
    return c.json(users.map(userJson));
  });
  app.get('/count', async (c) => {
    const q = queryParams(c, userFilterSchema, ARRAY_PARAMS);
    return c.json({ object: 'total_count', total_count: await countUsers(c.var.db, q) });
  });
  // Passwords an operator sets must be as strong as the ones end users choose (skip_password_checks skips it, as in Clerk).
  const minStrength = () => s.settings.get().password_min_strength;
  app.post('/', async (c) => c.json(userJson(await createUser(c.var.db, clock, await jsonBody(c, createUserSchema), minStrength()))));
  app.get('/:id', async (c) => c.json(userJson(await getUser(c.var.db, c.req.param('id')))));
  app.patch('/:id', async (c) =>
    c.json(userJson(await updateUser(c.var.db, clock, c.req.param('id'), await jsonBody(c, updateUserSchema), { passwordMinStrength: minStrength() }))));
  app.delete('/:id', async (c) => {
    const { id } = await deleteUser(c.var.db, clock, c.req.param('id'));
    return c.json(deletedUserJson(id));
  });
  app.patch('/:id/metadata', async (c) =>
    c.json(userJson(await writeMetadata(c.var.db, clock, c.req.param('id'), await jsonBody(c, metadataSchema), 'merge'))));
  app.put('/:id/metadata', async (c) =>
    c.json(userJson(await writeMetadata(c.var.db, clock, c.req.param('id'), await jsonBody(c, replaceMetadataSchema), 'replace'))));

  // Clerk's SDK bans with no body; Latchkey also takes { reason, until }.
  app.post('/:id/ban', async (c) => c.json(userJson(await banUser(c.var.db, clock, c.req.param('id'), await jsonBody(c, banSchema)))));
  app.post('/:id/unban', async (c) => {
    await jsonBody(c, noBody);
    return c.json(userJson(await unbanUser(c.var.db, clock, c.req.param('id'))));
  });
  for (const [action, on] of [['lock', true], ['unlock', false]] as const) {
    app.post(`/:id/${action}`, async (c) => {
      await jsonBody(c, noBody);
      return c.json(userJson(await setLocked(c.var.db, clock, c.req.param('id'), on)));
    });
  }
  /** Latchkey: set or remove the user's role (public_metadata.role), optionally revoking their sessions. */
  app.post('/:id/role', async (c) =>
    c.json(userJson(await assignRole(c.var.db, clock, c.req.param('id'), await jsonBody(c, assignRoleSchema)))));
  return app;
}
