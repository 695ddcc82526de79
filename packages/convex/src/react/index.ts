/** @latchkey/convex/react: Convex's React provider, signed in through Latchkey. */
export { ConvexProviderWithLatchkey, useConvexAuthFromLatchkey } from './provider.js';
export type { ConvexAuth, ConvexProviderWithLatchkeyProps, LatchkeyAuthState, UseLatchkeyAuth } from './provider.js';
