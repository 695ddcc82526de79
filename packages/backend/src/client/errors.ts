/** One entry of the Backend API's error list (Clerk's shape). */
export interface ApiErrorEntry {
  code: string;
  message: string;
  long_message: string;
  meta: Record<string, unknown>;
}

/**
 * A refusal from the Backend API: its HTTP status and its `errors` list, as
 * Clerk answers them, so a caller can branch on `errors[0].code`
 * (`resource_not_found`, `role_unknown`, `user_banned`…) instead of parsing text.
 */
export class LatchkeyApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly errors: ApiErrorEntry[],
    /** Quote it when asking the server's operator about this request. */
    public readonly clerkTraceId: string | null = null,
  ) {
    const first = errors[0];
    super(first ? `${first.code}: ${first.long_message || first.message}` : `Latchkey API answered HTTP ${status}.`);
    this.name = 'LatchkeyApiError';
  }

  /** The first error's code, or null when the answer was not Clerk's error shape (a proxy's 502, say). */
  get code(): string | null {
    return this.errors[0]?.code ?? null;
  }
}
