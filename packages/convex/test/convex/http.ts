import { httpRouter } from 'convex/server';
import { webhookHttpAction } from '../../src/index.js';
import { internal } from './_generated/api.js';

const http = httpRouter();

// The secret comes from LATCHKEY_WEBHOOK_SECRET (the tests set and unset it).
http.route({
  path: '/latchkey-webhook',
  method: 'POST',
  handler: webhookHttpAction({ upsertUser: internal.users.upsertUser, deleteUser: internal.users.deleteUser }),
});

/** The same route with the secret given in code: what the tests sign with svix. */
export const FIXED_SECRET = `whsec_${btoa('a fixed test secret, 24 b')}`;
http.route({
  path: '/fixed-secret-webhook',
  method: 'POST',
  handler: webhookHttpAction({ secret: FIXED_SECRET, upsertUser: internal.users.upsertUser, deleteUser: internal.users.deleteUser }),
});

export default http;
