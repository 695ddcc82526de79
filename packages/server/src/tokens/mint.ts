import type { Clock } from '../clock/clock.js';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import { SESSION_CLAIMS_MAX_BYTES, type InstanceSettings } from '../instance/settings.js';
import { recordAudit, type Actor } from '../audit/audit-log.js';
import { bannedError, isBanned, lockedError } from '../users/user-record.js';
import { effectiveStatus } from '../sessions/lifecycle.js';
import type { Db } from '../storage/database.js';
import { prepared } from '../storage/prepared.js';
import type { SessionTable } from '../storage/schema.js';
import { findLiveUser } from '../users/store.js';
import { isStatic, renderClaims } from './claims-template.js';
import { findTemplate } from './jwt-templates.js';
import type { JwtSigner } from './jwt-signer.js';
import { newJti } from '../ids/ids.js';
import { shortcodeContext } from './shortcodes.js';

export interface MintDeps {
  db: Db;
  clock: Clock;
  signer: JwtSigner;
  /** The public URL: `iss` of every token, byte for byte. */
  issuer: string;
  settings: () => InstanceSettings;
  /** A role's permissions, from the in-memory role catalog (roles/catalog.ts). */
  permissionsOf: (role: unknown) => string[];
}

export interface MintOptions {
  template?: string | undefined;
  expiresInSeconds?: number | undefined;
  /** The origin the token is for (Clerk's `azp`); absent for server-side minting. */
  authorizedParty?: string | undefined;
  /** Who asks, for the audit entry of a refusal; the handle's origin (events/origin.ts) fills in the rest. */
  actor?: Actor | undefined;
}


function sessionQuery(db: Db, sessionId: string) {
  return db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .selectAll('sessions')
    .select(['users.banned', 'users.ban_reason', 'users.banned_until', 'users.locked', 'users.deleted_at'])
    .where('sessions.id', '=', sessionId);
}
type SessionRow = Awaited<ReturnType<ReturnType<typeof sessionQuery>['executeTakeFirst']>>;

// The token endpoint is the hot path: its one query is compiled once and then only re-bound.
const liveSessionQuery = prepared(sessionQuery);

/**
 * Why a session may not have tokens now, or null when it may. A suspension
 * comes first: the ban revoked the session, and the client should learn why.
 */
function refusal(row: NonNullable<SessionRow>, now: number): LatchkeyError | null {
  if (row.deleted_at === null && isBanned(row, now)) return bannedError(row);
  const status = effectiveStatus(row, now);
  if (status !== 'active') {
    return new LatchkeyError('unprocessable', 'session_not_active', 'session is not active',
      `This session is ${status}; sign in again to get tokens.`, { status });
  }
  if (row.deleted_at !== null) return notFound('User');
  if (row.locked) return lockedError(null);
  return null;
}

/**
 * A client that keeps asking for tokens of a dead session (a loop, a script)
 * must not grow the audit log without bound: per session, the first
 * REFUSALS_AUDITED refusals of each minute are written, the rest only refused.
 * Per process; forgetting a window (when the map is full) only writes a few more.
 */
const REFUSALS_AUDITED = 10;
const refusalAudits = {
  windows: new Map<string, { start: number; count: number }>(),
  take(sessionId: string, now: number): boolean {
    const w = this.windows.get(sessionId);
    if (!w || now - w.start >= 60_000) {
      if (this.windows.size >= 10_000) this.windows.clear();
      this.windows.set(sessionId, { start: now, count: 1 });
      return true;
    }
    return ++w.count <= REFUSALS_AUDITED;
  },
};

/** The session, if it may have a token now; a refusal is audited (session.token_refused) and thrown. */
async function loadLiveSession(db: Db, sessionId: string, now: number, actor: Actor | undefined): Promise<SessionTable> {
  const result = await db.executeQuery<NonNullable<SessionRow>>(liveSessionQuery(db, sessionId));
  const row = result.rows[0];
  if (!row) throw notFound('Session');
  const refused = refusal(row, now);
  if (refused) {
    if (refusalAudits.take(row.id, now)) {
      await recordAudit(db, now, { type: 'session.token_refused', actor, target: { type: 'user', id: row.user_id },
        data: { session_id: row.id, reason: refused.code, ...(refused.code === 'session_not_active' ? refused.meta : {}) } });
    }
    throw refused;
  }
  const { banned: _b, ban_reason: _r, banned_until: _u, locked: _l, deleted_at: _d, ...session } = row;
  return session;
}

/** Whole minutes since `at` (an fva entry), or -1 when the factor was never verified. */
const factorAge = (at: number | null, now: number): number => (at === null ? -1 : Math.max(0, Math.floor((now - Number(at)) / 60_000)));

/** Session tokens ride in a cookie: claims that render too large (big metadata, say) are refused with a clear error. */
function checkCookieSize(custom: Record<string, unknown>): void {
  const size = Buffer.byteLength(JSON.stringify(custom));
  if (size <= SESSION_CLAIMS_MAX_BYTES) return;
  throw new LatchkeyError('unprocessable', 'session_claims_too_large', 'session claims too large',
    `The instance's session_claims render to ${size} bytes of JSON for this user; the limit is ${SESSION_CLAIMS_MAX_BYTES} so the token fits in a cookie. `
    + 'Move large values out of the claims (use a JWT template for them).', { size, limit: SESSION_CLAIMS_MAX_BYTES });
}

/**
 * Mints a session token (Clerk v2 claims plus the instance's custom claims) or,
 * with `template`, a JWT-template token, for an active session of a user who may
 * sign in. Nothing is written except, rarely, the signing key's `signed_until`.
 */
export async function mintToken(deps: MintDeps, sessionId: string, opts: MintOptions = {}): Promise<string> {
  const now = deps.clock.now();
  const session = await loadLiveSession(deps.db, sessionId, now, opts.actor);
  const iat = Math.floor(now / 1000);
  const settings = deps.settings();
  const azp = opts.authorizedParty ? { azp: opts.authorizedParty } : {};

  const context = async (template: Record<string, unknown>) => {
    if (isStatic(template)) return renderClaims(template, {});
    const rec = await findLiveUser(deps.db, session.user_id);
    if (!rec) throw notFound('User');
    return renderClaims(template, shortcodeContext(rec, session, deps.permissionsOf));
  };

  if (opts.template) {
    const t = await findTemplate(deps.db, opts.template);
    const custom = await context(t.claims);
    const lifetime = opts.expiresInSeconds ?? t.lifetime;
    return deps.signer.sign({
      ...custom,
      ...(t.aud ? { aud: t.aud } : {}),
      ...azp,
      iss: deps.issuer,
      sub: session.user_id,
      iat,
      ...(t.nbf === false ? {} : { nbf: iat - t.allowed_clock_skew }),
      exp: iat + lifetime,
      jti: newJti(),
    });
  }

  // Settings validation refuses reserved claims; the fixed claims come last regardless.
  const custom = await context(settings.session_claims);
  checkCookieSize(custom);
  const lifetime = opts.expiresInSeconds ?? settings.session_token_lifetime;
  return deps.signer.sign({
    ...custom,
    ...azp,
    iss: deps.issuer,
    sub: session.user_id,
    sid: session.id,
    iat,
    nbf: iat - 10,
    exp: iat + lifetime,
    jti: newJti(),
    v: 2,
    sts: 'active',
    // Minutes since the first and the second factor were verified; -1: never (a session the Backend API
    // opened; no second factors yet). Clerk's has({ reverification }) reads it.
    fva: [factorAge(session.first_factor_verified_at, now), -1],
  });
}
