import { authConfig } from '@latchkey/convex';

/**
 * Convex trusts tokens whose `iss` is Latchkey's issuer and whose `aud` is "convex"
 * (the built-in "convex" JWT template, or your own template with `aud: "convex"`).
 * Set LATCHKEY_ISSUER on the deployment: `npx convex env set LATCHKEY_ISSUER https://auth.example.com`.
 * It must be exactly the `iss` of Latchkey's tokens (no added trailing slash).
 */
export default authConfig({ issuer: process.env.LATCHKEY_ISSUER! });
