import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The test deployment's functions type-check as an app's do (Convex's
 * convex/tsconfig.json): the users table keeps its field types in the data
 * model, and ctx.user is typed. typed.ts holds @ts-expect-error lines that
 * become errors if those types ever degrade to `any`.
 */
describe('types in an app', () => {
  it('tsc -p test/convex passes', () => {
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const project = join(import.meta.dirname, 'convex', 'tsconfig.json');
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, '-p', project], { encoding: 'utf8', stdio: 'pipe' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  }, 120_000);
});
