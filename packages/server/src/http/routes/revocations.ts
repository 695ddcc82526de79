import { Hono } from 'hono';
import { z } from 'zod';
import { revocationsAfter, revocationSnapshot } from '../../revocations/revocations.js';
import type { Services } from '../../services.js';
import { queryParams } from '../body.js';

const query = z.strictObject({
  /** The cursor of the previous answer; without it, a snapshot. */
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(500),
});

/** GET /v1/revocations: for SDKs that refuse revoked sessions and suspended users without a round trip per request. */
export function revocationRoutes(s: Services) {
  const app = new Hono();
  app.get('/', async (c) => {
    const q = queryParams(c, query);
    return c.json(q.after === undefined ? await revocationSnapshot(s.db, s.clock.now()) : await revocationsAfter(s.db, q.after, q.limit));
  });
  return app;
}
