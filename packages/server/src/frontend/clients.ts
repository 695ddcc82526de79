import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock/clock.js';
import { newId } from '../ids/ids.js';
import type { Db } from '../storage/database.js';
import { prepared } from '../storage/prepared.js';
import type { ClientTable } from '../storage/schema.js';

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

/** A new client and its token, not yet stored (a sign-in stores it with its session, see ClientRef). */
export function newClient(now: number): { client: ClientTable; token: string } {
  const token = randomBytes(32).toString('base64url');
  const client: ClientTable = { id: newId('client', now), token_hash: hashClientToken(token), last_active_session_id: null, created_at: now, updated_at: now };
  return { client, token };
}

export async function createClient(db: Db, clock: Clock): Promise<{ client: ClientTable; token: string }> {
  const created = newClient(clock.now());
  await db.insertInto('clients').values(created.client).execute();
  return created;
}

/**
 * The client a new session goes to: one that exists, or a new one stored in the
 * same transaction as the session (so a failed sign-in leaves no client behind).
 */
export type ClientRef = { existing: string } | { create: ClientTable };
