import type { KeyObject } from 'node:crypto';
import { TokenVerificationError } from './errors.js';
import { importJwk, type Jwk, type KeySource } from './key-sources.js';

export interface RemoteJwksOptions {
  url: string;
  headers?: Record<string, string>;
  /** Keys older than this are refreshed in the background (default 5 minutes). */
  ttlMs?: number;
  /** An unknown kid triggers at most one fetch per this interval (default 1 s). */
  minRefetchIntervalMs?: number;
  /** A fetch that has not finished (headers and body) by then fails (default 5 s, as jose's). */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/**
 * Every request with an unknown kid waits on the one fetch in flight, so a JWKS
 * endpoint that accepts the connection and never answers must not hold them for
 * fetch's own limit (minutes).
 */
const DEFAULT_TIMEOUT_MS = 5_000;

/**
 * How long stale keys wait between background refresh attempts (as jose's
 * createRemoteJWKSet cooldownDuration, 30 s), so an outage costs one fetch per 30 s.
 */
const STALE_RETRY_MS = 30_000;

/**
 * A JWKS fetched over HTTP and cached. A request never waits on the network when
 * a cached key fits its kid: stale keys are refreshed in the background, at most
 * once per STALE_RETRY_MS while the endpoint fails. An unknown kid (a rotation)
 * refetches at once, but at most once per interval, so a flood of forged kids
 * cannot turn into a flood of fetches.
 */
export class RemoteJwks implements KeySource {
  private keys = new Map<string, KeyObject>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  /** Why the last fetch failed, so every caller that waited on it hears the same reason. */
  private lastError: TokenVerificationError | undefined;
  private readonly ttlMs: number;
  private readonly minInterval: number;
  private readonly staleRetryMs: number;
  private readonly now: () => number;

  constructor(private readonly opts: RemoteJwksOptions) {
    this.ttlMs = opts.ttlMs ?? 300_000;
    this.minInterval = opts.minRefetchIntervalMs ?? 1_000;
    // At least the unknown-kid interval; otherwise capped at the TTL, so that after a
    // success (attemptedAt ≈ fetchedAt) the refresh still starts when the TTL ends.
    this.staleRetryMs = Math.max(this.minInterval, Math.min(this.ttlMs, STALE_RETRY_MS));
    this.now = opts.now ?? Date.now;
  }

  keyFor(kid: string | undefined): KeyObject | Promise<KeyObject> {
    const key = kid === undefined ? undefined : this.keys.get(kid);
    if (key) {
      if (this.shouldRefreshStale()) this.refresh().catch(() => {});
      return key;
    }
    return this.afterRefetch(kid);
  }

  /**
   * Stale keys are refreshed in the background, but not more than once per back-off
   * since the last attempt: a failed load leaves fetchedAt unchanged, so without the
   * back-off every verification during an outage would start another fetch.
   */
  private shouldRefreshStale(): boolean {
    const now = this.now();
    return now - this.fetchedAt > this.ttlMs && now - this.attemptedAt >= this.staleRetryMs;
  }

  private async afterRefetch(kid: string | undefined): Promise<KeyObject> {
    if (kid === undefined) throw new TokenVerificationError('token-invalid', 'Invalid JWT: the header has no kid.');
    if (this.inflight) await this.inflight.catch(() => {});
    else if (this.now() - this.attemptedAt >= this.minInterval) await this.refresh();
    const key = this.keys.get(kid);
    if (!key) {
      if (this.lastError) throw this.lastError;
      throw new TokenVerificationError('jwk-kid-mismatch', `No JWK with kid "${kid}" at ${this.opts.url}; the key may have been rotated out.`);
    }
    return key;
  }

  /** Fetches the JWKS now (one request at a time). */
  refresh(): Promise<void> {
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    this.attemptedAt = this.now();
    let next: Map<string, KeyObject>;
    try {
      const timeoutMs = this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const signal = AbortSignal.timeout(timeoutMs);
      const res = await (this.opts.fetch ?? fetch)(this.opts.url, { headers: this.opts.headers, redirect: 'error', signal });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      next = parseJwks(await res.json());
    } catch (err) {
      const why = (err as Error).name === 'TimeoutError' ? `no answer within ${this.opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms` : (err as Error).message;
      this.lastError = new TokenVerificationError('jwk-failed-to-load', `Could not load the JWKS from ${this.opts.url}: ${why}`);
      throw this.lastError;
    }
    this.lastError = undefined;
    this.keys = next;
    this.fetchedAt = this.now();
  }
}

/** RSA signing keys with a kid; a key that does not import is skipped, not fatal. */
function parseJwks(body: unknown): Map<string, KeyObject> {
  const keys = (body as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('the response is not a JWKS ({"keys": [...]})');
  const out = new Map<string, KeyObject>();
  for (const jwk of keys as Jwk[]) {
    if (jwk?.kty !== 'RSA' || typeof jwk.kid !== 'string' || (jwk.use !== undefined && jwk.use !== 'sig')) continue;
    try {
      out.set(jwk.kid, importJwk(jwk));
    } catch {
      // A malformed key cannot verify anything; the others still can.
    }
  }
  return out;
}

const registry = new Map<string, RemoteJwks>();

/** One shared cache per (URL, credentials), as @clerk/backend keeps per (apiUrl, secret key). */
export function sharedRemoteJwks(opts: RemoteJwksOptions): RemoteJwks {
  const id = `${opts.url}\0${JSON.stringify(opts.headers ?? {})}`;
  let jwks = registry.get(id);
  if (!jwks) {
    jwks = new RemoteJwks(opts);
    registry.set(id, jwks);
  }
  return jwks;
}
