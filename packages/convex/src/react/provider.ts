import { createElement, useCallback, useMemo, useRef, type ReactNode } from 'react';
import { ConvexProviderWithAuth, type ConvexReactClient } from 'convex/react';

/**
 * What a Latchkey (or Clerk-shaped) auth hook gives: @latchkey/react's useAuth,
 * or Clerk's, has this shape. `getToken({ template, skipCache })` must mint a
 * new token when `skipCache` is true.
 */
export interface LatchkeyAuthState {
  isLoaded: boolean;
  isSignedIn: boolean | undefined;
  /** The active session: a new session (sign-in, account switch) gives Convex a new token source. */
  sessionId?: string | null | undefined;
  getToken(options: { template?: string; skipCache?: boolean }): Promise<string | null>;
}

export type UseLatchkeyAuth = () => LatchkeyAuthState;

/** What ConvexProviderWithAuth asks of its `useAuth`. */
export interface ConvexAuth {
  isLoading: boolean;
  isAuthenticated: boolean;
  fetchAccessToken(args: { forceRefreshToken: boolean }): Promise<string | null>;
}

/**
 * Turns a Latchkey auth hook into the hook Convex wants (reference/convex-auth.md):
 * `fetchAccessToken` keeps its identity while the session does (a new function
 * makes Convex drop to loading and re-authenticate), asks for a freshly minted
 * token when Convex forces a refresh (the same string would sign the client
 * out), answers null when signed out, and never throws.
 */
export function useConvexAuthFromLatchkey(useAuth: UseLatchkeyAuth, template = 'convex'): () => ConvexAuth {
  return useMemo(() => function useConvexAuth(): ConvexAuth {
    const { isLoaded, isSignedIn, sessionId, getToken } = useAuth();
    // The newest getToken without making fetchAccessToken change with it (auth hooks need not memoise it).
    const latest = useRef(getToken);
    latest.current = getToken;
    const fetchAccessToken = useCallback(async ({ forceRefreshToken }: { forceRefreshToken: boolean }) => {
      if (!isSignedIn) return null;
      try {
        return (await latest.current({ template, skipCache: forceRefreshToken })) ?? null;
      } catch {
        return null;
      }
    }, [isSignedIn, sessionId]);
    return useMemo(() => ({ isLoading: !isLoaded, isAuthenticated: isSignedIn ?? false, fetchAccessToken }),
      [isLoaded, isSignedIn, fetchAccessToken]);
  }, [useAuth, template]);
}

export interface ConvexProviderWithLatchkeyProps {
  client: ConvexReactClient;
  useAuth: UseLatchkeyAuth;
  /** The JWT template Convex gets tokens of; "convex" (built in) by default. */
  template?: string;
  children?: ReactNode;
}

/** ConvexProvider with Latchkey sign-in: wrap the app in it, inside the Latchkey provider. */
export function ConvexProviderWithLatchkey({ client, useAuth, template, children }: ConvexProviderWithLatchkeyProps) {
  const useConvexAuth = useConvexAuthFromLatchkey(useAuth, template);
  return createElement(ConvexProviderWithAuth, { client, useAuth: useConvexAuth }, children);
}
