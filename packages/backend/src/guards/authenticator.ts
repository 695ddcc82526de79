import type { Auth } from '../auth/auth-object.js';
import { authenticateRequest, authOptionsFromEnv, type AuthenticateOptions, type RequestLike } from '../auth/authenticate-request.js';
import { RevocationList, type RevocationListOptions } from '../revocations/revocation-list.js';

/**
 * What the framework adapters (Express, Hono) share: options that default
 * from the environment, and the opt-in revocation list's lifecycle. Kept here,
 * next to the decisions, so both adapters authenticate the same way.
 */

export interface AuthenticatorOptions extends Omit<AuthenticateOptions, 'revocations'> {
  /**
   * The revocation check (off by default). `true` (or an object with
   * `intervalMs`, `onError`…) creates a RevocationList from `apiUrl`/`secretKey`
   * or LATCHKEY_API_URL / LATCHKEY_SECRET_KEY (CLERK_* too); or pass your own list.
   * Either way it is started here (start() is idempotent).
   */
  revocations?: boolean | RevocationList | Partial<RevocationListOptions> | undefined;
  /** Where the defaults come from; process.env by default. */
  env?: NodeJS.ProcessEnv | undefined;
}

export interface Authenticator {
  (req: RequestLike): Promise<Auth>;
  /** The options requests are verified with. */
  readonly options: AuthenticateOptions;
  /** The revocation list, when the check is on. */
  readonly revocations: RevocationList | undefined;
}

const hasKeySource = (o: Omit<AuthenticateOptions, 'revocations'>) => Boolean(o.jwtKey || o.keys || o.jwksUrl || (o.apiUrl && o.secretKey));

/** Given options win; without a key source of their own, the environment fills in (authOptionsFromEnv). */
export function resolveAuthOptions(opts: AuthenticatorOptions = {}): Omit<AuthenticateOptions, 'revocations'> {
  const { revocations: _r, env, ...given } = opts;
  for (const k of Object.keys(given) as (keyof typeof given)[]) if (given[k] === undefined) delete given[k];
  return hasKeySource(given) ? given : { ...authOptionsFromEnv(env ?? process.env), ...given };
}

function revocationList(opts: AuthenticatorOptions): RevocationList | undefined {
  const r = opts.revocations;
  if (!r) return undefined;
  if (r instanceof RevocationList) return r;
  const env = opts.env ?? process.env;
  const listOpts = r === true ? {} : r;
  const apiUrl = listOpts.apiUrl ?? opts.apiUrl ?? (env.LATCHKEY_API_URL || env.CLERK_API_URL);
  const secretKey = listOpts.secretKey ?? opts.secretKey ?? (env.LATCHKEY_SECRET_KEY || env.CLERK_SECRET_KEY);
  if (!apiUrl || !secretKey) {
    throw new TypeError('Latchkey: the revocation check needs apiUrl and secretKey (or LATCHKEY_API_URL and LATCHKEY_SECRET_KEY).');
  }
  return new RevocationList({ ...listOpts, apiUrl, secretKey });
}

/**
 * Builds the request authenticator an adapter's middleware calls. Throws at once
 * when neither the options nor the environment say how to verify tokens, so a
 * misconfigured app fails when it starts, not on its first request.
 */
export function createAuthenticator(opts: AuthenticatorOptions = {}): Authenticator {
  const base = resolveAuthOptions(opts);
  const list = revocationList(opts);
  const options: AuthenticateOptions = list ? { ...base, revocations: list } : base;
  let authenticate: Authenticator;
  if (!list) {
    authenticate = Object.assign((req: RequestLike) => authenticateRequest(req, options), { options, revocations: undefined });
  } else {
    // The first snapshot loads while the app boots. Requests wait for it: without it the check would pass
    // every token. If it fails, those requests fail (the adapter answers 500) and the next one tries again.
    let ready: Promise<void> | undefined = list.start();
    ready.catch(() => undefined); // observed by the requests that await it; an idle app must not crash on it
    let started = false;
    const whenReady = async () => {
      ready ??= list.start();
      try {
        await ready;
        started = true;
      } catch (err) {
        ready = undefined;
        throw err;
      }
    };
    authenticate = Object.assign(
      async (req: RequestLike) => {
        if (!started) await whenReady();
        return authenticateRequest(req, options);
      },
      { options, revocations: list },
    );
  }
  return authenticate;
}
