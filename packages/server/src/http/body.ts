import type { Context } from 'hono';
import { z } from 'zod';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { ValidationErrors } from './errors.js';

/**
 * At most this many errors in one answer. A body of a million small keys would
 * otherwise cost seconds of the event loop and a reply ten times its size.
 */
export const MAX_VALIDATION_ERRORS = 20;

/** Maps zod issues to Clerk-style form errors that name the parameter (the first MAX_VALIDATION_ERRORS of them). */
function toValidationErrors(error: z.ZodError): ValidationErrors {
  const out: LatchkeyError[] = [];
  for (const issue of error.issues) {
    if (out.length >= MAX_VALIDATION_ERRORS) break;
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys.slice(0, MAX_VALIDATION_ERRORS - out.length)) {
        const param = [...issue.path, key].join('.');
        out.push(new LatchkeyError('unprocessable', 'form_param_unknown', 'is unknown',
          `${param} is not a valid parameter for this request.`, { param_name: param }));
      }
      continue;
    }
    const param = issue.path.join('.') || 'body';
    // zod reports an absent enum or literal as invalid_value, an absent anything else as invalid_type.
    const missing = (issue.code === 'invalid_type' || issue.code === 'invalid_value') && issue.input === undefined;
    out.push(missing
      ? new LatchkeyError('unprocessable', 'form_param_missing', 'is missing', `${param} must be included.`, { param_name: param })
      : new LatchkeyError('unprocessable', 'form_param_format_invalid', 'is invalid', `${param}: ${issue.message}`, { param_name: param }));
  }
  return new ValidationErrors(out);
}

export function validate<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  // reportInput: tells "absent" (input undefined) from "present but wrong".
  const parsed = schema.safeParse(value, { reportInput: true });
  if (!parsed.success) throw toValidationErrors(parsed.error);
  return parsed.data;
}

/** Deeper than any real document, shallow enough for the recursive code downstream. */
const MAX_DEPTH = 64;

/**
 * Walks a parsed body without recursion: refuses nesting past MAX_DEPTH (deep
 * merges and JSON.stringify would overflow the stack) and NUL characters (which
 * PostgreSQL text cannot store), so both are a 400 rather than a 500.
 */
function checkShape(value: unknown): void {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes('\0')) throw malformed('Strings must not contain NUL characters.');
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_DEPTH) throw malformed(`The request body is nested deeper than ${MAX_DEPTH} levels.`);
      for (const [k, child] of Object.entries(v)) {
        if (k.includes('\0')) throw malformed('Keys must not contain NUL characters.');
        stack.push([child, depth + 1]);
      }
    }
  }
}

const malformed = (longMessage: string) =>
  new LatchkeyError('bad_request', 'malformed_request', 'malformed request body', longMessage);

/**
 * Reads a JSON body. An empty body counts as `{}` (POST …/ban has none);
 * anything that is not a JSON object is a 400. Size is capped before this runs.
 */
export async function jsonBody<S extends z.ZodType>(c: Context, schema: S): Promise<z.infer<S>> {
  const text = await c.req.text();
  let value: unknown = {};
  if (text.trim() !== '') {
    try {
      value = JSON.parse(text);
    } catch {
      throw malformed('The request body is not valid JSON.');
    }
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw malformed('The request body must be a JSON object.');
  checkShape(value);
  return validate(schema, value);
}

/**
 * Reads the query string: keys in `arrays` keep every repeated value
 * (`email_address=a&email_address=b`), other keys take their last value.
 */
export function queryParams<S extends z.ZodType>(c: Context, schema: S, arrays: readonly string[] = []): z.infer<S> {
  const raw = c.req.queries();
  const value: Record<string, unknown> = {};
  for (const [key, values] of Object.entries(raw)) {
    const name = key.endsWith('[]') ? key.slice(0, -2) : key;
    value[name] = arrays.includes(name) ? values : values[values.length - 1];
  }
  return validate(schema, value);
}
