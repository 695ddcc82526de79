import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { z } from 'zod';
import { auditLogJson, exportAuditLogs, listAuditLogs } from '../../audit/audit-log.js';
import type { Services } from '../../services.js';
import { queryParams } from '../body.js';

const ms = z.coerce.number().int().min(0);
const filters = {
  actor_type: z.enum(['user', 'operator', 'secret_key', 'system']).optional(),
  actor_id: z.string().max(200).optional(),
  target_type: z.string().max(100).optional(),
  target_id: z.string().max(200).optional(),
  types: z.array(z.string().max(100)).max(50).default([]).transform((v) => v.flatMap((t) => t.split(',')).filter(Boolean)),
  /** Time range on created_at, milliseconds, exclusive. */
  created_after: ms.optional(),
  created_before: ms.optional(),
};
const listQuery = z.strictObject({
  ...filters,
  /** asc: oldest first, page on with `after`; desc: newest first, page on with `before`. */
  order: z.enum(['asc', 'desc']).default('asc'),
  after: ms.optional(),
  before: ms.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const exportQuery = z.strictObject({ ...filters, after: ms.optional() });

const toQuery = (q: z.infer<typeof exportQuery>) => ({
  actorType: q.actor_type, actorId: q.actor_id, targetType: q.target_type, targetId: q.target_id, types: q.types,
  createdAfter: q.created_after, createdBefore: q.created_before, after: q.after,
});

/**
 * GET /v1/audit_logs: entries with filters and a cursor (the entry's
 * sequence); GET /v1/audit_logs/export: every matching entry, oldest first, as
 * JSON lines.
 */
export function auditLogRoutes(s: Services) {
  const app = new Hono();
  app.get('/', async (c) => {
    const q = queryParams(c, listQuery, ['types']);
    const page = await listAuditLogs(s.db, { ...toQuery(q), order: q.order, before: q.before, limit: q.limit });
    const data = page.data.map(auditLogJson);
    const last = data.at(-1)?.sequence;
    const cursor = q.order === 'asc' ? { next_after: last ?? q.after ?? 0 } : { next_before: last ?? q.before ?? null };
    return c.json({ object: 'list', data, has_more: page.hasMore, ...cursor });
  });
  app.get('/export', (c) => {
    const q = queryParams(c, exportQuery, ['types']);
    c.header('content-type', 'application/x-ndjson; charset=utf-8');
    c.header('content-disposition', 'attachment; filename="audit-log.jsonl"');
    return stream(c, async (out) => {
      for await (const entry of exportAuditLogs(s.db, toQuery(q))) await out.write(`${JSON.stringify(auditLogJson(entry))}\n`);
    });
  });
  return app;
}
