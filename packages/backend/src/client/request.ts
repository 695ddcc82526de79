import { LatchkeyApiError, type ApiErrorEntry } from './errors.js';

export type QueryValue = string | number | boolean | null | undefined | readonly (string | number)[];
export type Query = Record<string, QueryValue>;

export interface RequestOptions {
  query?: Query;
  /** Sent as JSON. Absent: no body (the server treats a bodiless POST as `{}`). */
  body?: unknown;
}

/** Sends one Backend API call and returns the parsed answer; refusals throw LatchkeyApiError. */
export type Requester = {
  <T>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** The raw Response of a successful call, for answers that are not one JSON document (the audit export). */
  raw(method: string, path: string, opts?: RequestOptions): Promise<Response>;
};

export interface RequesterOptions {
  secretKey: string;
  apiUrl: string;
  fetch?: typeof fetch;
}

/** `a=1&a=2` for arrays: the Backend API reads repeated parameters (and comma lists where it says so). */
function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, String(v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

/** Clerk's `{errors:[…]}` when the body has it; an empty list for anything else (a proxy's HTML page). */
async function apiError(res: Response): Promise<LatchkeyApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const b = body as { errors?: unknown; clerk_trace_id?: unknown } | undefined;
  const errors = Array.isArray(b?.errors) ? (b.errors as ApiErrorEntry[]) : [];
  return new LatchkeyApiError(res.status, errors, typeof b?.clerk_trace_id === 'string' ? b.clerk_trace_id : null);
}

/** Path segments are ids and keys from callers: encoded, so `../` or `?` cannot reach another route. */
export const seg = (value: string) => encodeURIComponent(value);

export function createRequester(opts: RequesterOptions): Requester {
  if (!opts.secretKey) throw new TypeError('createLatchkeyClient needs a secretKey (LATCHKEY_SECRET_KEY).');
  if (!opts.apiUrl) throw new TypeError('createLatchkeyClient needs an apiUrl (LATCHKEY_API_URL).');
  // Accept the public URL with or without /v1: every path below starts with it.
  const base = opts.apiUrl.replace(/\/+$/, '').replace(/\/v1$/, '');
  const doFetch = opts.fetch ?? fetch;

  const raw = async (method: string, path: string, { query, body }: RequestOptions = {}): Promise<Response> => {
    const headers: Record<string, string> = { authorization: `Bearer ${opts.secretKey}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await doFetch(`${base}/v1${path}${queryString(query)}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      // The secret key must not follow a redirect to another host.
      redirect: 'error',
    });
    if (!res.ok) throw await apiError(res);
    return res;
  };

  const request = (async <T>(method: string, path: string, opts?: RequestOptions): Promise<T> => {
    const res = await raw(method, path, opts);
    return (await res.json()) as T;
  }) as Requester;
  request.raw = raw;
  return request;
}
