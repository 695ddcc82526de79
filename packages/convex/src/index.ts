/**
 * @latchkey/convex: Latchkey for Convex apps. See docs/convex.md.
 * Everything here runs inside Convex (queries, mutations, httpActions, and
 * auth.config.ts): web APIs only, no Node built-ins. The token oracle for
 * tests is in @latchkey/convex/testing.
 */
export { authConfig, customJwtAuthConfig, jwksDataUri } from './auth-config.js';
export type { AuthConfigOptions, CustomJwtAuthConfigOptions, CustomJwtProvider, Jwks, OidcProvider } from './auth-config.js';
export { latchkeyUserFields, latchkeyUsersTable, USERS_TABLE } from './schema.js';
export type { LatchkeyUserDoc, LatchkeyUserFields } from './schema.js';
export type { LatchkeyDeletedUserData, LatchkeyUserData } from './user-data.js';
export { userMutations } from './users.js';
export type { SyncOutcome } from './users.js';
export { LatchkeyWebhookError, verifyWebhookSignature } from './webhooks/verify.js';
export type { LatchkeyWebhookErrorReason, LatchkeyWebhookEvent, VerifyOptions } from './webhooks/verify.js';
export { webhookHttpAction, webhookRefusal } from './webhooks/http-action.js';
export type { WebhookHttpActionOptions } from './webhooks/http-action.js';
export { requireRole, requireUser } from './guards.js';
export type { GuardCtx } from './guards.js';
export type { ForbiddenData, LatchkeyErrorCode, LatchkeyErrorData, UnauthenticatedData, UserNotFoundData } from './errors.js';
export {
  authorizedMutation, authorizedMutationCustomization, authorizedQuery, authorizedQueryCustomization,
} from './authorized.js';
export type { AuthorizedOptions } from './authorized.js';
