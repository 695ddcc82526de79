export { verifyToken, type VerifyTokenOptions } from './tokens/verify-token.js';
export { TokenVerificationError, type TokenVerificationErrorReason } from './tokens/errors.js';
export { decodeJwt, type JwtPayload, type JwtHeader } from './tokens/jwt.js';
export { RemoteJwks, type RemoteJwksOptions } from './tokens/remote-jwks.js';
export type { Jwk } from './tokens/key-sources.js';
