import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identifierQuery } from '../../src/frontend/sign-ins.js';
import { startServer, type TestServer } from '../support/server.js';

/**
 * Sign-in finds its user with one indexed lookup, whatever the number of users:
 * SQLite's query plan must search an index, never scan the users table.
 */
describe('sign-in identifier lookup (sqlite)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer('sqlite');
    await server.api('/v1/users', { method: 'POST', json: { email_address: ['Plan.Person@example.com'], username: 'plan_person', password: 'a fine long password' } });
  });
  afterAll(() => server?.close());

  const plan = async (identifier: string) => {
    const compiled = identifierQuery(server.db, ['email_address', 'username'], identifier)!;
    const stmt = await server.db.executeQuery({ ...compiled, sql: `explain query plan ${compiled.sql}` });
    return (stmt.rows as { detail: string }[]).map((r) => r.detail);
  };

  it('an email address: the email index, then the user by primary key', async () => {
    const steps = await plan('plan.person@example.com');
    expect(steps.join(' | ')).toMatch(/SEARCH email_addresses USING .*INDEX/);
    expect(steps.join(' | ')).toMatch(/SEARCH users USING .*(INDEX|PRIMARY KEY)/);
    expect(steps.some((d) => /^SCAN users/.test(d))).toBe(false);
  });

  it('a username: the username index', async () => {
    const steps = await plan('PLAN_PERSON');
    expect(steps.join(' | ')).toMatch(/SEARCH users USING INDEX users_username_live/);
    expect(steps.some((d) => /^SCAN/.test(d))).toBe(false);
  });

  it('finds the same user either way, case-insensitively, and nothing for what the instance does not allow', async () => {
    const find = async (identifier: string) =>
      (await server.db.executeQuery<{ id: string }>(identifierQuery(server.db, ['email_address', 'username'], identifier)!)).rows;
    const byEmail = await find(' PLAN.person@EXAMPLE.com ');
    const byName = await find('Plan_Person');
    expect(byEmail).toHaveLength(1);
    expect(byEmail[0]!.id).toMatch(/^user_/);
    expect(byName).toEqual(byEmail);
    expect(await find('nobody@example.com')).toEqual([]);
    expect(identifierQuery(server.db, ['email_address'], 'plan_person')).toBeUndefined();
    expect(identifierQuery(server.db, ['username'], 'plan.person@example.com')).toBeUndefined();
  });
});
