/**
 * @latchkey/convex/testing: for test suites (Node), not for Convex functions.
 * checkConvexToken applies what a Convex deployment checks of a token, since no
 * Convex backend can run in a test; pass the identity it returns to convex-test's
 * t.withIdentity.
 */
export { checkConvexToken, ConvexRuleError } from './convex-rules.js';
export type { ConvexCheckOptions, ConvexCheckResult, ConvexIdentity, ConvexRule } from './convex-rules.js';
