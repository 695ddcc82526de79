import { parseArgs } from 'node:util';
import { auditLogJson, exportAuditLogs } from '../audit/audit-log.js';
import type { Config } from '../config/config.js';
import { list, UsageError, withStorage } from './shared.js';

/** latchkey audit-logs export [--since <ISO time>] [--types a,b] [--target <id>] [--actor <id>]: JSON lines on stdout. */
export async function auditLogs(config: Config, sub: string | undefined, args: string[]): Promise<void> {
  if (sub !== 'export') throw new UsageError(`Unknown command: audit-logs ${sub ?? ''}`);
  const { values } = parseArgs({ args, options: {
    since: { type: 'string' }, until: { type: 'string' }, types: { type: 'string' }, target: { type: 'string' }, actor: { type: 'string' },
  } });
  const time = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    const ms = Date.parse(v);
    if (Number.isNaN(ms)) throw new UsageError(`--${name} must be a date or time, e.g. 2026-11-01 or 2026-11-01T12:00:00Z`);
    return ms;
  };
  const query = {
    types: list(values.types) ?? [], targetId: values.target, actorId: values.actor,
    // --since is inclusive, created_after exclusive.
    createdAfter: values.since === undefined ? undefined : time('since', values.since)! - 1, createdBefore: time('until', values.until),
  };
  await withStorage(config, async ({ db }) => {
    for await (const entry of exportAuditLogs(db, query)) {
      if (!process.stdout.write(`${JSON.stringify(auditLogJson(entry))}\n`)) await new Promise((r) => process.stdout.once('drain', r));
    }
  });
}
