export { verifyToken, type VerifyTokenOptions } from './tokens/verify-token.js';
export { TokenVerificationError, type TokenVerificationErrorReason } from './tokens/errors.js';
export { decodeJwt, type JwtPayload, type JwtHeader } from './tokens/jwt.js';
export { RemoteJwks, type RemoteJwksOptions } from './tokens/remote-jwks.js';
export type { Jwk } from './tokens/key-sources.js';
export { authenticateRequest, authOptionsFromEnv, tokenFrom, type AuthenticateOptions, type RequestLike } from './auth/authenticate-request.js';
export { type Auth, type SignedInAuth, type SignedOutAuth, type SignedOutReason } from './auth/auth-object.js';
export { RevocationList, type RevocationListOptions, type Revoked, type Suspension } from './revocations/revocation-list.js';
export {
  // decisions: null (pass) or { status, body }
  requireAuth, requireRole, requirePermission, adminOnly, signedOutRefusal, parseAdminEmails, type AdminOnlyOptions, type AuthRefusal,
  roleRequirement, permissionRequirement,
  // the exact bodies
  authenticationRequired, invalidToken, accountSuspended, insufficientRole, insufficientPermission, userNotFound,
  type GuardRefusal, type GuardBody, type AuthenticationRequiredBody, type InvalidTokenBody, type AccountSuspendedBody,
  type InsufficientRoleBody, type InsufficientPermissionBody, type UserNotFoundBody,
  // what the framework adapters share: env defaults and the revocation list's lifecycle
  createAuthenticator, resolveAuthOptions, type Authenticator, type AuthenticatorOptions,
} from './guards/index.js';
export { createLatchkeyClient, type LatchkeyClient, type LatchkeyClientOptions } from './client/client.js';
export { LatchkeyApiError, type ApiErrorEntry } from './client/errors.js';
export type * from './client/types.js';
export { verifyWebhook, verifyWebhookRequest, type VerifyWebhookOptions, type WebhookPayload } from './webhooks/verify.js';
export { WebhookVerificationError, type WebhookVerificationErrorReason } from './webhooks/errors.js';
export type { WebhookHeaders } from './webhooks/headers.js';
export {
  createUserSync, webhookRefusal, type UserSync, type UserSyncOptions, type SyncOutcome, type WebhookResult, type ReconcileResult, type EnsureOutcome,
} from './sync/user-sync.js';
export type { UserStore, RowId } from './sync/store.js';
