import { Hono, type Context } from 'hono';
import type { Services } from '../../services.js';

/**
 * OIDC discovery and the JWKS. The issuer is the public URL byte for byte:
 * Convex compares it to `iss` exactly and builds tokenIdentifier from it.
 * Keys are cached briefly: after a rotation, verifiers meeting an unknown kid
 * refetch, and a short max-age bounds how long anyone else waits. The JWKS is
 * read from storage per request (keys/keyring.ts says why).
 */
export function discoveryRoutes(s: Services) {
  const app = new Hono();
  const issuer = s.config.publicUrl;

  // Public documents: a relying party in a browser may read them from any origin.
  const jwks = async (c: Context) => {
    c.header('Cache-Control', 'public, max-age=60, stale-while-revalidate=60');
    c.header('Access-Control-Allow-Origin', '*');
    return c.json(await s.keyring.jwks());
  };
  app.get('/.well-known/jwks.json', jwks);
  // Clerk's SDKs call this one with the secret key; it is public either way.
  app.get('/v1/jwks', jwks);

  app.get('/.well-known/openid-configuration', (c) => {
    c.header('Cache-Control', 'public, max-age=300');
    c.header('Access-Control-Allow-Origin', '*');
    // Only what is served: no token endpoint yet, so no code flow and no client authentication
    // (OIDC Discovery requires a token_endpoint with "code"). authorization_endpoint is required
    // whatever the flows; it is reserved for the hosted sign-in pages.
    return c.json({
      issuer,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
      authorization_endpoint: `${issuer}/oauth/authorize`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid', 'profile', 'email'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'azp', 'sid', 'name', 'given_name',
        'family_name', 'nickname', 'picture', 'email', 'email_verified', 'phone_number', 'phone_number_verified'],
    });
  });
  return app;
}
