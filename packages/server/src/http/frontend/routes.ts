import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { LatchkeyError } from '../../errors/latchkey-error.js';
import { codeSignInSchema, requestCode, requestCodeSchema, resetPassword, resetSchema, signInWithCode } from '../../frontend/email-code-flows.js';
import { passwordSignInSchema, signInWithPassword, type SignedIn } from '../../frontend/sign-ins.js';
import { resendSignUpCode, signUpJson, signUpSchema, startSignUp, verifySignUp } from '../../frontend/sign-ups.js';
import type { Services } from '../../services.js';
import { effectiveStatus } from '../../sessions/lifecycle.js';
import { sessionJson } from '../../sessions/serialize.js';
import { endSession, getSession, settled, touchSession } from '../../sessions/sessions.js';
import type { ClientTable } from '../../storage/schema.js';
import { mintToken } from '../../tokens/mint.js';
import { loadUserRecords } from '../../users/store.js';
import type { UserRecord } from '../../users/user-record.js';
import { ownUserJson } from '../../users/serialize.js';
import { jsonBody } from '../body.js';
import { routeNotFound } from '../errors.js';
import { requestOrigin } from '../request-origin.js';
import { withActor } from '../../events/origin.js';
import { activeSessionsOf, currentSessionOf, sessionRowOf } from '../../frontend/clients.js';
import { csrfGuard, clientForSignIn, rekeyForSignIn, requireClient, type ClientForSignIn } from './client-context.js';

const tokenSchema = z.strictObject({});
const codeSchema = z.strictObject({ code: z.string().max(16) });

/**
 * The Frontend API: what a browser or native app calls for its end user. A
 * request's client comes from the `__client` cookie or a Bearer client token;
 * every answer is `{ response, client }` so the app always sees its sessions.
 */
export function frontendRoutes(s: Services) {
  const app = new Hono();
  const now = () => s.clock.now();

  /** The client as the app sees it; `known` users (just read in the request's own change) are not read again. */
  async function clientJson(client: ClientTable, known: UserRecord[] = []) {
    const live = await activeSessionsOf(s.db, now(), client);
    const missing = [...new Set(live.map((r) => r.user_id))].filter((id) => !known.some((u) => u.user.id === id));
    const users = missing.length
      ? [...known, ...await loadUserRecords(s.db, await s.db.selectFrom('users').selectAll().where('id', 'in', missing).where('deleted_at', 'is', null).execute())]
      : known;
    const sessions = live.flatMap((r) => {
      const user = users.find((u) => u.user.id === r.user_id);
      return user ? [{ ...sessionJson(r), user: ownUserJson(user, now()) }] : [];
    });
    const active = currentSessionOf(sessions, client);
    return { object: 'client', id: client.id, sessions, last_active_session_id: active?.id ?? null, created_at: client.created_at, updated_at: client.updated_at };
  }

  /** An answer with the request's client as it now is: under the token the request came with (FoundClient), so as it was if a sign-in re-keyed it meanwhile. */
  const reply = async (c: Context, found: ClientTable, response: unknown) => {
    const client = await s.db.selectFrom('clients').selectAll().where('id', '=', found.id).where('token_hash', '=', found.token_hash).executeTakeFirst();
    return c.json({ response, client: await clientJson(client ?? found) });
  };

  /** A sign-in's answer: its client as it now is (the new session active) and the user just read, not read again. */
  const signedInReply = async (c: Context, client: ClientForSignIn, done: SignedIn, response: unknown) => {
    client.issue();
    return c.json({ response, client: await clientJson(client.after(done.session), [done.user]) });
  };

  /** The services with this request's database handle, so what the domain records carries the request's origin. */
  const acting = (c: Context): Services => ({ ...s, db: c.var.db });

  app.use(csrfGuard(s));
  // End users act here; who exactly is known once they sign in (the domain names them then).
  app.use((c, next) => {
    c.set('db', withActor(c.var.db, { type: 'user' }));
    return next();
  });

  app.get('/', async (c) => {
    const { client } = await requireClient(c, s);
    const json = await clientJson(client);
    return c.json({ response: json, client: json });
  });

  /** The rate-limit key for the caller's address. */
  const ip = (c: Context) => requestOrigin(c).clientIp || 'unknown';

  app.post('/sign_ups', async (c) => {
    await s.limits.consume('signUpPerIp', ip(c));
    const input = await jsonBody(c, signUpSchema);
    const { client } = await requireClient(c, s, true);
    return reply(c, client, signUpJson(await startSignUp(acting(c), client.id, input)));
  });
  app.post('/sign_ups/:id/prepare_verification', async (c) => {
    await jsonBody(c, z.strictObject({ strategy: z.literal('email_code').optional() }));
    const { client } = await requireClient(c, s);
    return reply(c, client, signUpJson(await resendSignUpCode(acting(c), client.id, c.req.param('id'))));
  });
  app.post('/sign_ups/:id/attempt_verification', async (c) => {
    const { code } = await jsonBody(c, codeSchema);
    const found = await requireClient(c, s);
    const { client } = found;
    const target = rekeyForSignIn(c, s, found);
    const { signUp, signedIn } = await verifySignUp(acting(c), target.ref, c.req.param('id'), code);
    return signedIn ? signedInReply(c, target, signedIn, signUpJson(signUp)) : reply(c, client, signUpJson(signUp));
  });

  app.post('/sign_ins', async (c) => {
    await s.limits.consume('signInPerIp', ip(c));
    const { identifier, password } = await jsonBody(c, passwordSignInSchema);
    await s.limits.consume('signInPerIdentifier', identifier);
    const client = await clientForSignIn(c, s);
    const done = await signInWithPassword(acting(c), client.ref, identifier, password);
    return signedInReply(c, client, done, { object: 'sign_in', status: 'complete', identifier, created_session_id: done.session.id });
  });

  // Passwordless sign-in: ask for a code, then present it. The first answer is
  // the same whether or not the identifier has an account.
  app.post('/sign_ins/email_code', async (c) => {
    await s.limits.consume('signInPerIp', ip(c));
    const { identifier } = await jsonBody(c, requestCodeSchema);
    await s.limits.consume('signInPerIdentifier', identifier);
    const { client } = await requireClient(c, s, true);
    await requestCode(acting(c), 'sign_in', identifier);
    return reply(c, client, { object: 'sign_in', status: 'needs_first_factor', identifier, strategy: 'email_code' });
  });
  app.post('/sign_ins/email_code/attempt', async (c) => {
    await s.limits.consume('signInPerIp', ip(c));
    const { identifier, code } = await jsonBody(c, codeSignInSchema);
    const client = await clientForSignIn(c, s);
    const done = await signInWithCode(acting(c), client.ref, identifier, code);
    return signedInReply(c, client, done, { object: 'sign_in', status: 'complete', identifier, created_session_id: done.session.id });
  });

  // Password reset by email code, with the same no-enumeration answer.
  app.post('/password_resets', async (c) => {
    await s.limits.consume('signInPerIp', ip(c));
    const { identifier } = await jsonBody(c, requestCodeSchema);
    await s.limits.consume('signInPerIdentifier', identifier);
    const { client } = await requireClient(c, s, true);
    await requestCode(acting(c), 'reset_password', identifier);
    return reply(c, client, { object: 'password_reset', status: 'code_sent_if_account_exists', identifier });
  });
  app.post('/password_resets/attempt', async (c) => {
    await s.limits.consume('signInPerIp', ip(c));
    const input = await jsonBody(c, resetSchema);
    const client = await clientForSignIn(c, s);
    const done = await resetPassword(acting(c), client.ref, input);
    return signedInReply(c, client, done, { object: 'password_reset', status: 'complete', created_session_id: done.session.id });
  });

  /** A session of this client while it has the request's token (others' sessions are not found, whatever their id). */
  const ownSession = async (c: Context, client: ClientTable) =>
    settled(c.var.db, s.clock, await sessionRowOf(c.var.db, client, c.req.param('sid')!));

  const token = async (c: Context) => {
    await jsonBody(c, tokenSchema);
    const { client } = await requireClient(c, s);
    const session = await ownSession(c, client);
    // azp is the browser app's origin, when it is an allowed one; a Bearer (native) client's Origin proves nothing, so it gets none.
    const authorizedParty = c.req.header('authorization') ? undefined : c.var.checkedOrigin;
    // The session names the user: a refusal is audited as theirs.
    const jwt = await mintToken({ ...s.mint, db: c.var.db }, session.id,
      { template: c.req.param('template'), authorizedParty, actor: { type: 'user', id: session.user_id } });
    await touchSession(c.var.db, s.clock, s.settings.get(), session);
    return c.json({ object: 'token', jwt });
  };
  app.post('/sessions/:sid/tokens', token);
  app.post('/sessions/:sid/tokens/:template', token);

  /** Makes one of this client's signed-in sessions the active one (account switching). */
  app.post('/sessions/:sid/touch', async (c) => {
    await jsonBody(c, z.strictObject({}));
    const { client } = await requireClient(c, s);
    const session = await ownSession(c, client);
    if (effectiveStatus(session, now()) !== 'active') {
      throw new LatchkeyError('unprocessable', 'session_not_active', 'session is not active', 'That session has ended; sign in again.', { status: session.status });
    }
    await c.var.db.updateTable('clients').set({ last_active_session_id: session.id, updated_at: now() })
      .where('id', '=', client.id).where('token_hash', '=', client.token_hash).execute();
    await touchSession(c.var.db, s.clock, s.settings.get(), session);
    return reply(c, client, sessionJson(session));
  });

  app.post('/sessions/:sid/end', async (c) => {
    await jsonBody(c, z.strictObject({}));
    const { client } = await requireClient(c, s);
    const session = await ownSession(c, client);
    await endSession(c.var.db, s.clock, session);
    return reply(c, client, sessionJson(await getSession(c.var.db, s.clock, session.id)));
  });
  app.delete('/sessions', async (c) => {
    const { client } = await requireClient(c, s);
    const rows = await activeSessionsOf(c.var.db, now(), client);
    for (const row of rows) await endSession(c.var.db, s.clock, row);
    return reply(c, client, { object: 'sign_out', ended_session_ids: rows.map((r) => r.id) });
  });
  // Before the Backend API's routes (and its secret-key guard) get a request meant for this API.
  app.all('*', routeNotFound);
  return app;
}
