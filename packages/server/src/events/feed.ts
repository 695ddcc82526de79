import type { Db } from '../storage/database.js';
import type { EventTable } from '../storage/schema.js';
import type { EventType } from './types.js';

export type StoredEvent = Omit<EventTable, 'sequence'> & { sequence: number };

/** Committed events after `after`, in sequence order: the reconciliation feed. */
export async function listEvents(
  db: Db,
  q: { after: number; limit: number; types: EventType[] },
): Promise<{ data: StoredEvent[]; hasMore: boolean }> {
  let query = db.selectFrom('events').selectAll().where('sequence', '>', q.after);
  if (q.types.length) query = query.where('type', 'in', q.types);
  const rows = await query.orderBy('sequence').limit(q.limit + 1).execute();
  return { data: rows.slice(0, q.limit) as StoredEvent[], hasMore: rows.length > q.limit };
}

/** Clerk's webhook envelope, plus `sequence` (instance-wide, strictly increasing). */
export function eventJson(e: StoredEvent, instanceId: string) {
  return {
    object: 'event' as const,
    id: e.id,
    sequence: e.sequence,
    type: e.type,
    data: JSON.parse(e.data) as unknown,
    timestamp: e.created_at,
    instance_id: instanceId,
  };
}

/**
 * eventJson(e) as compact JSON text, built around the stored `data` text rather
 * than parsing and re-serialising it: the exact bytes a webhook signs and sends.
 */
export function eventBody(e: StoredEvent, instanceId: string): string {
  return `{"object":"event","id":${JSON.stringify(e.id)},"sequence":${e.sequence},"type":${JSON.stringify(e.type)},`
    + `"data":${e.data},"timestamp":${e.created_at},"instance_id":${JSON.stringify(instanceId)}}`;
}
