import { z } from 'zod';
import { shortcodeIssues } from './shortcodes.js';

/**
 * Claim templates with shortcodes, as in Clerk's JWT templates and custom session
 * claims: a string that is exactly one shortcode takes the value with its type
 * (`"{{user.public_metadata}}"` gives an object); shortcodes inside a longer
 * string are interpolated as text. A claim whose value resolves to nothing is left
 * out, so apps see `undefined`, not `null` or `""`.
 */
const WHOLE = /^\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}$/;
const INLINE = /\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g;

function lookup(context: Record<string, unknown>, path: string): unknown {
  let value: unknown = context;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object' || !Object.hasOwn(value, part)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

function renderValue(template: unknown, context: Record<string, unknown>): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) return lookup(context, whole[1]!);
    if (!template.includes('{{')) return template;
    const text = template.replace(INLINE, (_, path: string) => {
      const v = lookup(context, path);
      return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    });
    return text.trim() === '' ? undefined : text;
  }
  if (Array.isArray(template)) return template.map((t) => renderValue(t, context) ?? null);
  if (template !== null && typeof template === 'object') return renderClaims(template as Record<string, unknown>, context);
  return template;
}

export function renderClaims(template: Record<string, unknown>, context: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, t] of Object.entries(template)) {
    const value = renderValue(t, context);
    if (value !== undefined && value !== null) out[key] = value;
  }
  return out;
}

/** True when the template has no shortcode, so rendering it needs no user data. */
export const isStatic = (template: Record<string, unknown>) => !JSON.stringify(template).includes('{{');

/**
 * The zod schema of a claims template: refuses the reserved claims, shortcodes
 * naming unknown fields (each issue names the claim), and templates over
 * `maxBytes` of JSON.
 */
export function claimsTemplateSchema(reserved: readonly string[], maxBytes: number) {
  return z.record(z.string().min(1).max(128), z.unknown()).superRefine((claims, ctx) => {
    for (const key of Object.keys(claims)) {
      if (reserved.includes(key)) ctx.addIssue({ code: 'custom', path: [key], message: `the reserved claim "${key}" cannot be set here` });
    }
    for (const issue of shortcodeIssues(claims)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
    const size = Buffer.byteLength(JSON.stringify(claims));
    if (size > maxBytes) ctx.addIssue({ code: 'custom', message: `the claims are ${size} bytes of JSON; the limit is ${maxBytes}` });
  });
}
