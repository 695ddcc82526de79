import { auditLogsApi } from './audit-logs.js';
import { eventsApi } from './events.js';
import { instanceApi } from './instance.js';
import { jwtTemplatesApi } from './jwt-templates.js';
import { createRequester } from './request.js';
import { revocationsApi } from './revocations.js';
import { rolesApi } from './roles.js';
import { sessionsApi } from './sessions.js';
import { usersApi } from './users.js';
import { webhookEndpointsApi, webhookMessagesApi } from './webhook-endpoints.js';

export interface LatchkeyClientOptions {
  /** The instance's secret key (`sk_…`, LATCHKEY_SECRET_KEY). */
  secretKey: string;
  /** Latchkey's public URL (LATCHKEY_API_URL), with or without `/v1`. */
  apiUrl: string;
  /** For tests, proxies or instrumentation; the global fetch otherwise. */
  fetch?: typeof fetch;
}

/**
 * A typed client of the whole Backend API. Every method answers the parsed
 * JSON (snake_case, as the docs show it) or throws LatchkeyApiError with the
 * HTTP status and Clerk's `errors` list.
 */
export function createLatchkeyClient(opts: LatchkeyClientOptions) {
  const request = createRequester(opts);
  return {
    users: usersApi(request),
    sessions: sessionsApi(request),
    jwtTemplates: jwtTemplatesApi(request),
    roles: rolesApi(request),
    instance: instanceApi(request),
    events: eventsApi(request),
    auditLogs: auditLogsApi(request),
    webhookEndpoints: webhookEndpointsApi(request),
    webhookMessages: webhookMessagesApi(request),
    revocations: revocationsApi(request),
  };
}

export type LatchkeyClient = ReturnType<typeof createLatchkeyClient>;
