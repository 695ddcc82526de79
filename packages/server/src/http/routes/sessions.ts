import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { invalidParam } from '../../errors/latchkey-error.js';
import type { Services } from '../../services.js';
import { sessionJson } from '../../sessions/serialize.js';
import { createSession, getSession, listSessions, revokeSession } from '../../sessions/sessions.js';
import { mintToken } from '../../tokens/mint.js';
import { jsonBody, queryParams } from '../body.js';

const listSchema = z.strictObject({
  user_id: z.string().optional(),
  client_id: z.string().optional(),
  status: z.enum(['active', 'ended', 'revoked', 'expired', 'removed', 'abandoned']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  paginated: z.enum(['true', 'false']).optional(),
});
const createSchema = z.strictObject({ user_id: z.string().min(1) });
const tokenSchema = z.strictObject({
  // Bounded so a retired signing key does not have to stay published for years.
  expires_in_seconds: z.number().int().min(1).max(604_800).optional(),
});

/** Backend API: /v1/sessions (Clerk-compatible), including token minting. */
export function sessionRoutes(s: Services) {
  const app = new Hono();
  const { clock } = s;

  app.get('/', async (c) => {
    const q = queryParams(c, listSchema);
    if (!q.user_id && !q.client_id) throw invalidParam('user_id', 'Give user_id or client_id.', 'form_param_missing');
    const page = await listSessions(c.var.db, clock, q, q);
    const data = page.data.map(sessionJson);
    return c.json(q.paginated === 'true' ? { data, total_count: page.total_count } : data);
  });
  app.post('/', async (c) => {
    const { user_id } = await jsonBody(c, createSchema);
    return c.json(sessionJson(await createSession(c.var.db, clock, s.settings.get(), user_id)));
  });
  app.get('/:sid', async (c) => c.json(sessionJson(await getSession(c.var.db, clock, c.req.param('sid')))));
  app.post('/:sid/revoke', async (c) => {
    await jsonBody(c, z.strictObject({}));
    return c.json(sessionJson(await revokeSession(c.var.db, clock, c.req.param('sid'))));
  });

  const token = async (c: Context) => {
    const body = await jsonBody(c, tokenSchema);
    const jwt = await mintToken({ ...s.mint, db: c.var.db }, c.req.param('sid')!, { template: c.req.param('template'), expiresInSeconds: body.expires_in_seconds });
    return c.json({ object: 'token', jwt });
  };
  app.post('/:sid/tokens', token);
  app.post('/:sid/tokens/:template', token);
  return app;
}
