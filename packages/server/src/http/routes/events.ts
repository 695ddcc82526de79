import { Hono } from 'hono';
import { z } from 'zod';
import { eventJson, listEvents } from '../../events/feed.js';
import { EVENT_TYPES } from '../../events/outbox.js';
import type { Services } from '../../services.js';
import { queryParams } from '../body.js';

const feedSchema = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  // `types=a,b` or `types=a&types=b`.
  types: z.array(z.string()).default([])
    .transform((v) => v.flatMap((t) => t.split(',')).filter(Boolean))
    .pipe(z.array(z.enum(EVENT_TYPES))),
});

/**
 * GET /v1/events: committed events in sequence order, for reconciliation after
 * downtime. Page with `after=<next_after>` until `has_more` is false.
 */
export function eventRoutes(s: Services) {
  const app = new Hono();
  app.get('/', async (c) => {
    const q = queryParams(c, feedSchema, ['types']);
    const page = await listEvents(s.db, q);
    const data = page.data.map((e) => eventJson(e, s.instanceId));
    return c.json({ object: 'list', data, has_more: page.hasMore, next_after: data.at(-1)?.sequence ?? q.after });
  });
  return app;
}
