// @ts-check
/**
 * What the routes need from an auth SDK. Two implementations: latchkey.mjs
 * (@latchkey/express) and clerk.mjs (@clerk/express pointed at Latchkey).
 * AUTH_SDK picks one; the routes and every answer they give are the same.
 *
 * @typedef {object} Guards
 * @property {import('express').RequestHandler} authenticate  app-wide; never blocks, only says who is calling
 * @property {import('express').RequestHandler[]} protectRoute
 *   signed in and the user's row in req.user (created now by ensureUser if the webhook has not arrived), else 401/403/404
 * @property {import('express').RequestHandler} adminOnly  after protectRoute: the admin role (or ADMIN_EMAIL in development)
 * @property {(roles: string[]) => import('express').RequestHandler} requireRole  after protectRoute: one of the roles
 * @property {import('@latchkey/backend').RevocationList | undefined} revocations  the revocation list, when the check is on
 * @property {() => void} close
 */

export {};
