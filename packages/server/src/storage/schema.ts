import type { Generated } from 'kysely';

/**
 * Table shapes shared by SQLite and PostgreSQL. One schema for both dialects:
 * timestamps are integer milliseconds (BIGINT on PostgreSQL), booleans are 0/1
 * integers, JSON documents are text. That keeps every query portable.
 */
export interface InstanceTable {
  id: string;
  /** 'development' or 'production': chosen at creation, decides pk_test_ / pk_live_. */
  environment: 'development' | 'production';
  /** Instance-level settings (session lifetimes, custom session claims, ...) as JSON text. */
  settings: string;
  created_at: number;
  updated_at: number;
}

export interface SecretKeyTable {
  id: string;
  /** SHA-256 of the key, hex. The plaintext is never stored. */
  key_hash: string;
  /** The first characters of the key, to tell keys apart in listings. */
  key_prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export interface SigningKeyTable {
  kid: string;
  alg: string;
  /** PKCS#8 PEM, or `enc:v1:…` when LATCHKEY_ENCRYPTION_KEY is set. */
  private_key: string;
  /** The public JWK as JSON text. */
  public_jwk: string;
  /** 'active' signs new tokens; 'retired' only verifies until `signed_until`. */
  status: 'active' | 'retired';
  created_at: number;
  retired_at: number | null;
  /** Upper bound on the `exp` of every token this key has signed (ms). */
  signed_until: number;
}

export interface UserTable {
  id: string;
  external_id: string | null;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  image_url: string | null;
  password_digest: string | null;
  password_hasher: string | null;
  public_metadata: string;
  private_metadata: string;
  unsafe_metadata: string;
  primary_email_address_id: string | null;
  primary_phone_number_id: string | null;
  banned: number;
  locked: number;
  locale: string | null;
  timezone: string | null;
  delete_self_enabled: number;
  create_organization_enabled: number;
  legal_accepted_at: number | null;
  last_sign_in_at: number | null;
  last_active_at: number | null;
  created_at: number;
  updated_at: number;
  /** Set when the user is deleted: the row stays as a tombstone without PII. */
  deleted_at: number | null;
  /** Wrong passwords in a row (abuse/lockout.ts). */
  failed_attempts: number;
  /** While in the future, sign-in is refused (lockout); ms. */
  locked_until: number | null;
  /** Why the user is banned (shown to them as the suspension reason). */
  ban_reason: string | null;
  /** When a ban lifts itself (ms); null: until unbanned. */
  banned_until: number | null;
}

export interface EmailAddressTable {
  id: string;
  user_id: string;
  email_address: string;
  /** Lower-cased address: uniqueness and look-ups are case-insensitive. */
  email_lower: string;
  verification_status: 'verified' | 'unverified';
  verification_strategy: string | null;
  reserved: number;
  created_at: number;
  updated_at: number;
}

export interface PhoneNumberTable {
  id: string;
  user_id: string;
  phone_number: string;
  verification_status: 'verified' | 'unverified';
  verification_strategy: string | null;
  reserved: number;
  created_at: number;
  updated_at: number;
}

export interface ClientTable {
  id: string;
  /** SHA-256 (hex) of the client token a browser cookie or a native app's Bearer header carries. */
  token_hash: string | null;
  last_active_session_id: string | null;
  created_at: number;
  updated_at: number;
}

export type SessionStatus = 'active' | 'ended' | 'revoked' | 'expired' | 'removed' | 'abandoned';

export interface SessionTable {
  id: string;
  client_id: string;
  user_id: string;
  status: SessionStatus;
  last_active_at: number;
  expire_at: number;
  abandon_at: number;
  /** When the user last proved a first factor in this session; null when it was opened without one (Backend API). */
  first_factor_verified_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface JwtTemplateTable {
  id: string;
  name: string;
  /** Claim template as JSON text, with {{user.*}} / {{session.*}} shortcodes. */
  claims: string;
  lifetime: number;
  allowed_clock_skew: number;
  /** Audience claim; null leaves `aud` to the claims or out. */
  aud: string | null;
  created_at: number;
  updated_at: number;
}

export interface EventTable {
  /** Instance-wide, strictly increasing, in commit order. */
  sequence: Generated<number>;
  id: string;
  type: string;
  /** The event's `data` as JSON text (a Clerk-shaped User or Session). */
  data: string;
  user_id: string | null;
  created_at: number;
  /** `{"client_ip","user_agent"}` of the request that made the change (JSON); null when it did not come over HTTP. */
  http_request: string | null;
}

export interface SignUpTable {
  id: string;
  client_id: string;
  status: 'missing_requirements' | 'complete';
  email_address: string;
  first_name: string | null;
  last_name: string | null;
  username: string | null;
  password_digest: string | null;
  unsafe_metadata: string;
  /** The role chosen at sign-up (one of the instance's sign_up_roles); null: the default role. */
  role: string | null;
  created_user_id: string | null;
  created_session_id: string | null;
  expire_at: number;
  created_at: number;
  updated_at: number;
}

export interface EmailCodeTable {
  id: string;
  purpose: 'sign_up' | 'sign_in' | 'reset_password' | 'verify_email';
  subject_id: string;
  /** HMAC-free SHA-256 of subject + code: codes are short-lived and attempt-limited. */
  code_hash: string;
  attempts: number;
  expire_at: number;
  sent_at: number;
  consumed_at: number | null;
  created_at: number;
  /** Sign-in and reset codes: SHA-256 of the identifier asked with (trimmed, case-folded); null for others. */
  requested_as: string | null;
}

/** An email a development instance sent (the development outbox, GET /v1/dev/outbox). */
export interface DevEmailTable {
  id: string;
  to_address: string;
  subject: string;
  text: string;
  html: string | null;
  /** What the email was for, e.g. 'verification_code'. */
  kind: string;
  created_at: number;
}

export interface WebhookEndpointTable {
  id: string;
  url: string;
  description: string;
  /** JSON array of event types; empty means every type. */
  event_types: string;
  enabled: number;
  /** Why delivery stopped: 'operator', 'gone' (a 410 answer) or 'failing' (5 days of failures). */
  disabled_reason: string | null;
  disabled_at: number | null;
  /** `whsec_…`, sealed (`enc:v1:`) when LATCHKEY_ENCRYPTION_KEY is set. */
  secret: string;
  /** The secret before the last rotation; it still signs until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  /** Messages per second; null means no limit. */
  rate_limit: number | null;
  /** Start of the current run of failed attempts; null after a success. */
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export type WebhookMessageStatus = 'pending' | 'succeeded' | 'failed';

/** One event for one endpoint. `id` is the `svix-id`, the same on every attempt. */
export interface WebhookMessageTable {
  id: string;
  endpoint_id: string;
  event_sequence: number;
  event_type: string;
  /** The user the event is about (or the event id): one key's messages go out in order. */
  order_key: string;
  status: WebhookMessageStatus;
  /** 1 for the pending message of its chain (endpoint, order_key) that goes next; the claim looks at heads only. */
  is_head: number;
  attempts: number;
  next_attempt_at: number;
  /** The worker delivering it now; the lease lapses at `lease_until` if that worker dies. */
  lease_owner: string | null;
  lease_until: number;
  last_attempt_at: number | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookAttemptTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  attempted_at: number;
  status: 'succeeded' | 'failed';
  /** Null when no HTTP answer came (timeout, refused connection). */
  status_code: number | null;
  duration_ms: number;
  /** The first 1 KiB of the response body. */
  response: string;
  error: string | null;
}

export interface AuditLogTable {
  sequence: Generated<number>;
  id: string;
  type: string;
  /** 'user', 'operator' (the CLI), 'secret_key' (the Backend API) or 'system'. */
  actor_type: string;
  actor_id: string | null;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: string;
  created_at: number;
}

export interface RoleTable {
  key: string;
  name: string;
  description: string;
  /** JSON array of permission strings such as "store:manage". */
  permissions: string;
  created_at: number;
  updated_at: number;
}

export interface Database {
  instance: InstanceTable;
  secret_keys: SecretKeyTable;
  signing_keys: SigningKeyTable;
  users: UserTable;
  email_addresses: EmailAddressTable;
  phone_numbers: PhoneNumberTable;
  clients: ClientTable;
  sessions: SessionTable;
  jwt_templates: JwtTemplateTable;
  events: EventTable;
  sign_ups: SignUpTable;
  email_codes: EmailCodeTable;
  dev_emails: DevEmailTable;
  webhook_endpoints: WebhookEndpointTable;
  webhook_messages: WebhookMessageTable;
  webhook_attempts: WebhookAttemptTable;
  audit_logs: AuditLogTable;
  roles: RoleTable;
}
