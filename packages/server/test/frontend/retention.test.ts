import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { purgeExpiredSignUps } from '../../src/frontend/retention.js';
import { codeFor as codeFromOutbox } from '../support/dev-outbox.js';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';

/**
 * Sign-ups and one-time codes do not pile up: the hourly retention deletes a
 * sign-up once it has expired (24 h after its start, completed or not) and a
 * code a day after it expired. Time moves only when the test moves it.
 */
const HOUR = 3_600_000;
const PASSWORD = 'a sturdy long password';

describe.each(dialects())('retention of sign-ups and codes (%s)', (dialect) => {
  let server: TestServer;
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    server = await startServer(dialect, { clock });
  });
  afterAll(() => server?.close());

  const call = (path: string, json: unknown, token?: string) => nativeCall(server, 'POST', path, json, token);
  const codeFor = (to: string) => codeFromOutbox(server, to, 'verification_code');
  const signUpIds = async () => (await server.db.selectFrom('sign_ups').select('id').execute()).map((r) => r.id).sort();
  const codeCount = async () => Number((await server.db.selectFrom('email_codes').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);

  it('deletes sign-ups at their expiry, completed or abandoned, and codes a day after theirs; nothing earlier', async () => {
    const t0 = clock.now();
    const abandoned = await call('/v1/client/sign_ups', { email_address: 'abandoned@example.com', password: PASSWORD, first_name: 'Abe' });
    expect(abandoned.status).toBe(200);
    const completed = await call('/v1/client/sign_ups', { email_address: 'completed@example.com', password: PASSWORD });
    expect(completed.status).toBe(200);
    const verified = await call(`/v1/client/sign_ups/${completed.body.response.id}/attempt_verification`,
      { code: await codeFor('completed@example.com') }, completed.token);
    expect(verified.status).toBe(200);
    expect((await call('/v1/client/sign_ins/email_code', { identifier: 'completed@example.com' })).status).toBe(200);
    const both = [abandoned.body.response.id, completed.body.response.id].sort();
    expect(await signUpIds()).toEqual(both);
    const codes = await codeCount();
    expect(codes).toBe(3);

    // Codes have expired (10 min), sign-ups have not: nothing goes.
    clock.set(t0 + HOUR);
    expect(await purgeExpiredSignUps(server.db, clock.now())).toEqual({ signUps: 0, codes: 0 });

    // A sign-up started a day later stays while the first two go at their expiry.
    clock.set(t0 + 24 * HOUR - 1);
    const later = await call('/v1/client/sign_ups', { email_address: 'later@example.com', password: PASSWORD });
    expect(later.status).toBe(200);
    expect(await purgeExpiredSignUps(server.db, clock.now())).toEqual({ signUps: 0, codes: 0 });
    clock.set(t0 + 24 * HOUR);
    expect(await purgeExpiredSignUps(server.db, clock.now())).toEqual({ signUps: 2, codes: 0 });
    expect(await signUpIds()).toEqual([later.body.response.id]);

    // The first three codes a day after their expiry; the later sign-up's code stays.
    clock.set(t0 + 24 * HOUR + 10 * 60_000);
    expect(await purgeExpiredSignUps(server.db, clock.now())).toEqual({ signUps: 0, codes: 3 });
    expect(await codeCount()).toBe(1);
    // The user the completed sign-up made is untouched, and signs in.
    expect((await call('/v1/client/sign_ins', { identifier: 'completed@example.com', password: PASSWORD })).status).toBe(200);
  });
});
