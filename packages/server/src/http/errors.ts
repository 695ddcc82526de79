import { randomBytes } from 'node:crypto';
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { LatchkeyError, type ErrorKind } from '../errors/latchkey-error.js';

const STATUS: Record<ErrorKind, ContentfulStatusCode> = {
  bad_request: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
};

export interface ErrorEntry {
  code: string;
  message: string;
  long_message: string;
  meta: Record<string, unknown>;
}

const entryOf = (e: LatchkeyError): ErrorEntry => ({ code: e.code, message: e.message, long_message: e.longMessage, meta: e.meta });

/**
 * Clerk's error shape: `{"errors":[…], "clerk_trace_id"}`. @clerk/backend parses
 * it into ClerkAPIResponseError only when Content-Type is exactly application/json,
 * which Hono's c.json() sends.
 */
export function errorResponse(c: Context, status: ContentfulStatusCode, errors: ErrorEntry[]) {
  return c.json({ errors, clerk_trace_id: randomBytes(16).toString('hex') }, status);
}

export function renderError(c: Context, err: LatchkeyError) {
  const retry = err.meta.retry_after_seconds;
  if ((err.kind === 'rate_limited' || err.kind === 'unavailable') && typeof retry === 'number') c.header('Retry-After', String(retry));
  return errorResponse(c, STATUS[err.kind], [entryOf(err)]);
}

/** Several validation problems found at once share one status (422). */
export class ValidationErrors extends Error {
  constructor(public readonly errors: LatchkeyError[]) {
    super(errors.map((e) => e.longMessage).join('; '));
  }
  render(c: Context) {
    return errorResponse(c, 422, this.errors.map(entryOf));
  }
}

/** 404 for a path and method no route answers. */
export const routeNotFound = (c: Context) => errorResponse(c, 404, [{
  code: 'resource_not_found', message: 'not found', long_message: `No route for ${c.req.method} ${c.req.path}.`, meta: {},
}]);
