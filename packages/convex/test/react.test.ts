import { createElement } from 'react';
import { act, create, type ReactTestRenderer } from 'react-test-renderer';
import type { ConvexReactClient } from 'convex/react';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../../server/test/support/server.js';
import { ConvexProviderWithLatchkey, type LatchkeyAuthState } from '../src/react/index.js';
import { checkConvexToken } from '../src/testing/index.js';

// React warns unless it is told it runs under a test renderer that wraps updates in act().
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
// react-test-renderer (a DOM-free renderer, enough for a provider) announces its deprecation on every render.
const consoleError = console.error;
console.error = (...args: unknown[]) => {
  if (!String(args[0]).includes('react-test-renderer is deprecated')) consoleError(...args);
};

type Fetch = (args: { forceRefreshToken: boolean }) => Promise<string | null>;

/** The part of ConvexReactClient the provider drives: it records what it was given. */
function fakeClient() {
  const calls = { setAuth: [] as Fetch[], clearAuth: 0 };
  const client = {
    setAuth(fetchToken: Fetch) {
      calls.setAuth.push(fetchToken);
    },
    clearAuth() {
      calls.clearAuth++;
    },
  };
  return { client: client as unknown as ConvexReactClient, calls };
}

/**
 * ConvexProviderWithLatchkey against ConvexProviderWithAuth from the real
 * `convex` package, with tokens minted by a running Latchkey: the rules of
 * reference/convex-auth.md's client side.
 */
describe('ConvexProviderWithLatchkey', () => {
  let server: TestServer;
  let sid: string;
  let state: LatchkeyAuthState;
  let asked: { template?: string; skipCache?: boolean }[];

  beforeAll(async () => {
    server = await startServer('sqlite');
    const user = await (await server.api('/v1/users', { method: 'POST', json: { email_address: ['react@example.com'], first_name: 'Rea' } })).json();
    sid = (await (await server.api('/v1/sessions', { method: 'POST', json: { user_id: user.id } })).json()).id;
  });
  afterAll(() => server?.close());

  /** A getToken like an SDK's: cached until skipCache asks for a new one; a new function object every render. */
  let cached: string | null = null;
  const getToken = () => async (opts: { template?: string; skipCache?: boolean }) => {
    asked.push(opts);
    if (cached && !opts.skipCache) return cached;
    const res = await server.api(`/v1/sessions/${sid}/tokens/${opts.template}`, { method: 'POST', json: {} });
    cached = ((await res.json()) as { jwt: string }).jwt;
    return cached;
  };
  const signedIn = (sessionId = sid): LatchkeyAuthState => ({ isLoaded: true, isSignedIn: true, sessionId, getToken: getToken() });
  const useAuth = () => state;

  async function render(client: ConvexReactClient): Promise<ReactTestRenderer> {
    let r!: ReactTestRenderer;
    await act(async () => {
      r = create(createElement(ConvexProviderWithLatchkey, { client, useAuth }, 'app'));
    });
    return r;
  }
  const rerender = (r: ReactTestRenderer, client: ConvexReactClient) =>
    act(async () => r.update(createElement(ConvexProviderWithLatchkey, { client, useAuth }, 'app')));

  it('gives Convex a token source that fetches "convex" template tokens, a new one when forced', async () => {
    asked = [];
    state = signedIn();
    const { client, calls } = fakeClient();
    await render(client);
    expect(calls.setAuth).toHaveLength(1);
    const fetchToken = calls.setAuth[0]!;

    const first = await fetchToken({ forceRefreshToken: false });
    const again = await fetchToken({ forceRefreshToken: false });
    const forced = await fetchToken({ forceRefreshToken: true });
    expect(asked).toEqual([{ template: 'convex', skipCache: false }, { template: 'convex', skipCache: false }, { template: 'convex', skipCache: true }]);
    expect(again).toBe(first);
    // Returning the same string on a forced refresh would sign the Convex client out.
    expect(forced).not.toBe(first);
    for (const jwt of [first!, forced!]) await expect(checkConvexToken(jwt, { domain: server.url })).resolves.toBeDefined();
  });

  it('keeps the same fetchAccessToken across renders of one session (a new one would reset Convex to loading); a new session gets a new one', async () => {
    state = signedIn();
    const { client, calls } = fakeClient();
    const r = await render(client);
    // The auth hook hands out a new getToken object on every render: that alone changes nothing.
    state = signedIn();
    await rerender(r, client);
    await rerender(r, client);
    expect(calls.setAuth).toHaveLength(1);
    asked = [];
    await calls.setAuth[0]!({ forceRefreshToken: false });
    expect(asked).toHaveLength(1); // the newest getToken was used, through the same fetchAccessToken

    state = signedIn('sess_other');
    await rerender(r, client);
    expect(calls.setAuth).toHaveLength(2);
    expect(calls.setAuth[1]).not.toBe(calls.setAuth[0]);
  });

  it('signed out: Convex clears its auth and gets no token source; a getToken that throws answers null, never throws', async () => {
    state = signedIn();
    const { client, calls } = fakeClient();
    const r = await render(client);
    expect(calls.setAuth).toHaveLength(1);

    state = { isLoaded: true, isSignedIn: false, sessionId: null, getToken: getToken() };
    await rerender(r, client);
    expect(calls.setAuth).toHaveLength(1);
    expect(calls.clearAuth).toBeGreaterThan(0);

    const out = fakeClient();
    await render(out.client);
    expect(out.calls.setAuth).toHaveLength(0);

    state = { isLoaded: true, isSignedIn: true, sessionId: 'sess_x', getToken: async () => { throw new Error('network down'); } };
    const failing = fakeClient();
    await render(failing.client);
    await expect(failing.calls.setAuth[0]!({ forceRefreshToken: true })).resolves.toBeNull();
  });

  it('while the auth hook is loading, Convex waits: no token source yet', async () => {
    state = { isLoaded: false, isSignedIn: undefined, getToken: getToken() };
    const { client, calls } = fakeClient();
    await render(client);
    expect(calls.setAuth).toHaveLength(0);
  });
});
