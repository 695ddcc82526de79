import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { LatchkeyError, notFound } from '../../errors/latchkey-error.js';
import { consumeCode, issueCode } from '../../frontend/email-codes.js';
import { verifyPassword } from '../../passwords/passwords.js';
import { checkPasswordStrength } from '../../passwords/strength.js';
import type { Services } from '../../services.js';
import { sessionJson } from '../../sessions/serialize.js';
import { getSession, listSessions, recordFirstFactor, revokeSession } from '../../sessions/sessions.js';
import type { SessionTable } from '../../storage/schema.js';
import { addEmailAddress, makePrimaryEmail, markEmailVerified, removeEmailAddress } from '../../users/email-addresses.js';
import { emailAddress } from '../../users/schemas.js';
import { ownUserJson } from '../../users/serialize.js';
import { findLiveUser } from '../../users/store.js';
import { primaryEmail, suspensionRefusal, type UserRecord } from '../../users/user-record.js';
import { deleteUser, updateUser } from '../../users/users.js';
import { withActor } from '../../events/origin.js';
import { jsonBody } from '../body.js';
import { routeNotFound } from '../errors.js';
import { activeSessionsOf, currentSessionOf } from '../../frontend/clients.js';
import { csrfGuard, requireClient } from './client-context.js';

const profileSchema = z.strictObject({
  first_name: z.string().max(256).nullish(),
  last_name: z.string().max(256).nullish(),
  username: z.string().min(4).max(64).regex(/^[A-Za-z0-9_.-]+$/).transform((u) => u.toLowerCase()).nullish(),
  unsafe_metadata: z.record(z.string(), z.unknown()).optional(),
});
const passwordSchema = z.strictObject({
  current_password: z.string().max(1024),
  new_password: z.string(),
  sign_out_of_other_sessions: z.boolean().optional(),
});
const emailSchema = z.strictObject({ email_address: emailAddress });

/**
 * The fields a user may not remove from their own profile: those the instance
 * requires at sign-up, and the username where it is the only identifier that
 * signs in (without it the account could not be signed into at all).
 */
function keepRequired(s: Services, input: z.infer<typeof profileSchema>): void {
  const settings = s.settings.get();
  const required = new Set<string>(settings.sign_up_required_fields);
  if (!settings.sign_in_identifiers.includes('email_address')) required.add('username');
  for (const field of ['first_name', 'last_name', 'username'] as const) {
    if (required.has(field) && (input[field] === null || input[field] === '')) {
      throw new LatchkeyError('unprocessable', 'form_param_value_invalid', 'is invalid',
        `${field} is required on this instance and cannot be removed.`, { param_name: field });
    }
  }
}

type Env = { Variables: { me: { session: SessionTable; rec: UserRecord } } };

/**
 * /v1/me: the signed-in user (the client's active session) managing their own
 * account: profile, password, email addresses, sessions on other devices, and
 * deleting the account when the instance allows it.
 */
export function meRoutes(s: Services) {
  const app = new Hono<Env>();
  app.use(csrfGuard(s));

  /**
   * The client's current session (frontend/clients.ts currentSessionOf) and its
   * user, or 401; a user the token endpoint refuses (banned, or locked through
   * the Backend API) gets its 403 here too.
   */
  async function signedIn(c: Context): Promise<{ session: SessionTable; rec: UserRecord }> {
    const { client } = await requireClient(c, s);
    const unauthenticated = new LatchkeyError('unauthenticated', 'signed_out', 'Signed out', 'This client has no active session: sign in first.');
    const session = currentSessionOf(await activeSessionsOf(c.var.db, s.clock.now(), client), client);
    const rec = session && await findLiveUser(c.var.db, session.user_id);
    if (!session || !rec) throw unauthenticated;
    const refused = suspensionRefusal(rec.user, s.clock.now());
    if (refused) throw refused;
    return { session, rec };
  }
  // Every /v1/me route acts as the signed-in user: their changes are audited as theirs.
  app.use(async (c, next) => {
    const found = await signedIn(c);
    c.set('me', found);
    c.set('db', withActor(c.var.db, { type: 'user', id: found.rec.user.id }));
    await next();
  });
  const current = async (c: Context<Env>) => c.get('me');
  const json = (rec: UserRecord) => ownUserJson(rec, s.clock.now());

  app.get('/', async (c) => c.json(json((await current(c)).rec)));

  app.patch('/', async (c) => {
    const input = await jsonBody(c, profileSchema);
    keepRequired(s, input);
    const { rec } = await current(c);
    return c.json(json(await updateUser(c.var.db, s.clock, rec.user.id, input)));
  });

  app.post('/change_password', async (c) => {
    const input = await jsonBody(c, passwordSchema);
    const { session, rec } = await current(c);
    // A stolen session must not become a way to guess the password.
    await s.limits.consume('passwordChecksPerUser', rec.user.id);
    if (!rec.user.password_digest || !(await verifyPassword(rec.user.password_digest, input.current_password))) {
      throw new LatchkeyError('unprocessable', 'form_password_incorrect', 'Incorrect password', 'The current password is incorrect.', { param_name: 'current_password' });
    }
    const inputs = [primaryEmail(rec)?.email_address, rec.user.first_name, rec.user.last_name, rec.user.username].filter((v): v is string => !!v);
    try {
      checkPasswordStrength(input.new_password, inputs, s.settings.get().password_min_strength);
    } catch (err) {
      if (err instanceof LatchkeyError) throw new LatchkeyError(err.kind, err.code, err.message, err.longMessage, { ...err.meta, param_name: 'new_password' });
      throw err;
    }
    // One transaction: the new password and, when asked, every other session revoked.
    const after = await updateUser(c.var.db, s.clock, rec.user.id,
      { password: input.new_password, skip_password_checks: true, sign_out_of_other_sessions: input.sign_out_of_other_sessions },
      {
        audit: 'user.password_changed', keepSessionId: session.id,
        // The current password was just proved: a reverification, for Clerk's has({ reverification }).
        alsoInTransaction: (trx) => recordFirstFactor(trx, session.id, s.clock.now()),
      });
    return c.json(json(after));
  });

  app.get('/sessions', async (c) => {
    const { session, rec } = await current(c);
    const { data } = await listSessions(c.var.db, s.clock, { user_id: rec.user.id, status: 'active' }, { limit: 500, offset: 0 });
    return c.json({ data: data.map((x) => ({ ...sessionJson(x), current: x.id === session.id })), total_count: data.length });
  });
  app.post('/sessions/:sid/revoke', async (c) => {
    await jsonBody(c, z.strictObject({}));
    const { rec } = await current(c);
    const target = await getSession(c.var.db, s.clock, c.req.param('sid'));
    if (target.user_id !== rec.user.id) throw notFound('Session');
    return c.json(sessionJson(await revokeSession(c.var.db, s.clock, target.id)));
  });

  app.post('/email_addresses', async (c) => {
    const { email_address } = await jsonBody(c, emailSchema);
    const { rec } = await current(c);
    // Counted before the address is added: re-adding it is how a new code would be had.
    await s.limits.consume('codesSentPerIdentifier', email_address);
    const { user, emailId } = await addEmailAddress(c.var.db, s.clock, rec.user.id, email_address);
    const code = await issueCode(c.var.db, s.clock, 'verify_email', emailId);
    await s.mailer.send({ to: email_address, subject: `${code} is your verification code`, text: `Your verification code is ${code}. It expires in 10 minutes.`, kind: 'verification_code' }, c.var.db);
    return c.json({ email_address_id: emailId, user: json(user) });
  });
  app.post('/email_addresses/:id/attempt_verification', async (c) => {
    const { code } = await jsonBody(c, z.strictObject({ code: z.string().max(16) }));
    const { rec } = await current(c);
    const id = c.req.param('id');
    const email = rec.emails.find((e) => e.id === id);
    if (!email) throw notFound('Email address');
    await s.limits.consume('codeAttemptsPerIdentifier', email.email_address);
    await consumeCode(c.var.db, s.clock, 'verify_email', id, code);
    return c.json(json(await markEmailVerified(c.var.db, s.clock, rec.user.id, id)));
  });
  app.post('/email_addresses/:id/make_primary', async (c) => {
    await jsonBody(c, z.strictObject({}));
    const { rec } = await current(c);
    return c.json(json(await makePrimaryEmail(c.var.db, s.clock, rec.user.id, c.req.param('id'))));
  });
  app.delete('/email_addresses/:id', async (c) => {
    const { rec } = await current(c);
    return c.json(json(await removeEmailAddress(c.var.db, s.clock, rec.user.id, c.req.param('id'))));
  });

  app.delete('/', async (c) => {
    const { rec } = await current(c);
    if (!s.settings.get().allow_self_delete || !rec.user.delete_self_enabled) {
      throw new LatchkeyError('forbidden', 'delete_self_disabled', 'Not allowed', 'This account cannot delete itself; ask an administrator.');
    }
    await deleteUser(c.var.db, s.clock, rec.user.id);
    return c.json({ object: 'user', id: rec.user.id, deleted: true });
  });
  // Before the Backend API's routes (and its secret-key guard) get a request meant for this API.
  app.all('*', routeNotFound);
  return app;
}
