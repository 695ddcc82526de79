import { httpActionGeneric, type FunctionReference, type FunctionVisibility, type PublicHttpAction } from 'convex/server';
import { slimUserData, type LatchkeyDeletedUserData, type LatchkeyUserData } from '../user-data.js';
import { LatchkeyWebhookError, verifyWebhookSignature, type LatchkeyWebhookErrorReason, type VerifyOptions } from './verify.js';

export interface WebhookHttpActionOptions extends VerifyOptions {
  /**
   * The endpoint's `whsec_…` secret. Default: the Convex environment variable
   * LATCHKEY_WEBHOOK_SECRET, else CLERK_WEBHOOK_SECRET (seed 002's name), else
   * CLERK_WEBHOOK_SIGNING_SECRET (Clerk's current name), read on each request
   * (so setting it in the dashboard takes effect without a deploy).
   */
  secret?: string;
  /** `internal.users.upsertUser`: the mutation from userMutations(). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  upsertUser: FunctionReference<'mutation', FunctionVisibility, { data: any }, unknown>;
  /** `internal.users.deleteUser`. */
  deleteUser: FunctionReference<'mutation', FunctionVisibility, { id: string; updatedAt: number }, unknown>;
}

/** Convex's runtime has process.env; reading it through globalThis keeps Node's types out of this package. */
function env(name: string): string | undefined {
  const process = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  return process?.env?.[name] || undefined;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

/** Seed 002's answers for a delivery that cannot be accepted. */
export function webhookRefusal(reason: LatchkeyWebhookErrorReason): Response {
  if (reason === 'missing_secret') return json(500, { error: 'Missing webhook secret' });
  if (reason === 'missing_headers') return json(400, { error: 'Missing svix headers' });
  return json(400, { error: 'Invalid webhook signature' });
}

/**
 * The webhook route, for convex/http.ts:
 *
 *     http.route({ path: '/latchkey-webhook', method: 'POST',
 *       handler: webhookHttpAction({ upsertUser: internal.users.upsertUser, deleteUser: internal.users.deleteUser }) });
 *
 * Verifies the delivery, applies user.created / user.updated / user.deleted
 * through the sync mutations, and answers 200 {success:true}; other event types
 * are acknowledged and ignored. A failing mutation makes the action throw, so
 * Convex answers 500 and Latchkey retries later.
 */
export function webhookHttpAction(opts: WebhookHttpActionOptions): PublicHttpAction {
  return httpActionGeneric(async (ctx, request) => {
    const secret = opts.secret ?? env('LATCHKEY_WEBHOOK_SECRET') ?? env('CLERK_WEBHOOK_SECRET') ?? env('CLERK_WEBHOOK_SIGNING_SECRET');
    // The secret first: its absence is the deployment's fault, and should not cost a body read.
    if (!secret) return webhookRefusal('missing_secret');
    const body = await request.text();
    let event;
    try {
      event = await verifyWebhookSignature(secret, body, request.headers, opts);
    } catch (err) {
      if (err instanceof LatchkeyWebhookError) return webhookRefusal(err.reason);
      throw err;
    }

    switch (event.type) {
      case 'user.created':
      case 'user.updated':
        await ctx.runMutation(opts.upsertUser, { data: slimUserData(event.data as LatchkeyUserData) });
        break;
      case 'user.deleted': {
        const data = event.data as LatchkeyDeletedUserData;
        // Latchkey's user.deleted carries updated_at; Clerk's does not, and the event time is the next best order.
        const updatedAt = typeof data.updated_at === 'number' ? data.updated_at : (event.timestamp ?? Date.now());
        await ctx.runMutation(opts.deleteUser, { id: data.id, updatedAt });
        break;
      }
      default:
        break;
    }
    return json(200, { success: true });
  });
}
