import { parseArgs } from 'node:util';
import { systemClock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { validate } from '../http/body.js';
import type { BootstrapResult } from '../instance/bootstrap.js';
import type { Storage } from '../storage/database.js';
import {
  createEndpoint, createEndpointSchema, deleteEndpoint, endpointEventTypes, listEndpoints, rotateSecret, updateEndpoint,
  updateEndpointSchema, type EndpointDeps,
} from '../webhooks/endpoints.js';
import { list, noMoreArguments, UsageError, withStorage } from './shared.js';

/** Endpoint changes from the CLI are audited as the operator's. */
const OPERATOR = { type: 'operator' as const };

function endpointDeps(config: Config, storage: Storage, boot: BootstrapResult): EndpointDeps {
  return {
    db: storage.db, clock: systemClock, encryptionKey: config.encryptionKey,
    policy: { allowPrivate: config.webhooks.allowPrivate, allowLoopback: boot.instance.environment === 'development' },
  };
}

export async function webhooks(config: Config, sub: string | undefined, args: string[]): Promise<void> {
  switch (sub) {
    case 'create': {
      const { values } = parseArgs({ args, options: {
        url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' }, 'rate-limit': { type: 'string' },
      } });
      const input = validate(createEndpointSchema, {
        url: values.url,
        events: list(values.events),
        description: values.description,
        rate_limit: values['rate-limit'] === undefined ? undefined : Number(values['rate-limit']),
      });
      return withStorage(config, async (storage, boot) => {
        const { endpoint, secret } = await createEndpoint(endpointDeps(config, storage, boot), input, OPERATOR);
        process.stdout.write(`Created ${endpoint.id} → ${endpoint.url}\nSigning secret (verify deliveries with it): ${secret}\n`);
      });
    }
    case 'update': {
      const [id, ...flags] = args;
      if (!id || id.startsWith('--')) throw new UsageError('latchkey webhooks update <endpoint id> [--url …] [--enabled true|false] …');
      const { values } = parseArgs({ args: flags, options: {
        url: { type: 'string' }, events: { type: 'string' }, description: { type: 'string' }, 'rate-limit': { type: 'string' },
        enabled: { type: 'string' },
      } });
      const rate = values['rate-limit'];
      const patch = validate(updateEndpointSchema, {
        url: values.url,
        events: values.events === undefined ? undefined
          : values.events === 'all' ? [] : list(values.events),
        description: values.description,
        rate_limit: rate === undefined ? undefined : rate === 'none' ? null : Number(rate),
        enabled: values.enabled === undefined ? undefined : values.enabled === 'true' ? true : values.enabled === 'false' ? false : values.enabled,
      });
      return withStorage(config, async (storage, boot) => {
        const e = await updateEndpoint(endpointDeps(config, storage, boot), id, patch, OPERATOR);
        process.stdout.write(`Updated ${e.id} → ${e.url}  ${e.enabled ? 'enabled' : `disabled (${e.disabled_reason ?? 'operator'})`}\n`);
      });
    }
    case 'list':
      noMoreArguments('webhooks list', args);
      return withStorage(config, async ({ db }) => {
        const rows = await listEndpoints(db);
        if (rows.length === 0) process.stdout.write('No webhook endpoints.\n');
        for (const e of rows) {
          const types = endpointEventTypes(e.event_types);
          const state = e.enabled ? 'enabled' : `disabled (${e.disabled_reason ?? 'operator'})`;
          process.stdout.write(`${e.id}  ${e.url}  ${state}  events: ${types.length ? types.join(',') : 'all'}\n`);
        }
      });
    case 'rotate-secret':
    case 'delete': {
      const [id, ...extra] = args;
      if (!id) throw new UsageError(`latchkey webhooks ${sub} <endpoint id>`);
      noMoreArguments(`webhooks ${sub} <endpoint id>`, extra);
      return withStorage(config, async (storage, boot) => {
        const deps = endpointDeps(config, storage, boot);
        if (sub === 'delete') {
          await deleteEndpoint(deps, id, OPERATOR);
          process.stdout.write(`Deleted ${id} and its messages.\n`);
        } else {
          const { secret } = await rotateSecret(deps, id, OPERATOR);
          process.stdout.write(`New signing secret for ${id}: ${secret}\nThe previous secret keeps signing beside it for 24 h.\n`);
        }
      });
    }
  }
  throw new UsageError(`Unknown command: webhooks ${sub ?? ''}`);
}

