import { webhookHttpAction } from '@latchkey/convex';
import { httpRouter } from 'convex/server';
import { internal } from './_generated/api';

const http = httpRouter();

// Latchkey's webhook endpoint for this deployment: https://<deployment>.convex.site/latchkey-webhook,
// subscribed to user.created, user.updated and user.deleted. Its signing secret (whsec_…) is
// the deployment's LATCHKEY_WEBHOOK_SECRET.
http.route({
  path: '/latchkey-webhook',
  method: 'POST',
  handler: webhookHttpAction({
    upsertUser: internal.users.upsertUser,
    deleteUser: internal.users.deleteUser,
  }),
});

export default http;
