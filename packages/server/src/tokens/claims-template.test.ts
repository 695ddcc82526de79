import { describe, expect, it } from 'vitest';
import { isStatic, renderClaims } from './claims-template.js';

const context = {
  user: {
    id: 'user_123',
    first_name: 'Ada',
    last_name: null,
    full_name: 'Ada',
    email_verified: true,
    phone_number_verified: false,
    created_at: 1_700_000_000,
    zero: 0,
    empty: '',
    public_metadata: { role: 'admin', tier: 3, flags: ['a', 'b'], nested: { deep: true } },
  },
  session: { id: 'sess_9', client_id: 'client_7' },
};

describe('renderClaims', () => {
  it('a string that is exactly one shortcode keeps the value with its type', () => {
    const out = renderClaims({
      meta: '{{user.public_metadata}}',
      role: '{{user.public_metadata.role}}',
      tier: '{{user.public_metadata.tier}}',
      flags: '{{user.public_metadata.flags}}',
      deep: '{{user.public_metadata.nested.deep}}',
      verified: '{{user.email_verified}}',
      phoneVerified: '{{user.phone_number_verified}}',
      created: '{{user.created_at}}',
      zero: '{{user.zero}}',
      spaced: '{{  user.id  }}',
    }, context);
    expect(out).toEqual({
      meta: { role: 'admin', tier: 3, flags: ['a', 'b'], nested: { deep: true } },
      role: 'admin',
      tier: 3,
      flags: ['a', 'b'],
      deep: true,
      verified: true,
      phoneVerified: false,
      created: 1_700_000_000,
      zero: 0,
      spaced: 'user_123',
    });
    expect(typeof out.tier).toBe('number');
    expect(typeof out.phoneVerified).toBe('boolean');
  });

  it('interpolates shortcodes inside a longer string as text', () => {
    const out = renderClaims({
      greeting: 'Hello {{user.first_name}}!',
      pair: '{{user.id}}:{{session.id}}',
      typed: 'tier {{user.public_metadata.tier}} verified={{user.email_verified}}',
      object: 'meta={{user.public_metadata.nested}}',
      padded: ' {{user.id}}',
    }, context);
    expect(out).toEqual({
      greeting: 'Hello Ada!',
      pair: 'user_123:sess_9',
      typed: 'tier 3 verified=true',
      object: 'meta={"deep":true}',
      padded: ' user_123',
    });
  });

  it('leaves out claims whose value resolves to nothing (missing, null, or blank text)', () => {
    const out = renderClaims({
      missing: '{{user.nope}}',
      missingDeep: '{{user.public_metadata.nope.deeper}}',
      missingRoot: '{{org.id}}',
      nullValue: '{{user.last_name}}',
      blankText: '{{user.last_name}} {{user.nope}}',
      kept: '{{user.id}}',
    }, context);
    expect(out).toEqual({ kept: 'user_123' });
    for (const key of ['missing', 'missingDeep', 'missingRoot', 'nullValue', 'blankText']) expect(Object.hasOwn(out, key)).toBe(false);
  });

  it('interpolates a missing value inside longer text as the empty string', () => {
    expect(renderClaims({ name: '{{user.first_name}} {{user.last_name}}' }, context)).toEqual({ name: 'Ada ' });
    expect(renderClaims({ label: 'id={{user.nope}}' }, context)).toEqual({ label: 'id=' });
  });

  it('renders nested objects recursively, dropping their missing members', () => {
    const out = renderClaims({
      app: {
        uid: '{{user.id}}',
        gone: '{{user.nope}}',
        meta: { role: '{{user.public_metadata.role}}', gone: '{{user.last_name}}', fixed: 'x' },
      },
    }, context);
    expect(out).toEqual({ app: { uid: 'user_123', meta: { role: 'admin', fixed: 'x' } } });
  });

  it('renders arrays element by element, keeping positions (a missing element becomes null)', () => {
    const out = renderClaims({
      list: ['{{user.id}}', '{{user.nope}}', 'static', '{{user.public_metadata.tier}}', { sid: '{{session.id}}' }, ['{{session.client_id}}']],
    }, context);
    expect(out).toEqual({ list: ['user_123', null, 'static', 3, { sid: 'sess_9' }, ['client_7']] });
  });

  it('passes values without shortcodes through unchanged, whatever their type', () => {
    const template = { s: 'plain', n: 7, f: 1.5, t: true, ff: false, arr: [1, 'two'], obj: { k: 'v' }, braces: '{ not a shortcode }' };
    expect(renderClaims(template, context)).toEqual(template);
  });

  it('drops null literals at the top level', () => {
    expect(renderClaims({ a: null, b: 1 }, context)).toEqual({ b: 1 });
  });

  it('reads only own properties: prototype members are not reachable', () => {
    const out = renderClaims({
      ctor: '{{user.constructor}}',
      proto: '{{user.__proto__}}',
      toString: 'x{{user.toString}}',
      len: '{{user.first_name.length}}',
    }, context);
    expect(out).toEqual({ toString: 'x' });
  });

  it('does not touch its template', () => {
    const template = { a: '{{user.id}}', nested: { b: '{{user.nope}}' } };
    const copy = structuredClone(template);
    renderClaims(template, context);
    expect(template).toEqual(copy);
  });
});

describe('isStatic', () => {
  it('is true only when no string anywhere holds a shortcode', () => {
    expect(isStatic({ a: 'x', b: 1, c: { d: ['e'] } })).toBe(true);
    expect(isStatic({})).toBe(true);
    expect(isStatic({ a: '{{user.id}}' })).toBe(false);
    expect(isStatic({ c: { d: ['pre {{session.id}}'] } })).toBe(false);
  });
});
