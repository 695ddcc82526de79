import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';
import type { FeedEvent, Message, MessageDetail } from '../support/webhook-api.js';

/**
 * Per-user ordering, on the real clock: an endpoint gets one user's events in
 * order, so while that user's oldest message is in retry their later ones wait,
 * and other users' events keep flowing. Ordering is per endpoint: another
 * endpoint that is healthy gets the same user's events at once.
 */


interface Receipt {
  msgId: string;
  event: FeedEvent;
  status: number;
}

/** An app's webhook route that answers what `answer` says, and logs every request in arrival order. */
class Receiver {
  readonly log: Receipt[] = [];
  private constructor(private readonly server: Server, readonly url: string) {}

  static async start(answer: (e: FeedEvent) => number): Promise<Receiver> {
    let receiver: Receiver | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as FeedEvent;
        const status = answer(event);
        receiver!.log.push({ msgId: String(req.headers['webhook-id']), event, status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver = new Receiver(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks`);
    return receiver;
  }

  /** Sequences of the events about `userId` that were accepted (2xx), in arrival order. */
  accepted(userId: string): number[] {
    return this.log.filter((r) => r.event.data.id === userId && r.status === 200).map((r) => r.event.sequence);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

describe.each(dialects())('per-user delivery order (%s)', (dialect) => {
  let server: TestServer;
  let flaky: Receiver;
  let healthy: Receiver;
  /** Whether the flaky receiver has been fixed for user A. */
  let aFixed = false;
  let userA = '';

  beforeAll(async () => {
    // Rejects every event about user A until fixed; takes everything else.
    flaky = await Receiver.start((e) => (e.data.id === userA && !aFixed ? 500 : 200));
    healthy = await Receiver.start(() => 200);
    server = await startServer(dialect, { webhookPollMs: 50 });
  });
  afterAll(async () => {
    await server?.close();
    await flaky?.close();
    await healthy?.close();
  });

  const json = async <T>(res: Response | Promise<Response>): Promise<T> => {
    const r = await res;
    expect(r.status).toBe(200);
    return r.json() as Promise<T>;
  };
  const post = <T>(path: string, body: unknown = {}) => json<T>(server.api(path, { method: 'POST', json: body }));
  const messages = async (endpointId: string) =>
    (await json<{ data: Message[] }>(server.api(`/v1/webhook_endpoints/${endpointId}/messages?limit=500`))).data
      .sort((a, b) => a.event_sequence - b.event_sequence);
  const detail = (id: string) => json<MessageDetail>(server.api(`/v1/webhook_messages/${id}`));
  const update = (userId: string, n: number) =>
    json(server.api(`/v1/users/${userId}/metadata`, { method: 'PATCH', json: { public_metadata: { n } } }));

  it('holds back one user\'s later events while their first is in retry, and lets everyone else\'s through', async () => {
    const flakyEp = await post<{ id: string }>('/v1/webhook_endpoints', { url: flaky.url });
    const healthyEp = await post<{ id: string }>('/v1/webhook_endpoints', { url: healthy.url });

    // Three changes each, interleaved: A created, B created, A updated, B updated, A updated, B updated.
    const a = await post<{ id: string }>('/v1/users', { email_address: ['a@example.com'] });
    userA = a.id;
    const b = await post<{ id: string }>('/v1/users', { email_address: ['b@example.com'] });
    for (const n of [1, 2]) {
      await update(a.id, n);
      await update(b.id, n);
    }
    const events = (await json<{ data: FeedEvent[] }>(server.api('/v1/events?limit=500'))).data;
    const seqOf = (userId: string) => events.filter((e) => e.data.id === userId).map((e) => e.sequence);
    const [aSeq, bSeq] = [seqOf(a.id), seqOf(b.id)];
    expect(aSeq).toHaveLength(3);
    expect(bSeq).toHaveLength(3);

    // All of B's arrive, in order, while A's first is failing (its immediate retry done, the next one ~5 s away).
    const aMessages = () => messages(flakyEp.id).then((ms) => ms.filter((m) => aSeq.includes(m.event_sequence)));
    await waitFor('B\'s events delivered and A\'s first retried', async () => {
      const [a1] = await aMessages();
      return flaky.accepted(b.id).length === 3 && a1!.attempts >= 2 ? true : undefined;
    });
    expect(flaky.accepted(b.id)).toEqual(bSeq);
    const [a1, a2, a3] = await aMessages();
    expect(a1).toMatchObject({ status: 'pending', last_status_code: 500 });
    expect(a1!.next_attempt_at).not.toBeNull();
    // A's later messages were never attempted: nothing of theirs reached the receiver either.
    expect(a2).toMatchObject({ status: 'pending', attempts: 0 });
    expect(a3).toMatchObject({ status: 'pending', attempts: 0 });
    expect(flaky.log.filter((r) => r.event.data.id === a.id).every((r) => r.event.sequence === aSeq[0])).toBe(true);

    // Ordering is per endpoint: the healthy endpoint got all six already, each user in order.
    await waitFor('the healthy endpoint to get everything', () => (healthy.log.length >= 6 ? true : undefined));
    expect(healthy.accepted(a.id)).toEqual(aSeq);
    expect(healthy.accepted(b.id)).toEqual(bSeq);

    // The receiver is fixed; replay hurries A's pending first message instead of waiting for its schedule.
    aFixed = true;
    const replayed = await post<Message>(`/v1/webhook_messages/${a1!.id}/replay`);
    expect(replayed).toMatchObject({ id: a1!.id, status: 'pending' });
    expect(replayed.next_attempt_at).toBeLessThanOrEqual(Date.now());

    await waitFor('A\'s events delivered', () => (flaky.accepted(a.id).length === 3 ? true : undefined));
    expect(flaky.accepted(a.id)).toEqual(aSeq);
    // Nothing after A's first reached the receiver before A's first was accepted.
    const firstAccepted = flaky.log.findIndex((r) => r.event.sequence === aSeq[0] && r.status === 200);
    const firstLater = flaky.log.findIndex((r) => r.event.data.id === a.id && r.event.sequence !== aSeq[0]);
    expect(firstLater).toBeGreaterThan(firstAccepted);
    // B's all arrived before A's first was accepted: they did not wait for A.
    for (const s of bSeq) expect(flaky.log.findIndex((r) => r.event.sequence === s)).toBeLessThan(firstAccepted);

    // The attempt log agrees: A's later messages were attempted once each, after A's first succeeded, in order.
    const [d1, d2, d3] = await Promise.all((await aMessages()).map((m) => detail(m.id)));
    expect(d1!.status).toBe('succeeded');
    expect(d1!.attempt_list.length).toBeGreaterThanOrEqual(3);
    expect(d1!.attempt_list.slice(0, -1).every((x) => x.status === 'failed' && x.status_code === 500)).toBe(true);
    const success = d1!.attempt_list.at(-1)!;
    expect(success).toMatchObject({ status: 'succeeded', status_code: 200 });
    for (const d of [d2!, d3!]) {
      expect(d.status).toBe('succeeded');
      expect(d.attempt_list).toHaveLength(1);
      expect(d.attempt_list[0]!.attempted_at).toBeGreaterThanOrEqual(success.attempted_at);
    }
    expect(d3!.attempt_list[0]!.attempted_at).toBeGreaterThanOrEqual(d2!.attempt_list[0]!.attempted_at);
    // Each message went out under its own id, the one the API shows.
    for (const d of [d1!, d2!, d3!]) {
      expect(flaky.log.filter((r) => r.event.sequence === d.event_sequence).every((r) => r.msgId === d.id)).toBe(true);
    }
    expect((await messages(healthyEp.id)).every((m) => m.status === 'succeeded' && m.attempts === 1)).toBe(true);
  }, 90_000);
});
