import { z } from 'zod';
import { recordAudit, type Actor } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { invalidParam, notFound } from '../errors/latchkey-error.js';
import { EVENT_TYPES } from '../events/types.js';
import { newId } from '../ids/ids.js';
import { seal, unseal } from '../keys/sealing.js';
import type { Db } from '../storage/database.js';
import type { WebhookEndpointTable } from '../storage/schema.js';
import { destinationProblem, urlProblem, type DestinationPolicy } from './destination.js';
import { failWaitingMessages } from './queue.js';
import { newSecret } from './signing.js';

/** How long the secret before a rotation keeps signing, so receivers can switch without losing a delivery. */
export const ROTATION_OVERLAP_MS = 24 * 3_600_000;

const fields = {
  url: z.string().max(2048, 'must be at most 2048 characters').superRefine((v, ctx) => {
    const problem = urlProblem(v);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  description: z.string().max(1024, 'must be at most 1024 characters'),
  events: z.array(z.enum(EVENT_TYPES)).max(EVENT_TYPES.length)
    .transform((types) => [...new Set(types)]),
  enabled: z.boolean(),
  /** Deliveries per second to this endpoint; null for no limit. */
  rate_limit: z.number().int().min(1).max(10_000).nullable(),
};

export const createEndpointSchema = z.strictObject({
  url: fields.url,
  description: fields.description.default(''),
  events: fields.events.default([]),
  enabled: fields.enabled.default(true),
  rate_limit: fields.rate_limit.default(null),
});
export const updateEndpointSchema = z.strictObject(fields).partial();
export type CreateEndpointInput = z.infer<typeof createEndpointSchema>;
export type UpdateEndpointInput = z.infer<typeof updateEndpointSchema>;

export interface EndpointDeps {
  db: Db;
  clock: Clock;
  /** LATCHKEY_ENCRYPTION_KEY: secrets are sealed with it, like private keys. */
  encryptionKey: string | undefined;
  policy: DestinationPolicy;
}

export type { Actor };

async function checkDestination(url: string, policy: DestinationPolicy): Promise<void> {
  const why = await destinationProblem(url, policy);
  if (why) throw invalidParam('url', `url ${why}`, 'webhook_url_forbidden');
}

const sealed = (secret: string, key: string | undefined) => (key ? seal(secret, key) : secret);

export async function createEndpoint(d: EndpointDeps, input: CreateEndpointInput, actor: Actor):
  Promise<{ endpoint: WebhookEndpointTable; secret: string }> {
  await checkDestination(input.url, d.policy);
  const now = d.clock.now();
  const secret = newSecret();
  const endpoint: WebhookEndpointTable = {
    id: newId('ep', now),
    url: input.url,
    description: input.description,
    event_types: JSON.stringify(input.events),
    enabled: input.enabled ? 1 : 0,
    disabled_reason: input.enabled ? null : 'operator',
    disabled_at: input.enabled ? null : now,
    secret: sealed(secret, d.encryptionKey),
    previous_secret: null,
    previous_secret_until: null,
    rate_limit: input.rate_limit,
    failing_since: null,
    created_at: now,
    updated_at: now,
  };
  await d.db.transaction().execute(async (trx) => {
    await trx.insertInto('webhook_endpoints').values(endpoint).execute();
    await recordAudit(trx, now, { type: 'webhook_endpoint.created', actor, target: { type: 'webhook_endpoint', id: endpoint.id },
      data: { url: endpoint.url, events: input.events } });
  });
  return { endpoint, secret };
}

export async function getEndpoint(db: Db, id: string): Promise<WebhookEndpointTable> {
  const row = await db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('Webhook endpoint');
  return row;
}

export function listEndpoints(db: Db): Promise<WebhookEndpointTable[]> {
  return db.selectFrom('webhook_endpoints').selectAll().orderBy('created_at').orderBy('id').execute();
}

export async function updateEndpoint(d: EndpointDeps, id: string, patch: UpdateEndpointInput, actor: Actor):
  Promise<WebhookEndpointTable> {
  if (patch.url !== undefined) await checkDestination(patch.url, d.policy);
  return d.db.transaction().execute(async (trx) => {
    const current = await getEndpoint(trx, id);
    const now = d.clock.now();
    const set: Partial<WebhookEndpointTable> = { updated_at: Math.max(now, current.updated_at + 1) };
    // A new URL is a new receiver: its failure history starts over.
    if (patch.url !== undefined && patch.url !== current.url) Object.assign(set, { url: patch.url, failing_since: null });
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.events !== undefined) set.event_types = JSON.stringify(patch.events);
    if (patch.rate_limit !== undefined) set.rate_limit = patch.rate_limit;
    if (patch.enabled === true && !current.enabled) {
      // Re-enabled by hand: the failure history that disabled it starts over.
      Object.assign(set, { enabled: 1, disabled_reason: null, disabled_at: null, failing_since: null });
    } else if (patch.enabled === false && current.enabled) {
      Object.assign(set, { enabled: 0, disabled_reason: 'operator', disabled_at: now });
      await failWaitingMessages(trx, id, now);
    }
    await trx.updateTable('webhook_endpoints').set(set).where('id', '=', id).execute();
    await recordAudit(trx, now, { type: 'webhook_endpoint.updated', actor, target: { type: 'webhook_endpoint', id }, data: patch });
    return getEndpoint(trx, id);
  });
}

const DELETE_BATCH = 1000;

/**
 * Deletes an endpoint with its messages and attempts, in steps: first it stops
 * receiving (disabled), then its history goes a batch at a time, then the row.
 * One big cascading delete would hold locks that event-writing transactions
 * (sign-ups, sign-ins) queue behind.
 */
export async function deleteEndpoint(d: EndpointDeps, id: string, actor: Actor): Promise<void> {
  const current = await getEndpoint(d.db, id);
  await d.db.updateTable('webhook_endpoints').set({ enabled: 0 }).where('id', '=', id).execute();
  for (;;) {
    const res = await d.db.deleteFrom('webhook_messages').where('id', 'in', (eb) =>
      eb.selectFrom('webhook_messages').select('id').where('endpoint_id', '=', id).limit(DELETE_BATCH)).executeTakeFirst();
    if (Number(res.numDeletedRows) < DELETE_BATCH) break;
  }
  await d.db.transaction().execute(async (trx) => {
    // Messages queued since the batches went with it (ON DELETE CASCADE).
    await trx.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
    await recordAudit(trx, d.clock.now(), { type: 'webhook_endpoint.deleted', actor, target: { type: 'webhook_endpoint', id },
      data: { url: current.url } });
  });
}

/** A new secret signs at once; the old one keeps signing beside it for ROTATION_OVERLAP_MS. */
export async function rotateSecret(d: EndpointDeps, id: string, actor: Actor): Promise<{ endpoint: WebhookEndpointTable; secret: string }> {
  const secret = newSecret();
  const endpoint = await d.db.transaction().execute(async (trx) => {
    const current = await getEndpoint(trx, id);
    const now = d.clock.now();
    await trx.updateTable('webhook_endpoints').set({
      secret: sealed(secret, d.encryptionKey),
      previous_secret: current.secret,
      previous_secret_until: now + ROTATION_OVERLAP_MS,
      updated_at: Math.max(now, current.updated_at + 1),
    }).where('id', '=', id).execute();
    await recordAudit(trx, now, { type: 'webhook_endpoint.secret_rotated', actor, target: { type: 'webhook_endpoint', id } });
    return getEndpoint(trx, id);
  });
  return { endpoint, secret };
}

/** The plaintext secrets that sign a delivery now: the current one, and the previous one during its overlap. */
export function signingSecrets(e: WebhookEndpointTable, now: number, encryptionKey: string | undefined): string[] {
  const secrets = [unseal(e.secret, encryptionKey)];
  if (e.previous_secret && (e.previous_secret_until ?? 0) > now) secrets.unshift(unseal(e.previous_secret, encryptionKey));
  return secrets;
}

export function currentSecret(e: WebhookEndpointTable, encryptionKey: string | undefined): string {
  return unseal(e.secret, encryptionKey);
}

/** The event types an endpoint receives; empty means all. */
const parsedTypes = new Map<string, readonly string[]>();
export function endpointEventTypes(eventTypesJson: string): readonly string[] {
  let types = parsedTypes.get(eventTypesJson);
  if (!types) {
    if (parsedTypes.size > 1000) parsedTypes.clear();
    types = JSON.parse(eventTypesJson) as string[];
    parsedTypes.set(eventTypesJson, types);
  }
  return types;
}

export const wantsEvent = (eventTypesJson: string, type: string) => {
  const types = endpointEventTypes(eventTypesJson);
  return types.length === 0 || types.includes(type);
};

/** The Backend API's shape; the secret appears only where asked for (create, rotate, GET …/secret). */
export function endpointJson(e: WebhookEndpointTable, now: number, secret?: string) {
  return {
    object: 'webhook_endpoint' as const,
    id: e.id,
    url: e.url,
    description: e.description,
    events: endpointEventTypes(e.event_types),
    enabled: e.enabled === 1,
    disabled_reason: e.disabled_reason,
    disabled_at: e.disabled_at,
    rate_limit: e.rate_limit,
    failing_since: e.failing_since,
    previous_secret_expires_at: e.previous_secret && (e.previous_secret_until ?? 0) > now ? e.previous_secret_until : null,
    created_at: e.created_at,
    updated_at: e.updated_at,
    ...(secret === undefined ? {} : { secret }),
  };
}
