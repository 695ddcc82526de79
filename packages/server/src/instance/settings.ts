import { z } from 'zod';
import { claimsTemplateSchema } from '../tokens/claims-template.js';

/** Claims a session token sets itself (Clerk's v2 format). */
export const SESSION_TOKEN_RESERVED_CLAIMS = ['iss', 'sub', 'sid', 'iat', 'nbf', 'exp', 'jti', 'azp', 'v', 'sts', 'fva',
  'act', 'pla', 'fea', 'o', 'aud'];

/**
 * Custom session claims. Session tokens travel in a cookie, so the template is
 * kept small (and the rendered claims are checked at minting: tokens/mint.ts).
 */
export const SESSION_CLAIMS_MAX_BYTES = 1200;
const sessionClaims = claimsTemplateSchema(SESSION_TOKEN_RESERVED_CLAIMS, SESSION_CLAIMS_MAX_BYTES);

const roleKey = z.string().min(1).max(64);

/**
 * An origin as browsers send it in the Origin header (lower-case host, no
 * default port, no query): matched byte for byte, so `https://App.Example.com:443`
 * is stored as `https://app.example.com`, or it would never match. (Settings stored
 * before this accept the same way.)
 */
const allowedOrigin = z.string().regex(/^https?:\/\/[^/\s]+$/, 'must be an origin such as https://app.example.com (no path)')
  .transform((v, ctx) => {
    try {
      return new URL(v).origin;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be an origin such as https://app.example.com' });
      return z.NEVER;
    }
  });

/** Each setting's type and bounds, without defaults (a PATCH must not reset what it omits). */
const fields = {
  /** Lifetime of session tokens minted without `expires_in_seconds` (seconds). */
  session_token_lifetime: z.number().int().min(30).max(3600),
  /** Maximum lifetime of a session (seconds). */
  session_max_lifetime: z.number().int().min(300).max(315_360_000),
  /** Inactivity timeout (seconds); 0 turns it off. */
  session_inactivity_timeout: z.number().int().min(0).max(315_360_000),
  /** Custom session-token claims with {{user.*}} / {{session.*}} shortcodes. */
  session_claims: sessionClaims,
  /** What end users may sign in with. */
  sign_in_identifiers: z.array(z.enum(['email_address', 'username'])).min(1).max(2),
  /** How end users may prove who they are. */
  first_factors: z.array(z.enum(['password', 'email_code'])).min(1).max(2),
  /** Profile fields a sign-up must include. */
  sign_up_required_fields: z.array(z.enum(['first_name', 'last_name', 'username'])).max(3),
  /** Minimum zxcvbn score (0–4) for new passwords; 3 by default. */
  password_min_strength: z.number().int().min(0).max(4),
  /** Whether end users may delete their own account (DELETE /v1/me); each user's delete_self_enabled must allow it too. */
  allow_self_delete: z.boolean(),
  /** Wrong passwords in a row before sign-in is locked. */
  lockout_max_attempts: z.number().int().min(1).max(100),
  /** How long a lockout lasts (minutes). */
  lockout_minutes: z.number().int().min(1).max(10_080),
  /** How long the event feed (GET /v1/events) keeps events (days). */
  event_retention_days: z.number().int().min(1).max(3650),
  /** How long delivered webhook messages and all attempts are kept (days). */
  webhook_retention_days: z.number().int().min(1).max(3650),
  /** How long the audit log keeps entries (days). */
  audit_retention_days: z.number().int().min(1).max(3650),
  /** The role new users get (a key of the role catalog, /v1/roles); null: none. */
  default_role: roleKey.nullable(),
  /** Roles an end user may choose at sign-up (e.g. customer or store_owner); every other role only an operator grants. */
  sign_up_roles: z.array(roleKey).max(20).transform((r) => [...new Set(r)]),
  /** Origins of the apps that call the Frontend API from a browser (CORS and CSRF checks). */
  allowed_origins: z.array(allowedOrigin).max(50).transform((o) => [...new Set(o)]),
};

/**
 * Instance settings, stored as one JSON document and edited through
 * PATCH /v1/instance. Defaults fill what is unset (including settings added
 * after an instance was created).
 */
export const instanceSettingsSchema = z.strictObject({
  session_token_lifetime: fields.session_token_lifetime.default(60),
  session_max_lifetime: fields.session_max_lifetime.default(604_800),
  session_inactivity_timeout: fields.session_inactivity_timeout.default(0),
  session_claims: fields.session_claims.default({}),
  allowed_origins: fields.allowed_origins.default([]),
  sign_in_identifiers: fields.sign_in_identifiers.default(['email_address', 'username']),
  first_factors: fields.first_factors.default(['password', 'email_code']),
  sign_up_required_fields: fields.sign_up_required_fields.default([]),
  password_min_strength: fields.password_min_strength.default(3),
  allow_self_delete: fields.allow_self_delete.default(true),
  lockout_max_attempts: fields.lockout_max_attempts.default(10),
  lockout_minutes: fields.lockout_minutes.default(60),
  event_retention_days: fields.event_retention_days.default(30),
  webhook_retention_days: fields.webhook_retention_days.default(30),
  audit_retention_days: fields.audit_retention_days.default(365),
  default_role: fields.default_role.default(null),
  sign_up_roles: fields.sign_up_roles.default([]),
});

export const settingsPatchSchema = z.strictObject(fields).partial();
export type SettingsPatch = z.infer<typeof settingsPatchSchema>;

export type InstanceSettings = z.infer<typeof instanceSettingsSchema>;

export const defaultSettings = (): InstanceSettings => instanceSettingsSchema.parse({});
