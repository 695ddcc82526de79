import { invalidParam } from '../errors/latchkey-error.js';
import type { Metadata } from './user-record.js';

/** Clerk's limit per metadata document, measured on the JSON text. */
export const METADATA_MAX_BYTES = 8 * 1024;

const isPlainObject = (v: unknown): v is Metadata => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Deep merge as PATCH /v1/users/{id}/metadata does it: objects merge key by key,
 * `null` deletes a key, any other value (arrays included) replaces.
 */
export function deepMerge(base: Metadata, patch: Metadata): Metadata {
  const out: Metadata = { ...base };
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(out[key])) out[key] = deepMerge(out[key] as Metadata, value);
    else if (isPlainObject(value)) out[key] = deepMerge({}, value);
    else out[key] = value;
  }
  return out;
}

export function serializeMetadata(param: string, value: Metadata): string {
  const text = JSON.stringify(value);
  if (Buffer.byteLength(text) > METADATA_MAX_BYTES) {
    throw invalidParam(param, `${param} must be at most ${METADATA_MAX_BYTES} bytes of JSON.`, 'form_param_value_too_large');
  }
  return text;
}
