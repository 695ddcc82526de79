import { PostgresAdapter, type CompiledQuery, type Compilable } from 'kysely';
import type { Db } from './database.js';

/**
 * A statement compiled once per dialect and afterwards only re-bound.
 *
 * Kysely builds an immutable tree for every query and compiles it to SQL each
 * time: for the dozen statements of every sign-in and token request that costs
 * more event-loop time than SQLite takes to run them, and makes most of their
 * garbage (bench/signin). `build` receives stand-ins for the arguments; each
 * stand-in in the compiled parameters is replaced by its argument at every call.
 * Arguments are bound values only (never identifiers, never lists of varying
 * length); constants written into `build` stay as compiled.
 */
export function prepared<A extends unknown[]>(build: (db: Db, ...args: A) => Compilable): (db: Db, ...args: A) => CompiledQuery {
  const byDialect = new Map<string, { compiled: CompiledQuery; slots: (number | null)[] }>();
  return (db, ...args) => {
    const dialect = db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
    let shape = byDialect.get(dialect);
    if (!shape) {
      const standIns = args.map((_, i) => `${STAND_IN}${i}`) as A;
      const compiled = build(db, ...standIns).compile();
      const slots = compiled.parameters.map((p) => (typeof p === 'string' && p.startsWith(STAND_IN) ? Number(p.slice(STAND_IN.length)) : null));
      shape = { compiled, slots };
      byDialect.set(dialect, shape);
    }
    const { compiled, slots } = shape;
    // undefined would make a driver bind nothing; SQL means NULL.
    return { ...compiled, parameters: slots.map((slot, i) => (slot === null ? compiled.parameters[i] : args[slot] ?? null)) };
  };
}

const STAND_IN = '\u0000latchkey-prepared-argument-';
