import type { TestProject } from 'vitest/node';
import { postgresAvailable, startPostgres, type TestPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of the test PostgreSQL cluster; '' when PostgreSQL is not available. */
    pgUrl: string;
  }
}

/**
 * Starts one PostgreSQL cluster for the whole run (each suite creates its own
 * database in it). LATCHKEY_TEST_DATABASE_URL points at an existing server
 * instead. Without PostgreSQL, its suites are skipped, unless
 * LATCHKEY_TEST_REQUIRE_POSTGRES=1 (CI) makes that an error.
 */
export default async function setup(project: TestProject) {
  let cluster: TestPostgres | undefined;
  let url = process.env.LATCHKEY_TEST_DATABASE_URL ?? '';
  if (!url && postgresAvailable()) {
    cluster = await startPostgres();
    url = cluster.url;
  }
  if (!url) {
    if (process.env.LATCHKEY_TEST_REQUIRE_POSTGRES === '1') throw new Error('PostgreSQL is required (LATCHKEY_TEST_REQUIRE_POSTGRES=1) but was not found.');
    console.warn('\n[latchkey tests] PostgreSQL not found: PostgreSQL suites are skipped. Install postgresql to run them.\n');
  }
  project.provide('pgUrl', url);
  return async () => {
    await cluster?.stop();
  };
}
