import { settledPage } from '../storage/commit-order.js';
import type { Db } from '../storage/database.js';
import type { EventTable } from '../storage/schema.js';
import type { EventType } from './types.js';

export type StoredEvent = Omit<EventTable, 'sequence'> & { sequence: number };

type Page = { data: StoredEvent[]; hasMore: boolean };
type FeedQuery = { after: number; limit: number; types: EventType[] };

function readPage(db: Db, q: FeedQuery): Promise<Page> {
  let query = db.selectFrom('events').selectAll().where('sequence', '>', q.after);
  if (q.types.length) query = query.where('type', 'in', q.types);
  return query.orderBy('sequence').limit(q.limit + 1).execute().then((rows) => ({
    data: rows.slice(0, q.limit).map((r) => ({ ...r, sequence: Number(r.sequence) })),
    hasMore: rows.length > q.limit,
  }));
}

/**
 * Committed events after `after`, in sequence order: the reconciliation feed.
 * A reader never misses an event that commits after a higher sequence (see
 * storage/commit-order.ts).
 */
export async function listEvents(db: Db, q: FeedQuery): Promise<Page> {
  return settledPage(db, 'events', q.after, () => readPage(db, q));
}

/** What events made outside an HTTP request carry in `event_attributes.http_request`. */
const NO_REQUEST = '{"client_ip":"","user_agent":""}';

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
    event_attributes: { http_request: JSON.parse(e.http_request ?? NO_REQUEST) as { client_ip: string; user_agent: string } },
  };
}

/**
 * eventJson(e) as compact JSON text, built around the stored `data` text rather
 * than parsing and re-serialising it: the exact bytes a webhook signs and sends.
 */
export function eventBody(e: StoredEvent, instanceId: string): string {
  return `{"object":"event","id":${JSON.stringify(e.id)},"sequence":${e.sequence},"type":${JSON.stringify(e.type)},`
    + `"data":${e.data},"timestamp":${e.created_at},"instance_id":${JSON.stringify(instanceId)},`
    + `"event_attributes":{"http_request":${e.http_request ?? NO_REQUEST}}}`;
}
