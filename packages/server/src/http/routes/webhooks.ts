import { Hono, type Context } from 'hono';
import { z } from 'zod';
import type { Services } from '../../services.js';
import {
  createEndpoint, createEndpointSchema, currentSecret, deleteEndpoint, endpointJson, getEndpoint, listEndpoints,
  rotateSecret, updateEndpoint, updateEndpointSchema, type Actor, type EndpointDeps,
} from '../../webhooks/endpoints.js';
import {
  attemptJson, listMessages, messageDetail, messageJson, recoverMissing, replayFailed, replayMessage,
} from '../../webhooks/messages.js';
import { recordAudit } from '../../audit/audit-log.js';
import { eventJson } from '../../events/feed.js';
import { jsonBody, queryParams } from '../body.js';

const messagesQuery = z.strictObject({
  status: z.enum(['pending', 'succeeded', 'failed']).optional(),
  before: z.coerce.number().int().min(1).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const sinceBody = z.strictObject({
  /** Milliseconds since the epoch, like every Latchkey timestamp. */
  since: z.number().int().min(0),
});

/** The Backend API caller, for the audit log: the key's id, address and user agent come from the request (events/origin.ts). */
const API: Actor = { type: 'secret_key' };

/** Backend API: /v1/webhook_endpoints and their messages. */
export function webhookEndpointRoutes(s: Services) {
  const app = new Hono();
  const deps = (c: Context): EndpointDeps => ({ db: c.var.db, clock: s.clock, encryptionKey: s.config.encryptionKey, policy: s.webhookPolicy });
  const json = (e: Parameters<typeof endpointJson>[0], secret?: string) => endpointJson(e, s.clock.now(), secret);

  app.get('/', async (c) => {
    const data = (await listEndpoints(c.var.db)).map((e) => json(e));
    return c.json({ object: 'list', data, total_count: data.length });
  });
  app.post('/', async (c) => {
    const { endpoint, secret } = await createEndpoint(deps(c), await jsonBody(c, createEndpointSchema), API);
    return c.json(json(endpoint, secret));
  });
  app.get('/:id', async (c) => c.json(json(await getEndpoint(c.var.db, c.req.param('id')))));
  app.patch('/:id', async (c) =>
    c.json(json(await updateEndpoint(deps(c), c.req.param('id'), await jsonBody(c, updateEndpointSchema), API))));
  app.delete('/:id', async (c) => {
    await deleteEndpoint(deps(c), c.req.param('id'), API);
    return c.json({ object: 'webhook_endpoint', id: c.req.param('id'), deleted: true });
  });
  app.get('/:id/secret', async (c) => {
    const e = await getEndpoint(c.var.db, c.req.param('id'));
    // Who has seen a secret matters when one leaks.
    await recordAudit(c.var.db, s.clock.now(), { type: 'webhook_endpoint.secret_viewed', actor: API,
      target: { type: 'webhook_endpoint', id: e.id } });
    return c.json({ object: 'webhook_endpoint_secret', endpoint_id: e.id, secret: currentSecret(e, s.config.encryptionKey) });
  });
  app.post('/:id/rotate_secret', async (c) => {
    const { endpoint, secret } = await rotateSecret(deps(c), c.req.param('id'), API);
    return c.json(json(endpoint, secret));
  });
  app.get('/:id/messages', async (c) => {
    const q = queryParams(c, messagesQuery);
    const page = await listMessages(c.var.db, c.req.param('id'), q);
    const data = page.data.map(messageJson);
    return c.json({ object: 'list', data, has_more: page.hasMore, next_before: page.hasMore ? data.at(-1)!.event_sequence : null });
  });
  app.post('/:id/replay_failed', async (c) => {
    const { since } = await jsonBody(c, sinceBody);
    const replayed = await replayFailed(c.var.db, s.clock, c.req.param('id'), since, API);
    return c.json({ object: 'webhook_replay', endpoint_id: c.req.param('id'), since, replayed });
  });
  app.post('/:id/recover', async (c) => {
    const { since } = await jsonBody(c, sinceBody);
    const queued = await recoverMissing(c.var.db, s.clock, c.req.param('id'), since, API);
    return c.json({ object: 'webhook_recovery', endpoint_id: c.req.param('id'), since, queued });
  });
  return app;
}

/** Backend API: /v1/webhook_messages/{id} (with its attempts) and replay. */
export function webhookMessageRoutes(s: Services) {
  const app = new Hono();
  app.get('/:id', async (c) => {
    const { message, attempts, event } = await messageDetail(c.var.db, c.req.param('id'));
    return c.json({
      ...messageJson(message),
      event: event ? eventJson(event, s.instanceId) : null,
      attempt_list: attempts.map(attemptJson),
    });
  });
  app.post('/:id/replay', async (c) => c.json(messageJson(await replayMessage(c.var.db, s.clock, c.req.param('id'), API))));
  return app;
}
