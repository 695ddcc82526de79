import { httpRouter } from 'convex/server';
import { webhookHttpAction } from '@latchkey/convex';
import { internal } from './_generated/api';

const http = httpRouter();

/**
 * Latchkey's webhook endpoint: https://<deployment>.convex.site/latchkey-webhook.
 * Signatures are checked with LATCHKEY_WEBHOOK_SECRET (the endpoint's whsec_… secret);
 * user.created / user.updated upsert the users row, user.deleted redacts it.
 */
http.route({
  path: '/latchkey-webhook',
  method: 'POST',
  handler: webhookHttpAction({ upsertUser: internal.users.upsertUser, deleteUser: internal.users.deleteUser }),
});

export default http;
