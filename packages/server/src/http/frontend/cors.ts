import type { MiddlewareHandler } from 'hono';

export interface CorsOptions {
  /** The origins that may call with credentials, read at each request (instance settings change at run time). */
  allowedOrigins: () => readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  allowMethods: readonly string[];
  maxAgeSeconds: number;
}

/**
 * CORS with credentials for the allowed origins; other origins get no
 * Access-Control-Allow-Origin, so browsers keep the answer from their scripts.
 *
 * It sends the headers Hono's cors() sends. The difference: Hono's sets them on
 * `c.res`. With @hono/node-server that turns every answer into a full web
 * Response whose body is read back through a stream. That cost about a fifth
 * of a browser's token request. Headers given with `c.header()` before the
 * route answers go into the answer as it is made, and it stays on the fast
 * path. The rule that comes with it: Frontend API answers (errors and 404s
 * included) are made with the context (`c.json`, `c.body`). A raw
 * `new Response()` would go out without these headers.
 */
export function cors(opts: CorsOptions): MiddlewareHandler {
  const allowHeaders = opts.allowHeaders.join(',');
  const exposeHeaders = opts.exposeHeaders.join(',');
  const allowMethods = opts.allowMethods.join(',');
  const maxAge = String(opts.maxAgeSeconds);
  return async (c, next) => {
    const origin = c.req.header('origin');
    if (origin && opts.allowedOrigins().includes(origin)) c.header('Access-Control-Allow-Origin', origin);
    c.header('Access-Control-Allow-Credentials', 'true');
    c.header('Access-Control-Expose-Headers', exposeHeaders);
    // The answer depends on Origin: caches must not give one origin's answer to another.
    c.header('Vary', 'Origin', { append: true });
    if (c.req.method === 'OPTIONS') {
      c.header('Access-Control-Max-Age', maxAge);
      c.header('Access-Control-Allow-Methods', allowMethods);
      c.header('Access-Control-Allow-Headers', allowHeaders);
      c.header('Vary', 'Access-Control-Request-Headers', { append: true });
      return c.body(null, 204);
    }
    await next();
  };
}
