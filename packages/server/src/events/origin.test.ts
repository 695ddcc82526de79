import SqliteDatabase from 'better-sqlite3';
import { Kysely, sql, SqliteDialect, type KyselyPlugin } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from '../storage/database.js';
import { originOf, withActor, withOrigin } from './origin.js';

describe('the origin a database handle carries', () => {
  const db = new Kysely({ dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }) }) as unknown as Db;
  afterAll(() => db.destroy());
  const browser = { clientIp: '203.0.113.7', userAgent: 'Browser/1.0' };

  it('is none on the plain handle, and the given one on a tagged handle and every transaction opened from it', async () => {
    expect(originOf(db)).toBeUndefined();
    const tagged = withOrigin(db, browser);
    expect(originOf(tagged)).toEqual(browser);
    expect(originOf(db)).toBeUndefined(); // the root handle is not changed
    const inside = await tagged.transaction().execute(async (trx) => {
      await sql`select 1`.execute(trx);
      return originOf(trx);
    });
    expect(inside).toEqual(browser);
    expect(await db.transaction().execute(async (trx) => originOf(trx))).toBeUndefined();
  });

  it('withActor keeps the address and user agent and names who acts; a second tag replaces the first', () => {
    const key = withActor(withOrigin(db, browser), { type: 'secret_key', id: 'ak_1' });
    expect(originOf(key)).toEqual({ ...browser, actor: { type: 'secret_key', id: 'ak_1' } });
    expect(key.getExecutor().plugins).toHaveLength(1);
    const user = withActor(key, { type: 'user', id: 'user_1' });
    expect(originOf(user)).toEqual({ ...browser, actor: { type: 'user', id: 'user_1' } });
    expect(originOf(withActor(db, { type: 'operator', id: null }))).toEqual({ clientIp: '', userAgent: '', actor: { type: 'operator', id: null } });
  });

  it('leaves other plugins and every query result as they are', async () => {
    const seen: string[] = [];
    const other: KyselyPlugin = {
      transformQuery: (args) => { seen.push(args.node.kind); return args.node; },
      transformResult: async (args) => args.result,
    };
    const handle = withActor(withOrigin(db.withPlugin(other), browser), { type: 'user', id: 'user_2' });
    expect(handle.getExecutor().plugins).toContain(other);
    const { rows } = await sql<{ n: number }>`select 41 + 1 as n`.execute(handle);
    expect(rows).toEqual([{ n: 42 }]);
    expect(seen).toEqual(['RawNode']);
  });
});
