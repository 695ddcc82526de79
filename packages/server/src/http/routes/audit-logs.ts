import { Hono } from 'hono';
import { z } from 'zod';
import { auditLogJson, listAuditLogs } from '../../audit/audit-log.js';
import type { Services } from '../../services.js';
import { queryParams } from '../body.js';

const auditQuery = z.strictObject({
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  target_id: z.string().max(200).optional(),
  types: z.array(z.string().max(100)).default([]).transform((v) => v.flatMap((t) => t.split(',')).filter(Boolean)),
});

/** GET /v1/audit_logs: entries oldest first; page with `after=<next_after>`. */
export function auditLogRoutes(s: Services) {
  const app = new Hono();
  app.get('/', async (c) => {
    const q = queryParams(c, auditQuery, ['types']);
    const page = await listAuditLogs(s.db, { after: q.after, limit: q.limit, targetId: q.target_id, types: q.types });
    const data = page.data.map(auditLogJson);
    return c.json({ object: 'list', data, has_more: page.hasMore, next_after: data.at(-1)?.sequence ?? q.after });
  });
  return app;
}
