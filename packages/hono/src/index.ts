import './augment.js';

export { latchkeyMiddleware, type LatchkeyMiddleware, type LatchkeyMiddlewareOptions } from './middleware.js';
export { adminOnly, requireAuth, requirePermission, requireRole, type AdminOnlyMiddlewareOptions } from './guards.js';
export { protectRoute, type ProtectRouteOptions } from './protect-route.js';
export type { Auth, SignedInAuth, SignedOutAuth } from '@latchkey/backend';
