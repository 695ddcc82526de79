import { describe, expect, it } from 'vitest';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { deepMerge, METADATA_MAX_BYTES, serializeMetadata } from './metadata.js';

describe('deepMerge (PATCH /v1/users/{id}/metadata)', () => {
  it('merges nested objects key by key, at every depth', () => {
    const base = { role: 'user', prefs: { theme: 'dark', lang: 'en', a11y: { contrast: 'high', motion: 'reduced' } } };
    const patch = { prefs: { lang: 'fr', a11y: { motion: 'full' } }, dbId: 42 };
    expect(deepMerge(base, patch)).toEqual({
      role: 'user',
      prefs: { theme: 'dark', lang: 'fr', a11y: { contrast: 'high', motion: 'full' } },
      dbId: 42,
    });
  });

  it('deletes a key given null, at the top level and nested; null for an absent key is a no-op', () => {
    const base = { role: 'admin', prefs: { theme: 'dark', lang: 'en' }, keep: 1 };
    const out = deepMerge(base, { role: null, prefs: { lang: null }, absent: null, also: { absent: null } });
    expect(out).toEqual({ prefs: { theme: 'dark' }, keep: 1, also: {} });
    expect(Object.hasOwn(out, 'role')).toBe(false);
    expect(Object.hasOwn(out, 'absent')).toBe(false);
  });

  it('drops nulls inside an object that is new to the document (nothing stores null)', () => {
    expect(deepMerge({}, { prefs: { theme: null, lang: 'en', deep: { x: null, y: 1 } } }))
      .toEqual({ prefs: { lang: 'en', deep: { y: 1 } } });
  });

  it('replaces arrays whole instead of merging them by index', () => {
    const base = { tags: ['a', 'b', 'c'], matrix: [[1, 2], [3, 4]], nested: { list: [{ id: 1, x: 1 }, { id: 2 }] } };
    const out = deepMerge(base, { tags: ['z'], matrix: [], nested: { list: [{ id: 3 }] } });
    expect(out).toEqual({ tags: ['z'], matrix: [], nested: { list: [{ id: 3 }] } });
  });

  it('replaces across types: object over scalar, scalar over object, array over object, object over array', () => {
    const base = { a: 1, b: { x: 1 }, c: { y: 2 }, d: [1, 2] };
    expect(deepMerge(base, { a: { n: 1 }, b: 'flat', c: [1], d: { k: 'v' } }))
      .toEqual({ a: { n: 1 }, b: 'flat', c: [1], d: { k: 'v' } });
  });

  it('keeps falsy non-null values (false, 0, "") rather than treating them as deletions', () => {
    expect(deepMerge({ a: 1, b: 2, c: 3 }, { a: false, b: 0, c: '' })).toEqual({ a: false, b: 0, c: '' });
  });

  it('does not mutate its inputs', () => {
    const base = { prefs: { theme: 'dark', lang: 'en' }, list: [1] };
    const patch = { prefs: { lang: null, size: 'xl' }, list: [2] };
    const baseCopy = structuredClone(base);
    const patchCopy = structuredClone(patch);
    const out = deepMerge(base, patch);
    expect(base).toEqual(baseCopy);
    expect(patch).toEqual(patchCopy);
    expect(out.prefs).not.toBe(base.prefs);
  });

  it('an empty patch returns an equal document', () => {
    const base = { a: { b: [1, { c: 2 }] } };
    expect(deepMerge(base, {})).toEqual(base);
  });
});

describe('serializeMetadata size limit', () => {
  const filler = (bytes: number) => {
    // {"k":"<x…>"} is 8 bytes of JSON around the string.
    const doc = { k: 'x'.repeat(bytes - 8) };
    expect(Buffer.byteLength(JSON.stringify(doc))).toBe(bytes);
    return doc;
  };

  it('is 8 KiB of JSON text', () => {
    expect(METADATA_MAX_BYTES).toBe(8192);
  });

  it('accepts a document of exactly the limit and returns its JSON', () => {
    const doc = filler(METADATA_MAX_BYTES);
    expect(serializeMetadata('public_metadata', doc)).toBe(JSON.stringify(doc));
  });

  it('refuses one byte more with a 422-kind error naming the parameter', () => {
    let caught: unknown;
    try {
      serializeMetadata('private_metadata', filler(METADATA_MAX_BYTES + 1));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(LatchkeyError);
    expect(caught).toMatchObject({ kind: 'unprocessable', code: 'form_param_value_too_large', meta: { param_name: 'private_metadata' } });
  });

  it('counts UTF-8 bytes, not characters', () => {
    // 3000 × "€" is 3000 characters but 9000 bytes.
    const doc = { k: '€'.repeat(3000) };
    expect(JSON.stringify(doc).length).toBeLessThan(METADATA_MAX_BYTES);
    expect(() => serializeMetadata('unsafe_metadata', doc)).toThrow(LatchkeyError);
  });
});
