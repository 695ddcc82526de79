import { expect } from 'vitest';

/** Clerk's error body, as every refusal answers it. */
export interface ErrorBody {
  errors: { code: string; message: string; long_message: string; meta: Record<string, unknown> }[];
  clerk_trace_id: string;
}

/** Asserts Clerk's error shape: a non-empty `errors` list of {code, message, long_message, meta} and a trace id. */
export function expectErrorShape(body: ErrorBody, what: string): void {
  expect(Array.isArray(body?.errors), `${what}: ${JSON.stringify(body).slice(0, 300)}`).toBe(true);
  expect(body.errors.length, what).toBeGreaterThan(0);
  for (const e of body.errors) {
    expect(typeof e.code, what).toBe('string');
    expect(typeof e.message, what).toBe('string');
    expect(typeof e.long_message, what).toBe('string');
    expect(e.meta, what).toBeTypeOf('object');
  }
  expect(body.clerk_trace_id, what).toMatch(/^[0-9a-f]{32}$/);
}
