/** Why a token was refused. The names follow @clerk/backend's TokenVerificationErrorReason. */
export type TokenVerificationErrorReason =
  | 'token-invalid'
  | 'token-expired'
  | 'token-not-active-yet'
  | 'token-iat-in-the-future'
  | 'token-invalid-signature'
  | 'token-invalid-algorithm'
  | 'token-invalid-issuer'
  | 'token-invalid-audience'
  | 'token-invalid-authorized-party'
  | 'jwk-kid-mismatch'
  | 'jwk-failed-to-load';

export class TokenVerificationError extends Error {
  constructor(public readonly reason: TokenVerificationErrorReason, message: string) {
    super(message);
    this.name = 'TokenVerificationError';
  }
}
