import { ConvexError, type Value } from 'convex/values';
import { describe, expect, it } from 'vitest';
import { api, internal } from './convex/_generated/api.js';
import { newConvex } from './support.js';

/**
 * requireUser / requireRole and the authorizedQuery / authorizedMutation
 * wrappers: what they return, and the ConvexError data of each refusal
 * (seed 002's "Not authenticated" / "User not found", seed 000's 403 body).
 * Identities here are written by hand: what withIdentity is given is covered
 * with real tokens in token.test.ts.
 */

const ISS = 'https://auth.example.test';
const identity = (sub: string, claims: Record<string, unknown> = {}) => ({ subject: sub, issuer: ISS, tokenIdentifier: `${ISS}|${sub}`, ...claims });

/** A Latchkey user JSON as the webhook would carry it. */
const userJson = (id: string, role: string | undefined, updatedAt = 1_000) => ({
  id, first_name: 'Test', last_name: null, image_url: '', has_image: false,
  primary_email_address_id: `idn_${id}`, email_addresses: [{ id: `idn_${id}`, email_address: `${id}@example.com` }],
  public_metadata: role === undefined ? {} : { role }, updated_at: updatedAt,
});

/** A row without its system fields. */
const content = (row: Record<string, unknown> | null) => {
  const { _id: _i, _creationTime: _c, ...rest } = row ?? {};
  return rest;
};

/** The ConvexError data a call was refused with (fails when it was not refused with a ConvexError). */
async function refusal(call: Promise<unknown>): Promise<unknown> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ConvexError);
  return (err as ConvexError<Value>).data;
}

async function world() {
  const t = newConvex();
  await t.mutation(internal.users.upsertUser, { data: userJson('user_admin', 'admin') });
  await t.mutation(internal.users.upsertUser, { data: userJson('user_mod', 'moderator') });
  await t.mutation(internal.users.upsertUser, { data: userJson('user_plain', 'user') });
  await t.mutation(internal.users.upsertUser, { data: userJson('user_norole', undefined) });
  await t.mutation(internal.users.upsertUser, { data: userJson('user_gone', 'admin') });
  await t.mutation(internal.users.deleteUser, { id: 'user_gone', updatedAt: 2_000 });
  return t;
}

describe('requireUser', () => {
  it('returns the caller\'s row', async () => {
    const t = await world();
    expect(await t.withIdentity(identity('user_plain')).query(api.users.me, {})).toMatchObject({
      latchkeyId: 'user_plain', email: 'user_plain@example.com', firstName: 'Test', role: 'user', updatedAt: 1_000,
    });
  });

  it('without a token: {code: UNAUTHENTICATED, message: "Not authenticated"}', async () => {
    const t = await world();
    expect(await refusal(t.query(api.users.me, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect(await refusal(t.mutation(api.users.ensureUser, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
  });

  it('a valid token without a row, or with a deleted one: {code: USER_NOT_FOUND, message: "User not found"}', async () => {
    const t = await world();
    expect(await refusal(t.withIdentity(identity('user_unknown')).query(api.users.me, {})))
      .toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
    expect(await refusal(t.withIdentity(identity('user_gone')).query(api.users.me, {})))
      .toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
  });
});

describe('requireRole', () => {
  it('returns the row when the role is the one, or one of those, required', async () => {
    const t = await world();
    expect(await t.withIdentity(identity('user_admin')).query(api.users.adminOnly, {})).toMatchObject({ latchkeyId: 'user_admin' });
    expect(await t.withIdentity(identity('user_mod')).query(api.users.adminOrModerator, {})).toMatchObject({ latchkeyId: 'user_mod' });
  });

  it('another role: {code: FORBIDDEN, message: "Insufficient permissions", requiredRole as passed, userRole}', async () => {
    const t = await world();
    expect(await refusal(t.withIdentity(identity('user_plain')).query(api.users.adminOnly, {}))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: 'admin', userRole: 'user',
    });
    expect(await refusal(t.withIdentity(identity('user_plain')).query(api.users.adminOrModerator, {}))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: 'user',
    });
    expect(await refusal(t.withIdentity(identity('user_mod')).query(api.users.adminOnly, {}))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator',
    });
  });

  it('no role: userRole null; a synced row\'s role is final, even against a token claiming another', async () => {
    const t = await world();
    expect(await refusal(t.withIdentity(identity('user_norole')).query(api.users.adminOnly, {}))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: 'admin', userRole: null,
    });
    // A token minted before a demotion still says admin: the synced row says otherwise, and wins.
    expect(await refusal(t.withIdentity(identity('user_norole', { role: 'admin' })).query(api.users.adminOnly, {}))).toMatchObject({ userRole: null });
    expect(await refusal(t.withIdentity(identity('user_plain', { role: 'admin' })).query(api.users.adminOnly, {}))).toMatchObject({ userRole: 'user' });
  });

  it('a provisional row (ensureUser, before the webhook) takes the role from the token', async () => {
    const t = await world();
    await t.withIdentity(identity('user_new')).mutation(api.users.ensureUser, {});
    expect(await refusal(t.withIdentity(identity('user_new')).query(api.users.adminOnly, {}))).toMatchObject({ userRole: null });
    expect(await t.withIdentity(identity('user_new', { role: 'admin' })).query(api.users.adminOnly, {})).toMatchObject({ latchkeyId: 'user_new', updatedAt: 0 });
    const made = await t.withIdentity(identity('user_newer', { role: 'moderator' })).mutation(api.users.ensureUser, {});
    expect(made).toMatchObject({ role: 'moderator', updatedAt: 0 });
    expect(await t.withIdentity(identity('user_newer', { role: 'moderator' })).query(api.users.adminOrModerator, {})).toMatchObject({ latchkeyId: 'user_newer' });
  });

  it('authentication comes first: no token is UNAUTHENTICATED, a deleted user USER_NOT_FOUND, not FORBIDDEN', async () => {
    const t = await world();
    expect(await refusal(t.query(api.users.adminOnly, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect(await refusal(t.withIdentity(identity('user_gone')).query(api.users.adminOnly, {})))
      .toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
  });
});

describe('authorizedQuery / authorizedMutation', () => {
  it('give the handler ctx.user; without roles any signed-in user with a row passes', async () => {
    const t = await world();
    expect(await t.withIdentity(identity('user_plain')).query(api.users.whoAmI, {})).toBe('user_plain');
    expect(await refusal(t.query(api.users.whoAmI, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect(await refusal(t.withIdentity(identity('user_unknown')).query(api.users.whoAmI, {})))
      .toEqual({ code: 'USER_NOT_FOUND', message: 'User not found' });
  });

  it('with roles: the handler runs for those roles only, with its own args', async () => {
    const t = await world();
    expect(await t.withIdentity(identity('user_admin')).query(api.users.adminEcho, { text: 'hi' })).toBe('user_admin: hi');
    expect(await refusal(t.withIdentity(identity('user_mod')).query(api.users.adminEcho, { text: 'hi' }))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator',
    });

    expect(await t.withIdentity(identity('user_mod')).mutation(api.users.renameMe, { firstName: 'Mo' })).toBe('Mo');
    expect(await t.query(api.users.byLatchkeyId, { latchkeyId: 'user_mod' })).toMatchObject({ firstName: 'Mo' });
    expect(await refusal(t.withIdentity(identity('user_plain')).mutation(api.users.renameMe, { firstName: 'Nope' }))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: ['admin', 'moderator'], userRole: 'user',
    });
    // The refused mutation wrote nothing.
    expect(await t.query(api.users.byLatchkeyId, { latchkeyId: 'user_plain' })).toMatchObject({ firstName: 'Test' });
  });
});

describe('the customizations on the app\'s own builders (typed ctx.db)', () => {
  it('give ctx.user and apply roles the same way', async () => {
    const t = await world();
    expect(await t.withIdentity(identity('user_plain')).query(api.typed.myEmail, {})).toBe('user_plain@example.com');
    expect(await refusal(t.query(api.typed.myEmail, {}))).toEqual({ code: 'UNAUTHENTICATED', message: 'Not authenticated' });
    expect(await t.withIdentity(identity('user_admin')).mutation(api.typed.setLastName, { lastName: 'Boss' })).toBe('Boss');
    expect(await refusal(t.withIdentity(identity('user_mod')).mutation(api.typed.setLastName, { lastName: 'X' }))).toEqual({
      code: 'FORBIDDEN', message: 'Insufficient permissions', requiredRole: 'admin', userRole: 'moderator',
    });
  });
});

describe('the sync mutations called directly', () => {
  it('ensureUser reads the profile from OIDC (camelCase) or customJwt (raw) claim names', async () => {
    const t = newConvex();
    const oidc = identity('user_oidc', { email: 'o@example.com', givenName: 'Ola', familyName: 'Oak', pictureUrl: 'https://img.example/o.png' });
    expect(content(await t.withIdentity(oidc).mutation(api.users.ensureUser, {}))).toEqual({
      latchkeyId: 'user_oidc', email: 'o@example.com', firstName: 'Ola', lastName: 'Oak', imageUrl: 'https://img.example/o.png', updatedAt: 0,
    });
    const raw = identity('user_raw', { email: 'r@example.com', given_name: 'Rae', family_name: 'Reed', picture: 'https://img.example/r.png', role: 'user' });
    expect(content(await t.withIdentity(raw).mutation(api.users.ensureUser, {}))).toEqual({
      latchkeyId: 'user_raw', email: 'r@example.com', firstName: 'Rae', lastName: 'Reed', imageUrl: 'https://img.example/r.png', role: 'user', updatedAt: 0,
    });
  });

  it('upsertUser refuses data that is not a user, and reports applied / stale', async () => {
    const t = newConvex();
    await expect(t.mutation(internal.users.upsertUser, { data: { id: 'user_x' } })).rejects.toThrow(/numeric updated_at/);
    expect(await t.mutation(internal.users.upsertUser, { data: userJson('user_x', 'user', 5) })).toBe('applied');
    expect(await t.mutation(internal.users.upsertUser, { data: userJson('user_x', 'admin', 5) })).toBe('stale');
    expect(await t.mutation(internal.users.upsertUser, { data: userJson('user_x', 'admin', 4) })).toBe('stale');
    expect(await t.mutation(internal.users.upsertUser, { data: userJson('user_x', 'admin', 6) })).toBe('applied');
    expect(await t.mutation(internal.users.deleteUser, { id: 'user_x', updatedAt: 6 })).toBe('stale');
    expect(await t.mutation(internal.users.deleteUser, { id: 'user_x', updatedAt: 7 })).toBe('applied');
    expect(await t.mutation(internal.users.upsertUser, { data: userJson('user_x', 'admin', 6) })).toBe('stale');
    expect(await t.query(api.users.byLatchkeyId, { latchkeyId: 'user_x' })).toMatchObject({ updatedAt: 7, deletedAt: 7 });
  });

  it('the primary email is the one primary_email_address_id names; a cleared name is removed from the row', async () => {
    const t = newConvex();
    const data = {
      ...userJson('user_y', 'user', 1), first_name: 'Yo',
      primary_email_address_id: 'idn_2', email_addresses: [{ id: 'idn_1', email_address: 'old@example.com' }, { id: 'idn_2', email_address: 'new@example.com' }],
      image_url: 'https://img.example/y.png', has_image: true,
    };
    await t.mutation(internal.users.upsertUser, { data });
    expect(await t.query(api.users.byLatchkeyId, { latchkeyId: 'user_y' })).toMatchObject({ email: 'new@example.com', imageUrl: 'https://img.example/y.png' });
    await t.mutation(internal.users.upsertUser, { data: { ...data, first_name: null, image_url: '', has_image: false, updated_at: 2 } });
    const row = await t.query(api.users.byLatchkeyId, { latchkeyId: 'user_y' });
    expect(row).not.toHaveProperty('firstName');
    expect(row).not.toHaveProperty('imageUrl');
    expect(row).toMatchObject({ email: 'new@example.com', updatedAt: 2 });
  });
});
