import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { claimDue } from '../../src/webhooks/queue.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * Replays that make an older message pending behind a newer pending one: the
 * chain's head moves to the older one (claiming needs the chain's earliest), so
 * nothing waits forever. Delivery is off: the queue is driven by hand.
 */
describe.each(dialects())('replays keep every chain claimable (%s)', (dialect) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(dialect, { env: { LATCHKEY_WEBHOOK_DELIVERY: 'off' } });
  });
  afterAll(() => server?.close());

  const call = async (method: string, path: string, json?: unknown) => {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    expect(res.status, `${method} ${path}`).toBe(200);
    return (await res.json()) as { id: string; data?: { id: string; event_sequence?: number }[] };
  };
  const heads = async (endpointId: string) =>
    (await server.db.selectFrom('webhook_messages').select(['id', 'is_head', 'status']).where('endpoint_id', '=', endpointId)
      .orderBy('event_sequence').execute()).map((m) => [m.id, m.status, m.is_head]);

  it('replaying the newest, then older ones, before any is delivered: the oldest becomes the head and is claimed first', async () => {
    const endpoint = await call('POST', '/v1/webhook_endpoints', { url: 'http://127.0.0.1:9/hook' });
    const user = await call('POST', '/v1/users', { email_address: ['chain@example.com'] });
    for (const name of ['A', 'B', 'C']) await call('PATCH', `/v1/users/${user.id}`, { first_name: name });
    const ids = (await server.db.selectFrom('webhook_messages').select('id').where('endpoint_id', '=', endpoint.id)
      .orderBy('event_sequence').execute()).map((m) => m.id);
    expect(ids).toHaveLength(4);
    // All delivered long ago.
    await server.db.updateTable('webhook_messages').set({ status: 'succeeded', is_head: 0 }).where('endpoint_id', '=', endpoint.id).execute();

    for (const i of [3, 2, 0]) await call('POST', `/v1/webhook_messages/${ids[i]}/replay`);
    expect(await heads(endpoint.id)).toEqual([
      [ids[0], 'pending', 1], [ids[1], 'succeeded', 0], [ids[2], 'pending', 0], [ids[3], 'pending', 0],
    ]);
    const now = Date.now();
    const claimed = await claimDue(server.db, dialect, { owner: 'test', now, leaseUntil: now + 60_000, limit: 10, skipEndpoints: [] });
    expect(claimed.map((c) => c.id)).toEqual([ids[0]]);
  });
});
