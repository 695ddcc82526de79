import SqliteDatabase from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import type { Db } from './database.js';
import { prepared } from './prepared.js';

describe('prepared statements', () => {
  const db = new Kysely<{ notes: { id: string; kind: string; body: string | null; n: number } }>({
    dialect: new SqliteDialect({ database: new SqliteDatabase(':memory:') }),
  }) as unknown as Db;
  const raw = db as unknown as Kysely<{ notes: { id: string; kind: string; body: string | null; n: number } }>;
  afterAll(() => db.destroy());

  let builds = 0;
  const insertNote = prepared((d: Db, id: string, body: string | null | undefined, n: number) => {
    builds++;
    return (d as unknown as typeof raw).insertInto('notes').values({ id, kind: 'plain', body: body ?? null, n });
  });
  const notesOfKind = prepared((d: Db, min: number) =>
    (d as unknown as typeof raw).selectFrom('notes').select(['id', 'body', 'n']).where('kind', '=', 'plain').where('n', '>=', min).orderBy('id'));

  it('builds once, then binds each call\'s arguments in their places and keeps the constants', async () => {
    await raw.schema.createTable('notes').addColumn('id', 'text', (c) => c.primaryKey()).addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('body', 'text').addColumn('n', 'integer', (c) => c.notNull()).execute();
    await db.executeQuery(insertNote(db, 'a', 'first', 1));
    await db.executeQuery(insertNote(db, 'b', undefined, 2));
    await db.executeQuery(insertNote(db, 'c', 'third', 3));
    expect(builds).toBe(1);
    expect(insertNote(db, 'x', 'y', 9).parameters).toEqual(['x', 'plain', 'y', 9]);
    expect(await raw.selectFrom('notes').selectAll().orderBy('id').execute()).toEqual([
      { id: 'a', kind: 'plain', body: 'first', n: 1 },
      { id: 'b', kind: 'plain', body: null, n: 2 },
      { id: 'c', kind: 'plain', body: 'third', n: 3 },
    ]);
    expect((await db.executeQuery(notesOfKind(db, 2))).rows).toEqual([{ id: 'b', body: null, n: 2 }, { id: 'c', body: 'third', n: 3 }]);
    expect((await db.executeQuery(notesOfKind(db, 3))).rows).toEqual([{ id: 'c', body: 'third', n: 3 }]);
  });

  it('binds a value that looks like another argument as the value it is', async () => {
    const q = notesOfKind(db, 0);
    expect(q.parameters).toEqual(['plain', 0]);
    expect(insertNote(db, 'z', '\u0000latchkey-prepared-argument-0', 1).parameters).toEqual(['z', 'plain', '\u0000latchkey-prepared-argument-0', 1]);
  });
});
