import { LatchkeyApiError } from '../client/errors.js';
import type { LatchkeyClient } from '../client/client.js';
import type { DeletedUserData, EventType, LatchkeyEvent, User } from '../client/types.js';
import { WebhookVerificationError, type WebhookVerificationErrorReason } from '../webhooks/errors.js';
import { webhookHeaders, type WebhookHeaders } from '../webhooks/headers.js';
import { verifyWebhook, type VerifyWebhookOptions } from '../webhooks/verify.js';
import type { UserStore } from './store.js';
import { dbIdWriter } from './write-back.js';

export interface UserSyncOptions {
  /** Reads users (ensureUser), the event feed (reconcile) and writes dbId back. */
  client: Pick<LatchkeyClient, 'users' | 'events'>;
  /** The endpoint's `whsec_…` secret; undefined answers 500 "Missing webhook secret" (an unset variable). */
  webhookSecret: string | undefined;
  store: UserStore;
  /** Write the row id the store returns back as public_metadata.dbId (default true). */
  writeBackDbId?: boolean;
  /** Webhook timestamp tolerance and time source, as verifyWebhook takes them. */
  toleranceInSeconds?: number;
  now?: () => number;
}

/** What became of an event: written, older than the row, already seen (svix-id), or not about a user. */
export type SyncOutcome = 'applied' | 'stale' | 'duplicate' | 'ignored';

/** An answer for the webhook route: send `body` as JSON with `status`. */
export interface WebhookResult {
  status: 200 | 400 | 500;
  body: { success: true } | { error: string };
  /** Set when the delivery was verified. */
  event?: LatchkeyEvent;
  outcome?: SyncOutcome;
  /** Set when the delivery was refused. */
  reason?: WebhookVerificationErrorReason;
}

export interface ReconcileResult {
  /** The last sequence read: pass it as `since` next time. */
  cursor: number;
  applied: number;
  stale: number;
}

/** ensureUser: the row was there, was created now, or Latchkey has no such user (unknown or deleted). */
export type EnsureOutcome = 'present' | 'created' | 'not_found';

const USER_EVENTS: EventType[] = ['user.created', 'user.updated', 'user.deleted'];

/**
 * The seed-002 answers a webhook route gives when it cannot accept a delivery
 * (exported for routes that verify now and apply later, e.g. through an inbox).
 */
export function webhookRefusal(reason: WebhookVerificationErrorReason): WebhookResult {
  if (reason === 'missing_secret') return { status: 500, body: { error: 'Missing webhook secret' }, reason };
  if (reason === 'missing_headers') return { status: 400, body: { error: 'Missing svix headers' }, reason };
  return { status: 400, body: { error: 'Invalid webhook signature' }, reason };
}

/**
 * Keeps an app's users table in step with Latchkey: webhooks (verified,
 * deduplicated on svix-id, stale ones dropped by version), ensureUser for a
 * signed-in user whose webhook has not arrived yet, and reconcile to replay the
 * event feed after downtime. All three go through the same apply, so they can
 * run side by side in any order and end in the latest state.
 */
export function createUserSync(opts: UserSyncOptions) {
  const { client, store } = opts;
  const writeBack = opts.writeBackDbId === false ? undefined : dbIdWriter(client);
  const ensuring = new Map<string, Promise<EnsureOutcome>>();

  async function applyUser(user: User): Promise<SyncOutcome> {
    const version = user.updated_at;
    const current = await store.version(user.id);
    // The same version again is a duplicate; it is applied once more only when its dbId write-back may not have happened.
    const pendingDbId = writeBack !== undefined && user.public_metadata.dbId == null;
    if (current !== undefined && (current > version || (current === version && !pendingDbId))) return 'stale';
    const rowId = await store.upsert(user, version);
    if (writeBack && rowId !== undefined && rowId !== null) await writeBack(user, version, rowId);
    return 'applied';
  }

  async function applyDeleted(data: DeletedUserData, timestamp: number): Promise<SyncOutcome> {
    // Latchkey's user.deleted carries updated_at; Clerk's does not, and its event time is the next best order.
    const version = typeof data.updated_at === 'number' ? data.updated_at : timestamp;
    const current = await store.version(data.id);
    if (current !== undefined && current >= version) return 'stale';
    await store.softDelete(data.id, version, data);
    return 'applied';
  }

  /** Applies one verified event (a webhook's, the feed's, or one an app queued for later). */
  async function apply(event: LatchkeyEvent): Promise<SyncOutcome> {
    switch (event.type) {
      case 'user.created':
      case 'user.updated':
        return applyUser(event.data);
      case 'user.deleted':
        return applyDeleted(event.data, event.timestamp);
      default:
        return 'ignored';
    }
  }

  /**
   * Verifies and applies one delivery. Refusals come back as the seed's
   * answers (500 "Missing webhook secret", 400 "Missing svix headers", 400
   * "Invalid webhook signature"); a store or API failure throws, so the route
   * answers 500 and Latchkey retries.
   */
  async function handleWebhook(payload: VerifyWebhookOptions['payload'], headers: WebhookHeaders): Promise<WebhookResult> {
    let event: LatchkeyEvent;
    try {
      event = verifyWebhook<LatchkeyEvent>({
        secret: opts.webhookSecret, payload, headers, toleranceInSeconds: opts.toleranceInSeconds, now: opts.now,
      });
    } catch (err) {
      if (err instanceof WebhookVerificationError) return webhookRefusal(err.reason);
      throw err;
    }
    const deliveryId = webhookHeaders(headers).id!;
    if (store.claimDelivery && !(await store.claimDelivery(deliveryId))) {
      return { status: 200, body: { success: true }, event, outcome: 'duplicate' };
    }
    let outcome: SyncOutcome;
    try {
      outcome = await apply(event);
    } catch (err) {
      await store.releaseDelivery?.(deliveryId);
      throw err;
    }
    return { status: 200, body: { success: true }, event, outcome };
  }

  /** handleWebhook for a fetch Request; reads the body as bytes. */
  async function handleRequest(request: Request): Promise<WebhookResult> {
    if (!opts.webhookSecret) return webhookRefusal('missing_secret');
    return handleWebhook(new Uint8Array(await request.arrayBuffer()), request.headers);
  }

  /**
   * Makes sure the user has a row: a no-op when one exists (deleted or not),
   * otherwise the user is read from the Backend API and upserted. For the first
   * request of a user who signed up a moment ago, before the webhook arrived.
   */
  function ensureUser(userId: string): Promise<EnsureOutcome> {
    // Concurrent requests of one new user share one fetch and one insert.
    let pending = ensuring.get(userId);
    if (!pending) {
      pending = (async (): Promise<EnsureOutcome> => {
        if ((await store.version(userId)) !== undefined) return 'present';
        let user: User;
        try {
          user = await client.users.get(userId);
        } catch (err) {
          if (err instanceof LatchkeyApiError && err.status === 404) return 'not_found';
          throw err;
        }
        return (await applyUser(user)) === 'applied' ? 'created' : 'present';
      })().finally(() => ensuring.delete(userId));
      ensuring.set(userId, pending);
    }
    return pending;
  }

  /**
   * Replays the user events of the feed after `since` (a sequence; 0 for all
   * that is retained) through the same apply as webhooks, so it may run while
   * deliveries continue. Keep the returned cursor for the next run. dbId
   * write-backs made on the last page are events after that cursor: the next
   * run applies them (and writes nothing more), so a rebuild runs until
   * `applied` is 0.
   */
  async function reconcile({ since = 0 }: { since?: number } = {}): Promise<ReconcileResult> {
    const result: ReconcileResult = { cursor: since, applied: 0, stale: 0 };
    for await (const event of client.events.iterate({ after: since, types: USER_EVENTS })) {
      const outcome = await apply(event);
      if (outcome === 'applied') result.applied++;
      else if (outcome === 'stale') result.stale++;
      result.cursor = event.sequence;
    }
    return result;
  }

  return { handleWebhook, handleRequest, ensureUser, reconcile, apply };
}

export type UserSync = ReturnType<typeof createUserSync>;
