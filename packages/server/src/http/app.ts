import { Hono } from 'hono';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { Services } from '../services.js';
import { ping } from '../storage/database.js';
import { limitBodySize } from './body-limit.js';
import { recordOrigin, trustedProxies } from './request-origin.js';
import { errorResponse, renderError, routeNotFound, ValidationErrors } from './errors.js';
import { frontendCors } from './frontend/client-context.js';
import { meRoutes } from './frontend/me.js';
import { frontendRoutes } from './frontend/routes.js';
import { devOutboxRoutes } from './routes/dev-outbox.js';
import { discoveryRoutes } from './routes/discovery.js';
import { auditLogRoutes } from './routes/audit-logs.js';
import { eventRoutes } from './routes/events.js';
import { instanceRoutes } from './routes/instance.js';
import { jwtTemplateRoutes } from './routes/jwt-templates.js';
import { revocationRoutes } from './routes/revocations.js';
import { roleRoutes } from './routes/roles.js';
import { sessionRoutes } from './routes/sessions.js';
import { userRoutes } from './routes/users.js';
import { webhookEndpointRoutes, webhookMessageRoutes } from './routes/webhooks.js';
import { secretKeyAuth } from './secret-key-auth.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/** The HTTP surface: routes map requests to the domain and its answers back. */
export function createHttpApp(s: Services): Hono {
  const app = new Hono();

  // The Frontend API's CORS first: browser apps must be able to read every answer there, the refusals just below included.
  const cors = frontendCors(s);
  app.use('/v1/client/*', cors);
  app.use('/v1/me/*', cors);
  app.use(limitBodySize(MAX_BODY_BYTES));
  // A NUL in a path or query can match nothing and PostgreSQL cannot even compare it.
  app.use(async (c, next) => {
    if (c.req.url.includes('%00')) {
      return errorResponse(c, 400, [{ code: 'malformed_request', message: 'malformed request',
        long_message: 'URLs must not contain NUL characters (%00).', meta: {} }]);
    }
    await next();
  });

  // Healthy means the database answers too, so a load balancer stops sending traffic to an instance that lost it.
  app.get('/health', async (c) => {
    try {
      await ping(s.db);
      return c.json({ status: 'ok' });
    } catch {
      return c.json({ status: 'unavailable' }, 503);
    }
  });
  app.route('/', discoveryRoutes(s));
  // The Frontend API answers before the Backend API's secret-key guard below:
  // end users authenticate with their client, not the secret key.
  app.use('/v1/*', recordOrigin(s.db, s.config.trustedProxies.length ? trustedProxies(s.config.trustedProxies) : undefined));
  app.route('/v1/client', frontendRoutes(s));
  app.route('/v1/me', meRoutes(s));

  const backend = new Hono();
  backend.use(secretKeyAuth(s.secretKeys));
  backend.route('/users', userRoutes(s));
  backend.route('/sessions', sessionRoutes(s));
  backend.route('/jwt_templates', jwtTemplateRoutes(s));
  backend.route('/roles', roleRoutes(s));
  backend.route('/revocations', revocationRoutes(s));
  backend.route('/instance', instanceRoutes(s));
  backend.route('/events', eventRoutes(s));
  backend.route('/dev/outbox', devOutboxRoutes(s));
  backend.route('/webhook_endpoints', webhookEndpointRoutes(s));
  backend.route('/webhook_messages', webhookMessageRoutes(s));
  backend.route('/audit_logs', auditLogRoutes(s));
  app.route('/v1', backend);

  app.notFound(routeNotFound);

  app.onError((err, c) => {
    if (err instanceof LatchkeyError) return renderError(c, err);
    if (err instanceof ValidationErrors) return err.render(c);
    s.logger.error({ err, method: c.req.method, path: c.req.path }, 'unhandled error');
    return errorResponse(c, 500, [{
      code: 'internal_clerk_error', message: 'Something went wrong',
      long_message: 'The server failed to process the request; details are in its log.', meta: {},
    }]);
  });
  return app;
}
