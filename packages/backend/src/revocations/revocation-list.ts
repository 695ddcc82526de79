/**
 * A local copy of what Latchkey has revoked, so a guard can refuse a revoked
 * session, a suspended user or a deleted one within seconds, without a round
 * trip per request (a JWT alone stays valid until it expires). It takes a
 * snapshot of GET /v1/revocations, then follows it from its cursor every few
 * seconds in the background. Checking is a few Map lookups.
 */

export interface Suspension {
  reason: string | null;
  /** When the suspension lifts itself (ms), or null. */
  suspendedUntil: number | null;
}

export type Revoked = { reason: 'revoked' } | { reason: 'deleted' } | { reason: 'suspended'; suspension: Suspension };

export interface RevocationListOptions {
  apiUrl: string;
  secretKey: string;
  /** How often to ask for changes (ms); 5 s by default. */
  intervalMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
  /** Called when a refresh fails (the list keeps what it has and tries again next interval). */
  onError?: (err: unknown) => void;
}

interface RevocationsAnswer {
  revoked_sessions: { id: string; at: number }[];
  suspended_users: { id: string; reason: string | null; suspended_until: number | null }[];
  lifted_users: string[];
  deleted_users: string[];
  cursor: number;
  has_more: boolean;
}

/** Revocations older than the longest token lifetime (7 days) can no longer matter. */
const WINDOW_MS = 7 * 24 * 3_600_000;

export class RevocationList {
  private readonly sessions = new Map<string, number>();
  private readonly suspended = new Map<string, Suspension>();
  private readonly deleted = new Map<string, number>();
  private cursor: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;
  private readonly fetch: typeof fetch;

  constructor(private readonly opts: RevocationListOptions) {
    this.now = opts.now ?? Date.now;
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  /** Loads the snapshot (rejects if Latchkey cannot be reached), then refreshes in the background. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer ??= setInterval(() => {
      this.refresh().catch((err: unknown) => this.opts.onError?.(err));
    }, this.opts.intervalMs ?? 5_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Fetches what changed since the last refresh (or the snapshot the first time). One at a time. */
  refresh(): Promise<void> {
    this.running ??= this.pull().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Why a token of this user and session must be refused, or null. */
  check(claims: { sub: string; sid?: string | undefined }): Revoked | null {
    if (this.deleted.has(claims.sub)) return { reason: 'deleted' };
    const suspension = this.suspended.get(claims.sub);
    if (suspension && (suspension.suspendedUntil === null || suspension.suspendedUntil > this.now())) {
      return { reason: 'suspended', suspension };
    }
    if (claims.sid !== undefined && this.sessions.has(claims.sid)) return { reason: 'revoked' };
    return null;
  }

  private async pull(): Promise<void> {
    for (;;) {
      const page = await this.get(this.cursor);
      this.apply(page);
      this.cursor = page.cursor;
      if (!page.has_more) break;
    }
    this.forgetOld();
  }

  private async get(after: number | undefined): Promise<RevocationsAnswer> {
    const url = `${this.opts.apiUrl.replace(/\/+$/, '')}/v1/revocations${after === undefined ? '' : `?after=${after}`}`;
    const res = await this.fetch(url, { headers: { authorization: `Bearer ${this.opts.secretKey}` } });
    if (!res.ok) throw new Error(`GET /v1/revocations answered ${res.status}`);
    return (await res.json()) as RevocationsAnswer;
  }

  private apply(page: RevocationsAnswer): void {
    const now = this.now();
    for (const s of page.revoked_sessions) this.sessions.set(s.id, s.at);
    for (const id of page.lifted_users) this.suspended.delete(id);
    for (const u of page.suspended_users) this.suspended.set(u.id, { reason: u.reason, suspendedUntil: u.suspended_until });
    for (const id of page.deleted_users) {
      this.deleted.set(id, now);
      this.suspended.delete(id);
    }
  }

  private forgetOld(): void {
    const cutoff = this.now() - WINDOW_MS;
    for (const [id, at] of this.sessions) if (at < cutoff) this.sessions.delete(id);
    for (const [id, at] of this.deleted) if (at < cutoff) this.deleted.delete(id);
  }
}
