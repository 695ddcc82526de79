import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nativeCall } from '../support/native-client.js';
import { dialects, startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/wait.js';

/**
 * An email address added to an account on /v1/me and never verified belongs to
 * no one: it signs no one in, and whoever proves it (a sign-up's code, adding it
 * on /v1/me) or an operator creating a user with it takes it from the account
 * that only added it. A verified or reserved address stays its holder's.
 */
const PASSWORD = 'a sturdy long password';
const LIMITS = { signInPerIp: { points: 1000, durationSec: 60 }, signUpPerIp: { points: 1000, durationSec: 60 } };

describe.each(dialects())('unproven email addresses (%s)', (dialect) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer(dialect, { env: { LATCHKEY_RATE_LIMITS: JSON.stringify(LIMITS) } });
  });
  afterAll(() => server?.close());

  const call = (method: string, path: string, json?: unknown, token?: string) => nativeCall(server, method, path, json, token);
  const backend = async (method: string, path: string, json?: unknown) => {
    const res = await server.api(path, { method, ...(json === undefined ? {} : { json }) });
    return { status: res.status, body: await res.json() };
  };

  /** A signed-in account (made through the Backend API, verified address), as a /v1 caller. */
  async function account(email: string) {
    const user = await backend('POST', '/v1/users', { email_address: [email], password: PASSWORD });
    expect(user.status).toBe(200);
    const res = await call('POST', '/v1/client/sign_ins', { identifier: email, password: PASSWORD });
    expect(res.status).toBe(200);
    return { id: user.body.id as string, me: (method: string, path: string, json?: unknown) => call(method, path, json, res.token) };
  }
  const mails = async (to: string): Promise<string[]> => {
    const list = await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent(to)}`)).json();
    return list.data.map((m: { body: string }) => /\b(\d{6})\b/.exec(m.body)![1]!);
  };
  const addresses = async (userId: string) =>
    (await backend('GET', `/v1/users/${userId}`)).body.email_addresses.map((e: { email_address: string }) => e.email_address) as string[];
  async function updatesOf(userId: string): Promise<number> {
    let after = 0;
    let count = 0;
    for (;;) {
      const page = (await backend('GET', `/v1/events?after=${after}&limit=500&types=user.updated`)).body;
      count += page.data.filter((e: { data: { id: string } }) => e.data.id === userId).length;
      after = page.next_after;
      if (!page.has_more) return count;
    }
  }

  it('an address only added signs no one in: sign-in, code sign-in and reset answer it as an unknown address', async () => {
    const squatter = await account('squatter-1@example.com');
    const victim = 'victim-1@example.com';
    expect((await squatter.me('POST', '/v1/me/email_addresses', { email_address: victim })).status).toBe(200);
    expect(await mails(victim)).toHaveLength(1); // the verification code, to the address itself

    const byPassword = await call('POST', '/v1/client/sign_ins', { identifier: victim, password: PASSWORD });
    const unknown = await call('POST', '/v1/client/sign_ins', { identifier: 'nobody-1@example.com', password: PASSWORD });
    expect(byPassword.status).toBe(unknown.status);
    expect(byPassword.body.errors).toEqual(unknown.body.errors);
    expect(byPassword.status).toBeGreaterThanOrEqual(400);

    // Codes go to the account's primary address: asked for by the victim's address,
    // none may reach the squatter. A code asked for by the squatter's own address
    // arrives, and once it has, nothing else came.
    expect((await call('POST', '/v1/client/sign_ins/email_code', { identifier: victim })).status).toBe(200);
    expect((await call('POST', '/v1/client/password_resets', { identifier: victim })).status).toBe(200);
    expect((await call('POST', '/v1/client/sign_ins/email_code', { identifier: 'squatter-1@example.com' })).status).toBe(200);
    await waitFor('the code asked for by the squatter\'s own address', async () => ((await mails('squatter-1@example.com')).length ? true : undefined));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await mails('squatter-1@example.com')).toHaveLength(1);
    expect(await mails(victim)).toHaveLength(1);
    expect((await call('POST', '/v1/client/sign_ins', { identifier: 'squatter-1@example.com', password: PASSWORD })).status).toBe(200);
  });

  it('a sign-up proves the address and takes it from the account that only added it', async () => {
    const squatter = await account('squatter-2@example.com');
    const victim = 'victim-2@example.com';
    const added = await squatter.me('POST', '/v1/me/email_addresses', { email_address: victim });
    expect(added.status).toBe(200);
    const updatesBefore = await updatesOf(squatter.id);

    const started = await call('POST', '/v1/client/sign_ups', { email_address: victim, password: PASSWORD });
    expect(started.status).toBe(200);
    const [code] = await mails(victim); // newest first: the sign-up's code
    const verified = await call('POST', `/v1/client/sign_ups/${started.body.response.id}/attempt_verification`, { code }, started.token);
    expect(verified.status).toBe(200);
    const newUser = verified.body.response.created_user_id as string;
    expect(newUser).toMatch(/^user_/);

    expect(await addresses(newUser)).toEqual([victim]);
    expect(await addresses(squatter.id)).toEqual(['squatter-2@example.com']);
    expect((await backend('GET', `/v1/users/${squatter.id}`)).body.primary_email_address_id).toMatch(/^idn_/);
    expect(await updatesOf(squatter.id)).toBe(updatesBefore + 1);
    // The squatter's pending verification is gone with the address.
    const [stale] = await mails(victim).then((codes) => codes.slice(-1));
    expect((await squatter.me('POST', `/v1/me/email_addresses/${added.body.email_address_id}/attempt_verification`, { code: stale })).status).toBe(404);
    // Now it is held: adding it again is refused, and it signs its owner in.
    const again = await squatter.me('POST', '/v1/me/email_addresses', { email_address: victim });
    expect(again.status).toBe(422);
    expect(again.body.errors[0].code).toBe('form_identifier_exists');
    expect((await call('POST', '/v1/client/sign_ins', { identifier: victim, password: PASSWORD })).status).toBe(200);
  });

  it('adding an address takes it from an account that only added it; a verified or reserved one is refused', async () => {
    const first = await account('adder-a@example.com');
    const second = await account('adder-b@example.com');
    const shared = 'shared-3@example.com';
    const byFirst = await first.me('POST', '/v1/me/email_addresses', { email_address: shared });
    expect(byFirst.status).toBe(200);
    const bySecond = await second.me('POST', '/v1/me/email_addresses', { email_address: shared });
    expect(bySecond.status).toBe(200);
    expect(await addresses(first.id)).toEqual(['adder-a@example.com']);

    const [code] = await mails(shared);
    expect((await second.me('POST', `/v1/me/email_addresses/${bySecond.body.email_address_id}/attempt_verification`, { code })).status).toBe(200);
    const refused = await first.me('POST', '/v1/me/email_addresses', { email_address: shared });
    expect(refused.status).toBe(422);
    expect(refused.body.errors[0].code).toBe('form_identifier_exists');
    expect(await addresses(second.id)).toEqual(['adder-b@example.com', shared]);

    // An address the operator reserved is not up for grabs either way.
    const reserved = 'reserved-3@example.com';
    expect((await backend('POST', '/v1/users', { email_address: [reserved], email_address_identification_status: ['reserved'] })).status).toBe(200);
    expect((await first.me('POST', '/v1/me/email_addresses', { email_address: reserved })).body.errors[0].code).toBe('form_identifier_exists');
    const signUp = await call('POST', '/v1/client/sign_ups', { email_address: reserved, password: PASSWORD });
    expect(signUp.status).toBe(422);
    expect(signUp.body.errors[0].code).toBe('form_identifier_exists');
  });

  it('an operator creating a user with the address takes it; a reserved address signs its holder in', async () => {
    const squatter = await account('squatter-5@example.com');
    const address = 'imported-5@example.com';
    expect((await squatter.me('POST', '/v1/me/email_addresses', { email_address: address })).status).toBe(200);
    const created = await backend('POST', '/v1/users', { email_address: [address], password: PASSWORD });
    expect(created.status).toBe(200);
    expect(await addresses(squatter.id)).toEqual(['squatter-5@example.com']);
    expect(await addresses(created.body.id)).toEqual([address]);

    const reserved = 'reserved-5@example.com';
    expect((await backend('POST', '/v1/users', { email_address: [reserved], password: PASSWORD, email_address_identification_status: ['reserved'] })).status).toBe(200);
    expect((await call('POST', '/v1/client/sign_ins', { identifier: reserved, password: PASSWORD })).status).toBe(200);
  });

  it('an address verified on another account still blocks a sign-up at its start', async () => {
    await account('owner-4@example.com');
    const res = await call('POST', '/v1/client/sign_ups', { email_address: 'owner-4@example.com', password: PASSWORD });
    expect(res.status).toBe(422);
    expect(res.body.errors[0].code).toBe('form_identifier_exists');
  });
});
