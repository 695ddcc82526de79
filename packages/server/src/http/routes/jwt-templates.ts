import { Hono } from 'hono';
import type { Services } from '../../services.js';
import {
  createTemplate, createTemplateSchema, deleteTemplate, getTemplate, listTemplates, templateJson,
  updateTemplate, updateTemplateSchema,
} from '../../tokens/jwt-templates.js';
import { jsonBody } from '../body.js';

/** Backend API: /v1/jwt_templates (Clerk's path and shapes). */
export function jwtTemplateRoutes(s: Services) {
  const app = new Hono();
  const { clock } = s;
  app.get('/', async (c) => {
    const data = (await listTemplates(c.var.db)).map(templateJson);
    return c.json({ data, total_count: data.length });
  });
  app.post('/', async (c) => c.json(templateJson(await createTemplate(c.var.db, clock, await jsonBody(c, createTemplateSchema)))));
  app.get('/:id', async (c) => c.json(templateJson(await getTemplate(c.var.db, c.req.param('id')))));
  app.patch('/:id', async (c) =>
    c.json(templateJson(await updateTemplate(c.var.db, clock, c.req.param('id'), await jsonBody(c, updateTemplateSchema)))));
  app.delete('/:id', async (c) => {
    await deleteTemplate(c.var.db, clock, c.req.param('id'));
    return c.json({ object: 'jwt_template', id: c.req.param('id'), deleted: true });
  });
  return app;
}
