import { Hono } from 'hono';
import { z } from 'zod';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { devEmailJson, listDevEmails } from '../../mail/dev-outbox.js';
import type { Services } from '../../services.js';
import { queryParams } from '../body.js';

const outboxSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).default(0),
  // `to_email_address=a&to_email_address=b` keeps either recipient.
  to_email_address: z.array(z.string()).default([]),
});

/**
 * GET /v1/dev/outbox: the emails a development instance has sent, newest first
 * (codes included, so tests and developers need no mailbox). Production
 * instances store no emails and answer 404.
 */
export function devOutboxRoutes(s: Services) {
  const app = new Hono();
  app.get('/', async (c) => {
    // The environment is fixed when the instance is created; one indexed row.
    const { environment } = await s.db.selectFrom('instance').select('environment').executeTakeFirstOrThrow();
    if (environment !== 'development') {
      throw new LatchkeyError('not_found', 'resource_not_found', 'not found',
        'The development outbox exists only on development instances.');
    }
    const q = queryParams(c, outboxSchema, ['to_email_address']);
    const page = await listDevEmails(s.db, { limit: q.limit, offset: q.offset, to: q.to_email_address });
    return c.json({ data: page.data.map(devEmailJson), total_count: page.totalCount });
  });
  return app;
}
