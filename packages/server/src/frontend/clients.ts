import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock/clock.js';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import { prepared } from '../storage/prepared.js';
import type { ClientTable, SessionTable } from '../storage/schema.js';
import { effectiveStatus } from '../sessions/lifecycle.js';

/**
 * A client is one browser or device. It proves itself with a random token: in an
 * httpOnly cookie for browsers, as `Authorization: Bearer` for native apps. Only
 * the token's SHA-256 is stored, so a database leak yields no usable tokens.
 */
export const hashClientToken = (token: string) => createHash('sha256').update(token).digest('hex');

// Every Frontend API request looks its client up: compiled once (storage/prepared.ts).
const clientByTokenHash = prepared((db: Db, hash: string) => db.selectFrom('clients').selectAll().where('token_hash', '=', hash));

export async function findClientByToken(db: Db, token: string): Promise<ClientTable | undefined> {
  return (await db.executeQuery<ClientTable>(clientByTokenHash(db, hashClientToken(token)))).rows[0];
}

/** The client of the first of `tokens` that has one, in one query. */
export async function firstKnownClient(db: Db, tokens: string[]): Promise<ClientTable | undefined> {
  if (!tokens.length) return undefined;
  const hashes = tokens.map(hashClientToken);
  const rows = await db.selectFrom('clients').selectAll().where('token_hash', 'in', hashes).execute();
  return hashes.map((h) => rows.find((r) => r.token_hash === h)).find((r) => r !== undefined);
}

/**
 * A client as a request found it: by its token, whose hash it had then. Reads
 * that follow name the hash again (one statement with the sessions they read),
 * so a sign-in that re-keys the client meanwhile, and adds its session, is
 * never seen through the old token: they see the client as it was, or nothing.
 */
export type FoundClient = Pick<ClientTable, 'id' | 'token_hash'>;

/** A client's sessions in the database's "active" state, oldest first, while it has the token: read for every answer, so compiled once. */
const activeSessionRows = prepared((db: Db, clientId: string, tokenHash: string | null) =>
  db.selectFrom('sessions').innerJoin('clients', 'clients.id', 'sessions.client_id').selectAll('sessions')
    .where('sessions.client_id', '=', clientId).where('clients.token_hash', '=', tokenHash).where('sessions.status', '=', 'active')
    .orderBy('sessions.created_at'));

/** A client's sessions that are active now (not past their inactivity or lifetime limit), oldest first; none once its token changed (FoundClient). */
export async function activeSessionsOf(db: Db, now: number, client: FoundClient): Promise<SessionTable[]> {
  const { rows } = await db.executeQuery<SessionTable>(activeSessionRows(db, client.id, client.token_hash));
  return rows.filter((r) => effectiveStatus(r, now) === 'active');
}

// One statement, so the session and the client's token are read together (FoundClient).
const sessionRowOnClient = prepared((db: Db, sessionId: string, clientId: string, tokenHash: string | null) =>
  db.selectFrom('sessions').innerJoin('clients', 'clients.id', 'sessions.client_id').selectAll('sessions')
    .where('sessions.id', '=', sessionId).where('clients.id', '=', clientId).where('clients.token_hash', '=', tokenHash));

/** The session `sessionId` if it is on `client` while the client still has its token (FoundClient); else undefined. */
export async function sessionRowOf(db: Db, client: FoundClient, sessionId: string): Promise<SessionTable | undefined> {
  return (await db.executeQuery<SessionTable>(sessionRowOnClient(db, sessionId, client.id, client.token_hash))).rows[0];
}

/**
 * The session a client acts as: the one it last chose, or, once that one has
 * ended, been revoked or expired, its newest active one. GET /v1/client shows
 * this one as last_active_session_id and /v1/me acts as its user.
 */
export function currentSessionOf<T extends { id: string }>(sessions: T[], client: Pick<ClientTable, 'last_active_session_id'>): T | undefined {
  return sessions.find((x) => x.id === client.last_active_session_id) ?? sessions.at(-1);
}

/** A client row whose token is known (only its hash is stored). */
type Keyed = { client: ClientTable & { token_hash: string }; token: string };

/** A fresh random token and its hash. */
function newClientToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashClientToken(token) };
}

/** A new client and its token, not yet stored (a sign-in stores it with its session, see ClientRef). */
export function newClient(now: number): Keyed {
  const { token, hash } = newClientToken();
  return { client: { id: newId('client', now), token_hash: hash, last_active_session_id: null, created_at: now, updated_at: now }, token };
}

/** The same client under a new token, not yet stored (a sign-in stores it with its session, see ClientRef). */
export function rekeyedClient(client: ClientTable): Keyed {
  const { token, hash } = newClientToken();
  return { client: { ...client, token_hash: hash }, token };
}

export async function createClient(db: Db, clock: Clock): Promise<{ client: ClientTable; token: string }> {
  const created = newClient(clock.now());
  await db.insertInto('clients').values(created.client).execute();
  return created;
}

/**
 * The client a new session goes to: one that exists, or a new one stored in the
 * same transaction as the session (so a failed sign-in leaves no client behind).
 * An existing client's `tokenHash` replaces its token in that transaction too:
 * a sign-in must not stay reachable through a token that was around before it
 * (session fixation: a token planted in the browser, or seen by someone else).
 */
export type ClientRef = ExistingClientRef | { create: ClientTable };
/**
 * `tokenHash` replaces `previousHash`, the token the request came with, only if
 * the client still has that one: of two sign-ins racing on one client, the
 * second to commit opens its session on a new client (under `tokenHash`) instead
 * of taking over the client, and the first one's session with it.
 */
export type ExistingClientRef = { existing: string; tokenHash: string; previousHash: string };
