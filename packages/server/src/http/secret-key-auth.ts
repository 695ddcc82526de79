import type { MiddlewareHandler } from 'hono';
import { LatchkeyError } from '../errors/latchkey-error.js';
import { withActor } from '../events/origin.js';
import type { SecretKeyVerifier } from '../instance/api-keys.js';

const unauthenticated = (long: string) =>
  new LatchkeyError('unauthenticated', 'authentication_invalid', 'Invalid authentication', long);

/** Backend API guard: `Authorization: Bearer <secret key>`. */
export function secretKeyAuth(keys: SecretKeyVerifier): MiddlewareHandler {
  return async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw unauthenticated('The Authorization header is missing: send "Authorization: Bearer <secret key>".');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw unauthenticated('The Authorization header must be "Bearer <secret key>".');
    const key = match[1]!;
    if (key.startsWith('pk_')) {
      throw unauthenticated('A publishable key cannot call the Backend API: use the secret key (sk_…).');
    }
    const id = keys.identify(key);
    if (!id) throw unauthenticated('The secret key is not valid for this instance.');
    // What the request changes is audited as this key's doing.
    c.set('db', withActor(c.var.db, { type: 'secret_key', id }));
    await next();
  };
}
