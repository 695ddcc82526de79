import { Hono } from 'hono';
import { settingsPatchSchema, type InstanceSettings } from '../../instance/settings.js';
import { checkRoleSettings } from '../../roles/catalog.js';
import type { Services } from '../../services.js';
import { jsonBody } from '../body.js';

/** Backend API: /v1/instance, the instance and its settings. */
export function instanceRoutes(s: Services) {
  const app = new Hono();
  const json = (settings: InstanceSettings) => ({
    object: 'instance',
    id: s.instanceId,
    environment_type: s.publishableKey.startsWith('pk_live_') ? 'production' : 'development',
    issuer: s.config.publicUrl,
    publishable_key: s.publishableKey,
    ...settings,
  });
  app.get('/', (c) => c.json(json(s.settings.get())));
  app.patch('/', async (c) => {
    const patch = await jsonBody(c, settingsPatchSchema);
    return c.json(json(await s.settings.update(patch, checkRoleSettings, c.var.db)));
  });
  return app;
}
