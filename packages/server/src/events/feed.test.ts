import { describe, expect, it } from 'vitest';
import { eventBody, eventJson, type StoredEvent } from './feed.js';

/** An event as the outbox stores it: `data` is the JSON.stringify of the object. */
function stored(sequence: number, type: string, data: unknown, origin?: { client_ip: string; user_agent: string }): StoredEvent {
  return {
    sequence, id: `evt_${sequence}x`, type, data: JSON.stringify(data), user_id: 'user_1', created_at: 1_893_456_000_123 + sequence,
    http_request: origin ? JSON.stringify(origin) : null,
  };
}

const EVENTS: StoredEvent[] = [
  stored(1, 'user.created', { object: 'user', id: 'user_1', first_name: null, public_metadata: {} }),
  stored(2, 'user.updated', {
    object: 'user', id: 'user_1', first_name: 'Zoë', last_name: '山田 🔑', bio: 'line\nbreak\t"quoted" \\ back',
    separators: '\u2028\u2029', control: '\u0001', lone: '\ud800',
  }),
  stored(3, 'session.created', {
    object: 'session', id: 'sess_1', user: { object: 'user', id: 'user_1', email_addresses: [{ id: 'idn_1', verified: true }] },
    public_metadata: { deep: { deeper: { list: [1, -2.5, 1e21, 0, true, false, null, 'x', [], {}] } } },
  }),
  stored(4_000_000_000, 'session.revoked', []),
  stored(5, 'user.updated', { object: 'user', id: 'user_1' }, { client_ip: '::ffff:127.0.0.1', user_agent: 'Mozilla/5.0 "quoted" 😀' }),
];

describe('eventBody', () => {
  it.each(EVENTS.map((e) => [e.type, e.sequence, e] as const))('is eventJson as compact JSON (%s #%s)', (_t, _s, e) => {
    expect(eventBody(e, 'ins_1')).toBe(JSON.stringify(eventJson(e, 'ins_1')));
  });

  it('keeps the stored data text byte for byte, in the documented envelope order', () => {
    const e = EVENTS[1]!;
    const body = eventBody(e, 'ins_"q"');
    expect(body).toContain(`"data":${e.data},`);
    expect(Object.keys(JSON.parse(body) as object))
      .toEqual(['object', 'id', 'sequence', 'type', 'data', 'timestamp', 'instance_id', 'event_attributes']);
    expect(JSON.parse(body)).toEqual({
      object: 'event', id: e.id, sequence: e.sequence, type: e.type, data: JSON.parse(e.data),
      timestamp: e.created_at, instance_id: 'ins_"q"',
      // Not made over HTTP: Clerk's shape, empty.
      event_attributes: { http_request: { client_ip: '', user_agent: '' } },
    });
  });

  it('carries the request an event came from as Clerk\'s event_attributes.http_request', () => {
    expect(JSON.parse(eventBody(EVENTS[4]!, 'ins_1')).event_attributes)
      .toEqual({ http_request: { client_ip: '::ffff:127.0.0.1', user_agent: 'Mozilla/5.0 "quoted" 😀' } });
  });
});
