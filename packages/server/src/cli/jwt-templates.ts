import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { validate } from '../http/body.js';
import {
  createTemplate, createTemplateSchema, deleteTemplate, listTemplates, updateTemplate, updateTemplateSchema,
} from '../tokens/jwt-templates.js';
import { noMoreArguments, UsageError, withStorage } from './shared.js';

const flags = {
  claims: { type: 'string' }, 'claims-file': { type: 'string' }, lifetime: { type: 'string' },
  aud: { type: 'string' }, 'clock-skew': { type: 'string' }, name: { type: 'string' },
} as const;

function claimsOf(values: { claims?: string | undefined; 'claims-file'?: string | undefined }): unknown {
  const text = values['claims-file'] !== undefined ? readFileSync(values['claims-file'], 'utf8') : values.claims;
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError('--claims (or the --claims-file) must be a JSON object, e.g. {"email":"{{user.primary_email_address}}"}');
  }
}

const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));

/** latchkey jwt-templates list | create | update | delete */
export async function jwtTemplates(config: Config, sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'list':
      noMoreArguments('jwt-templates list', args);
      return withStorage(config, async ({ db }) => {
        for (const t of await listTemplates(db)) {
          process.stdout.write(`${t.id}  ${t.name}  lifetime ${t.lifetime}s  aud ${t.aud ?? '-'}  claims ${JSON.stringify(t.claims)}\n`);
        }
      });
    case 'create':
    case 'update': {
      const [target, ...rest] = args;
      if (!target || target.startsWith('--')) {
        throw new UsageError(`latchkey jwt-templates ${sub} <${sub === 'create' ? 'name' : 'template id'}> --claims '<json>' | --claims-file <path> [--lifetime <s>] [--aud <aud>] [--clock-skew <s>]`);
      }
      const { values } = parseArgs({ args: rest, options: flags });
      const fields = { claims: claimsOf(values), lifetime: num(values.lifetime), aud: values.aud, allowed_clock_skew: num(values['clock-skew']) };
      return withStorage(config, async ({ db }) => {
        const t = sub === 'create'
          ? await createTemplate(db, systemClock, validate(createTemplateSchema, { name: target, ...fields }))
          : await updateTemplate(db, systemClock, target, validate(updateTemplateSchema, { ...fields, name: values.name }));
        process.stdout.write(`${sub === 'create' ? 'Created' : 'Updated'} ${t.id} (${t.name}).\n`);
      });
    }
    case 'delete': {
      const [id, ...extra] = args;
      if (!id) throw new UsageError('latchkey jwt-templates delete <template id>');
      noMoreArguments('jwt-templates delete <template id>', extra);
      return withStorage(config, async ({ db }) => {
        await deleteTemplate(db, systemClock, id);
        process.stdout.write(`Deleted ${id}.\n`);
      });
    }
  }
  throw new UsageError(`Unknown command: jwt-templates ${sub ?? ''}`);
}
