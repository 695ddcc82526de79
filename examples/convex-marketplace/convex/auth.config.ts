import { authConfig } from '@latchkey/convex';

// Convex accepts tokens whose `iss` is Latchkey's issuer URL (byte for byte what
// GET <issuer>/.well-known/openid-configuration says) and whose `aud` is "convex":
// the built-in "convex" JWT template. Set it with `npx convex env set LATCHKEY_ISSUER https://auth.example.com`.
export default authConfig({ issuer: process.env.LATCHKEY_ISSUER! });
