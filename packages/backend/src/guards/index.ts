export {
  accountSuspended, authenticationRequired, insufficientPermission, insufficientRole, invalidToken, userNotFound,
  type AccountSuspendedBody, type AuthenticationRequiredBody, type GuardBody, type GuardRefusal,
  type InsufficientPermissionBody, type InsufficientRoleBody, type InvalidTokenBody, type UserNotFoundBody,
} from './bodies.js';
export {
  permissionRequirement, requireAuth, requirePermission, requireRole, roleRequirement, signedOutRefusal, type AuthRefusal,
} from './decisions.js';
export { adminOnly, parseAdminEmails, type AdminOnlyOptions } from './admin-only.js';
export { createAuthenticator, resolveAuthOptions, type Authenticator, type AuthenticatorOptions } from './authenticator.js';
