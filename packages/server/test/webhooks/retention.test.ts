import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { applyRetention } from '../../src/webhooks/retention.js';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Waits until `fn` holds (true or a value). */
const until = <T>(what: string, fn: () => Promise<T | undefined | false>) => waitFor(what, async () => (await fn()) || undefined);

/** A receiver whose status code the test sets. */
async function receiver(status: () => number): Promise<{ url: string; server: Server; hits: () => number }> {
  let hits = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      hits += 1;
      res.statusCode = status();
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, server, hits: () => hits };
}

/** Retention: what ages out of the feed and the delivery history, and what is kept because it is still owed. */
describe.each(dialects())('retention of events, messages and attempts (%s)', (dialect) => {
  const clock = new ManualClock(Date.parse('2026-01-01T00:00:00Z'));
  let server: TestServer;
  let ok: Awaited<ReturnType<typeof receiver>>;
  let flaky: Awaited<ReturnType<typeof receiver>>;
  let gone: Awaited<ReturnType<typeof receiver>>;
  let flakyStatus = 500;

  beforeAll(async () => {
    server = await startServer(dialect, { clock, webhookPollMs: 10 });
    ok = await receiver(() => 204);
    flaky = await receiver(() => flakyStatus);
    gone = await receiver(() => 410);
  });
  afterAll(async () => {
    await server?.close();
    for (const r of [ok, flaky, gone]) r?.server.close();
  });

  const endpoint = async (url: string) => ((await server.api('/v1/webhook_endpoints', { method: 'POST', json: { url } })).json()) as Promise<{ id: string }>;
  const messages = async (id: string) =>
    ((await (await server.api(`/v1/webhook_endpoints/${id}/messages`)).json()) as { data: { id: string; status: string; event_sequence: number }[] }).data;
  const feed = async () => ((await (await server.api('/v1/events?limit=500')).json()) as { data: { sequence: number }[] }).data.map((e) => e.sequence);
  const count = async (table: 'webhook_attempts' | 'webhook_messages' | 'events') =>
    Number((await server.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  it('drops aged-out events, delivered and failed messages and attempts, but keeps an event a message still owes', async () => {
    const [delivered, owed, failed] = [await endpoint(ok.url), await endpoint(flaky.url), await endpoint(gone.url)];
    expect((await server.api('/v1/users', { method: 'POST', json: { email_address: ['old@example.com'] } })).status).toBe(200);
    const [oldEvent] = await feed();
    await until('the first deliveries', async () =>
      (await messages(delivered.id))[0]?.status === 'succeeded' && (await messages(failed.id))[0]?.status === 'failed'
      && flaky.hits() >= 2);
    expect((await messages(owed.id))[0]!.status).toBe('pending');

    // A day and an hour later (short of the 5 days that would disable the failing endpoint), with one-day retention.
    clock.advance(DAY + HOUR);
    const policy = { eventDays: 1, webhookDays: 1 };
    expect((await server.api('/v1/users', { method: 'POST', json: { email_address: ['new@example.com'] } })).status).toBe(200);
    const [, newEvent] = await feed();
    await until('the new event delivered', async () => (await messages(delivered.id)).some((m) => m.event_sequence === newEvent && m.status === 'succeeded'));
    const attemptsBefore = await count('webhook_attempts');

    const removed = await applyRetention(server.db, clock.now(), policy);
    // The delivered and the failed message of the old event are gone, with their attempts; the owed one stays.
    expect((await messages(delivered.id)).map((m) => m.event_sequence)).toEqual([newEvent]);
    expect(await messages(failed.id)).toEqual([]);
    expect((await messages(owed.id)).map((m) => [m.event_sequence, m.status])).toEqual([[newEvent, 'pending'], [oldEvent, 'pending']]);
    expect(removed.messages).toBe(2);
    expect(removed.attempts).toBeGreaterThanOrEqual(4);
    // (The worker keeps trying the owed message meanwhile, so count what is left by age, not by difference.)
    const agedAttempts = await server.db.selectFrom('webhook_attempts').select('id')
      .where('attempted_at', '<', clock.now() - DAY).execute();
    expect(agedAttempts).toEqual([]);
    expect(attemptsBefore).toBeGreaterThan(removed.attempts);
    // The old event is past retention but a pending message still has to send it.
    expect(removed.events).toBe(0);
    expect(await feed()).toEqual([oldEvent, newEvent]);

    // Once the owed messages are delivered, the old event ages out too; the recent delivery records stay.
    flakyStatus = 200;
    // (Two users, two independent chains: each waits for its own next retry, hurried here.)
    for (const m of await messages(owed.id)) await server.api(`/v1/webhook_messages/${m.id}/replay`, { method: 'POST' });
    await until('the owed deliveries', async () => (await messages(owed.id)).every((m) => m.status === 'succeeded'));
    const second = await applyRetention(server.db, clock.now(), policy);
    expect(second.events).toBe(1);
    expect(await feed()).toEqual([newEvent]);
    expect((await messages(owed.id)).map((m) => m.status)).toEqual(['succeeded', 'succeeded']);

    // Nothing is older than the window now: a further run removes nothing.
    expect(await applyRetention(server.db, clock.now(), policy)).toEqual({ events: 0, messages: 0, attempts: 0 });
  });
});
