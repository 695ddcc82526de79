import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { errorResponse } from './errors.js';

/**
 * Refuses bodies over `maxBytes` with 413. A declared Content-Length is checked
 * from the header alone; only bodies without one (chunked) go through Hono's
 * streaming bodyLimit, which counts bytes as they arrive. Touching the body
 * stream on every request would make @hono/node-server build a full web Request
 * per call, about half of a token request's main-thread time (bench/PROFILE.md).
 */
export function limitBodySize(maxBytes: number): MiddlewareHandler {
  const tooLarge: Parameters<typeof bodyLimit>[0]['onError'] = (c) =>
    errorResponse(c, 413, [{
      code: 'request_body_too_large', message: 'request body too large',
      long_message: `Request bodies are limited to ${maxBytes} bytes.`, meta: {},
    }]);
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const method = c.req.method;
    if (method === 'GET' || method === 'HEAD') return next();
    const length = c.req.header('content-length');
    if (length !== undefined && c.req.header('transfer-encoding') === undefined) {
      if (Number(length) > maxBytes) return tooLarge(c);
      return next();
    }
    return streaming(c, next);
  };
}
