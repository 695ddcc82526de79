/**
 * A failure the caller can act on. The domain throws these without knowing HTTP;
 * the HTTP layer maps `kind` to a status and renders Clerk's error shape.
 */
export type ErrorKind =
  | 'bad_request' // 400: the request itself cannot be read
  | 'unauthenticated' // 401
  | 'forbidden' // 403
  | 'not_found' // 404
  | 'conflict' // 409
  | 'too_large' // 413
  | 'unprocessable' // 422: readable, but the values are wrong
  | 'rate_limited' // 429
  | 'unavailable'; // 503: overloaded for a moment; retry

export class LatchkeyError extends Error {
  constructor(
    public readonly kind: ErrorKind,
    /** Stable machine code, Clerk's where one exists (e.g. `form_identifier_exists`). */
    public readonly code: string,
    message: string,
    public readonly longMessage: string = message,
    public readonly meta: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'LatchkeyError';
  }
}

export const notFound = (what = 'Resource') =>
  new LatchkeyError('not_found', 'resource_not_found', 'not found', `${what} not found`);

export const invalidParam = (param: string, longMessage: string, code = 'form_param_format_invalid') =>
  new LatchkeyError('unprocessable', code, 'is invalid', longMessage, { param_name: param });
