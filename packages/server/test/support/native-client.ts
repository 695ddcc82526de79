import type { TestServer } from './server.js';

export interface NativeAnswer {
  status: number;
  body: any;
  retryAfter: string | null;
  /** The client token to send next: the one the answer issued (a sign-in re-keys the client), else the one sent. */
  token?: string;
}

/**
 * A native app's call to the Frontend API: JSON in and out, `latchkey-native: 1`,
 * the client token as Bearer, and the token the server hands back kept for the next call.
 */
export async function nativeCall(server: TestServer, method: string, path: string, json?: unknown, token?: string): Promise<NativeAnswer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: {
      'latchkey-native': '1',
      ...(json === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: json === undefined ? undefined : JSON.stringify(json),
  });
  const issued = res.headers.get('latchkey-client-token') ?? token;
  return { status: res.status, body: await res.json(), retryAfter: res.headers.get('retry-after'), ...(issued ? { token: issued } : {}) };
}
