/**
 * The Backend API's objects and parameters, written once. Field names are the
 * wire's (snake_case, timestamps in milliseconds) so these types read like
 * docs/backend-api.md and a value can go back to the API unchanged.
 */

export type Metadata = Record<string, unknown>;

// ---------------------------------------------------------------- lists

/** `{data, total_count}`: sessions (paginated), JWT templates. */
export interface PaginatedList<T> {
  data: T[];
  total_count: number;
}

/** `{object:"list", data, total_count}`: roles, webhook endpoints. */
export interface CatalogList<T> extends PaginatedList<T> {
  object: 'list';
}

/** A page of a cursor-paged feed read oldest first (events, audit log `order=asc`). */
export interface AfterPage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  /** Pass as `after` for the next page. */
  next_after: number;
}

/** A page read newest first (webhook messages, audit log `order=desc`). */
export interface BeforePage<T> {
  object: 'list';
  data: T[];
  has_more: boolean;
  /** Pass as `before` for the next page; null when there is none. */
  next_before: number | null;
}

/** What DELETE answers. */
export interface DeletedObject<O extends string = string> {
  object: O;
  id: string;
  deleted: true;
}

// ---------------------------------------------------------------- users

export interface Verification {
  object: 'verification';
  status: 'verified' | 'unverified';
  strategy: string;
  attempts: number | null;
  expire_at: number | null;
}

export interface EmailAddress {
  object: 'email_address';
  id: string;
  email_address: string;
  reserved: boolean;
  verification: Verification | null;
  linked_to: unknown[];
  matches_sso_connection: boolean;
  created_at: number;
  updated_at: number;
}

export interface PhoneNumber {
  object: 'phone_number';
  id: string;
  phone_number: string;
  reserved: boolean;
  reserved_for_second_factor: boolean;
  default_second_factor: boolean;
  verification: Verification | null;
  linked_to: unknown[];
  backup_codes: string[] | null;
  created_at: number;
  updated_at: number;
}

/** Clerk's User object. `updated_at` strictly increases with every change: the sync kit's version. */
export interface User {
  object: 'user';
  id: string;
  external_id: string | null;
  username: string | null;
  first_name: string | null;
  last_name: string | null;
  image_url: string;
  has_image: boolean;
  primary_email_address_id: string | null;
  primary_phone_number_id: string | null;
  primary_web3_wallet_id: null;
  email_addresses: EmailAddress[];
  phone_numbers: PhoneNumber[];
  web3_wallets: unknown[];
  passkeys: unknown[];
  external_accounts: unknown[];
  saml_accounts: unknown[];
  enterprise_accounts: unknown[];
  public_metadata: Metadata;
  private_metadata: Metadata;
  unsafe_metadata: Metadata;
  password_enabled: boolean;
  totp_enabled: boolean;
  backup_code_enabled: boolean;
  two_factor_enabled: boolean;
  banned: boolean;
  /** Latchkey: why the user is suspended (null unless banned). */
  ban_reason: string | null;
  /** Latchkey: when the ban lifts itself, ms (null: until unbanned, or not banned). */
  banned_until: number | null;
  locked: boolean;
  lockout_expires_in_seconds: number | null;
  verification_attempts_remaining: number | null;
  deprovisioned: boolean;
  create_organization_enabled: boolean;
  create_organizations_limit: number | null;
  delete_self_enabled: boolean;
  legal_accepted_at: number | null;
  locale: string | null;
  timezone: string | null;
  last_sign_in_at: number | null;
  last_active_at: number | null;
  mfa_enabled_at: number | null;
  mfa_disabled_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface MetadataParams {
  public_metadata?: Metadata;
  private_metadata?: Metadata;
  unsafe_metadata?: Metadata;
}

export interface CreateUserParams extends MetadataParams {
  email_address?: string[];
  email_address_identification_status?: ('verified' | 'reserved')[];
  phone_number?: string[];
  phone_number_identification_status?: ('verified' | 'reserved')[];
  username?: string | null;
  password?: string;
  password_digest?: string;
  password_hasher?: string;
  first_name?: string | null;
  last_name?: string | null;
  external_id?: string | null;
  locale?: string | null;
  timezone?: string | null;
  skip_password_checks?: boolean;
  skip_password_requirement?: boolean;
  skip_legal_checks?: boolean;
  /** RFC 3339. */
  legal_accepted_at?: string;
  /** RFC 3339: for imports. */
  created_at?: string;
  banned?: boolean;
  locked?: boolean;
  delete_self_enabled?: boolean;
  create_organization_enabled?: boolean;
}

export interface UpdateUserParams extends MetadataParams {
  external_id?: string | null;
  username?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  password?: string;
  password_digest?: string;
  password_hasher?: string;
  skip_password_checks?: boolean;
  sign_out_of_other_sessions?: boolean;
  primary_email_address_id?: string;
  primary_phone_number_id?: string;
  notify_primary_email_address_changed?: boolean;
  created_at?: string;
  skip_legal_checks?: boolean;
  legal_accepted_at?: string;
  locale?: string | null;
  timezone?: string | null;
  delete_self_enabled?: boolean;
  create_organization_enabled?: boolean;
  create_organizations_limit?: number | null;
}

/** Filters of GET /v1/users and /v1/users/count. List filters match any of the values given. */
export interface UserFilterParams {
  email_address?: string[];
  phone_number?: string[];
  username?: string[];
  user_id?: string[];
  external_id?: string[];
  /** Case-insensitive substring of id, names, username, external id, emails, phones. */
  query?: string;
  created_at_before?: number;
  created_at_after?: number;
  last_active_at_before?: number;
  last_active_at_after?: number;
  last_active_at_since?: number;
  last_sign_in_at_before?: number;
  last_sign_in_at_after?: number;
}

export type UserOrderField = 'created_at' | 'updated_at' | 'last_active_at' | 'last_sign_in_at' | 'first_name' | 'last_name'
  | 'username' | 'email_address' | 'phone_number' | 'web3wallet';

export interface UserListParams extends UserFilterParams {
  /** 1–500, default 10. */
  limit?: number;
  offset?: number;
  /** Default `-created_at`. */
  order_by?: UserOrderField | `+${UserOrderField}` | `-${UserOrderField}`;
}

export interface BanParams {
  /** Shown to the user and in guards' "Account suspended" answers (≤ 500 characters). */
  reason?: string;
  /** When the ban lifts itself: ms since the epoch (or a Date), in the future. */
  until?: number | Date;
}

export interface SetRoleOptions {
  /** Also revoke every session of the user, for a change that must not wait for tokens to expire. */
  revoke_sessions?: boolean;
}

// ---------------------------------------------------------------- sessions and tokens

export type SessionStatus = 'active' | 'ended' | 'revoked' | 'expired' | 'removed' | 'abandoned';

export interface Session {
  object: 'session';
  id: string;
  client_id: string;
  user_id: string;
  status: SessionStatus;
  last_active_at: number;
  last_active_organization_id: null;
  actor: null;
  expire_at: number;
  abandon_at: number;
  created_at: number;
  updated_at: number;
}

/** GET /v1/sessions needs one of user_id or client_id. */
export interface SessionListParams {
  user_id?: string;
  client_id?: string;
  status?: SessionStatus;
  limit?: number;
  offset?: number;
}

export interface Token {
  object: 'token';
  jwt: string;
}

export interface CreateTokenOptions {
  /** Session tokens only: 1 s to 7 days (default: the instance's session_token_lifetime). */
  expires_in_seconds?: number;
}

export interface JwtTemplate {
  object: 'jwt_template';
  id: string;
  name: string;
  claims: Metadata;
  /** Seconds. */
  lifetime: number;
  allowed_clock_skew: number;
  aud: string | null;
  custom_signing_key: false;
  signing_algorithm: 'RS256';
  created_at: number;
  updated_at: number;
}

export interface CreateJwtTemplateParams {
  name: string;
  claims: Metadata;
  lifetime?: number;
  allowed_clock_skew?: number;
  aud?: string | null;
}
export type UpdateJwtTemplateParams = Partial<CreateJwtTemplateParams>;

// ---------------------------------------------------------------- roles and the instance

export interface Role {
  object: 'role';
  key: string;
  name: string;
  description: string;
  permissions: string[];
  /** New users get this role (instance setting default_role). */
  is_default: boolean;
  /** End users may pick it at sign-up (instance setting sign_up_roles). */
  allowed_at_sign_up: boolean;
  created_at: number;
  updated_at: number;
}

export interface CreateRoleParams {
  key: string;
  name: string;
  description?: string;
  permissions?: string[];
}
export type UpdateRoleParams = Partial<Omit<CreateRoleParams, 'key'>>;
export type RolePreset = 'marketplace' | 'community';

export interface InstanceSettings {
  session_token_lifetime: number;
  session_max_lifetime: number;
  session_inactivity_timeout: number;
  session_claims: Metadata;
  allowed_origins: string[];
  sign_in_identifiers: ('email_address' | 'username')[];
  first_factors: ('password' | 'email_code')[];
  sign_up_required_fields: ('first_name' | 'last_name' | 'username')[];
  password_min_strength: number;
  allow_self_delete: boolean;
  lockout_max_attempts: number;
  lockout_minutes: number;
  event_retention_days: number;
  webhook_retention_days: number;
  audit_retention_days: number;
  default_role: string | null;
  sign_up_roles: string[];
}

export interface Instance extends InstanceSettings {
  object: 'instance';
  id: string;
  environment_type: 'development' | 'production';
  issuer: string;
  publishable_key: string;
}

// ---------------------------------------------------------------- events

export type EventType = 'user.created' | 'user.updated' | 'user.deleted' | 'session.created' | 'session.revoked'
  | 'session.removed' | 'session.ended' | 'email.created';

/** `data` of user.deleted: the metadata as it was before the PII was erased, so an app can find its row. */
export interface DeletedUserData {
  object: 'user';
  id: string;
  deleted: true;
  external_id: string | null;
  updated_at: number;
}

export interface SessionEventData extends Session {
  user: User | null;
}

/** Development instances only: the email as sent (codes included). */
export interface EmailEventData {
  object: 'email';
  id: string;
  slug: string;
  to_email_address: string;
  subject: string;
  body: string;
  body_plain: string;
  status: string;
  [field: string]: unknown;
}

interface EventBase<T extends EventType, D> {
  object: 'event';
  id: string;
  /** Instance-wide and strictly increasing. */
  sequence: number;
  type: T;
  data: D;
  /** When the change was made, ms. */
  timestamp: number;
  instance_id: string;
  event_attributes: { http_request: { client_ip: string; user_agent: string } };
}

/** An event of the feed (GET /v1/events) and the body of a webhook delivery. */
export type LatchkeyEvent =
  | EventBase<'user.created' | 'user.updated', User>
  | EventBase<'user.deleted', DeletedUserData>
  | EventBase<'session.created' | 'session.revoked' | 'session.removed' | 'session.ended', SessionEventData>
  | EventBase<'email.created', EmailEventData>;

export interface EventListParams {
  /** A sequence: events after it (default 0, the oldest retained). */
  after?: number;
  /** 1–500, default 100. */
  limit?: number;
  types?: EventType[];
}

// ---------------------------------------------------------------- audit log

export type AuditActorType = 'user' | 'secret_key' | 'operator' | 'system';

export interface AuditLog {
  object: 'audit_log';
  id: string;
  sequence: number;
  type: string;
  actor: { type: AuditActorType; id: string | null };
  target: { type: string; id: string | null } | null;
  ip: string | null;
  user_agent: string | null;
  data: Metadata;
  created_at: number;
}

export interface AuditLogFilters {
  actor_type?: AuditActorType;
  actor_id?: string;
  target_type?: string;
  target_id?: string;
  types?: string[];
  /** Milliseconds, exclusive. */
  created_after?: number;
  created_before?: number;
}

export interface AuditLogListParams extends AuditLogFilters {
  order?: 'asc' | 'desc';
  /** Cursor for `asc`: a sequence. */
  after?: number;
  /** Cursor for `desc`: a sequence. */
  before?: number;
  /** 1–500, default 100. */
  limit?: number;
}

export interface AuditLogExportParams extends AuditLogFilters {
  after?: number;
}

/** `order=asc` pages with next_after, `order=desc` with next_before. */
export type AuditLogPage =
  | (Omit<AfterPage<AuditLog>, 'next_after'> & { next_after: number; next_before?: never })
  | (Omit<BeforePage<AuditLog>, 'next_before'> & { next_before: number | null; next_after?: never });

// ---------------------------------------------------------------- webhooks

export interface WebhookEndpoint {
  object: 'webhook_endpoint';
  id: string;
  url: string;
  description: string;
  /** Empty: every type. */
  events: EventType[];
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: number | null;
  rate_limit: number | null;
  failing_since: number | null;
  /** Until when the secret before the last rotation still signs. */
  previous_secret_expires_at: number | null;
  created_at: number;
  updated_at: number;
}

/** What create and rotate_secret answer: the endpoint with its current secret. */
export interface WebhookEndpointWithSecret extends WebhookEndpoint {
  secret: string;
}

export interface CreateWebhookEndpointParams {
  url: string;
  events?: EventType[];
  description?: string;
  enabled?: boolean;
  /** Deliveries per second; null for no limit. */
  rate_limit?: number | null;
}
export type UpdateWebhookEndpointParams = Partial<CreateWebhookEndpointParams>;

export interface WebhookEndpointSecret {
  object: 'webhook_endpoint_secret';
  endpoint_id: string;
  secret: string;
}

export type WebhookMessageStatus = 'pending' | 'succeeded' | 'failed';

export interface WebhookMessage {
  object: 'webhook_message';
  /** `msg_…`: the svix-id of every attempt. */
  id: string;
  endpoint_id: string;
  event_sequence: number;
  event_type: EventType;
  status: WebhookMessageStatus;
  attempts: number;
  next_attempt_at: number | null;
  last_attempt_at: number | null;
  last_status_code: number | null;
  created_at: number;
  updated_at: number;
}

export interface WebhookAttempt {
  object: 'webhook_attempt';
  id: string;
  message_id: string;
  endpoint_id: string;
  attempted_at: number;
  status: 'succeeded' | 'failed';
  status_code: number | null;
  duration_ms: number;
  /** The first 1 KiB of the receiver's answer. */
  response: string | null;
  error: string | null;
}

export interface WebhookMessageDetail extends WebhookMessage {
  /** Null once retention removed the event. */
  event: LatchkeyEvent | null;
  attempt_list: WebhookAttempt[];
}

export interface WebhookMessageListParams {
  status?: WebhookMessageStatus;
  before?: number;
  limit?: number;
}

export interface WebhookReplayResult {
  object: 'webhook_replay';
  endpoint_id: string;
  since: number;
  replayed: number;
}

export interface WebhookRecoveryResult {
  object: 'webhook_recovery';
  endpoint_id: string;
  since: number;
  queued: number;
}

// ---------------------------------------------------------------- revocations

/** Without `after`: a snapshot of what counts now. With it: what changed since that cursor. */
export interface Revocations {
  object: 'revocations';
  /** Sessions revoked, ended or removed. */
  revoked_sessions: { id: string; user_id: string; status: SessionStatus; at: number }[];
  suspended_users: { id: string; reason: string | null; suspended_until: number | null }[];
  /** Users whose latest state has no ban: drop them from a suspended set. */
  lifted_users: string[];
  deleted_users: string[];
  /** An event sequence: pass as `after` for what changed since. */
  cursor: number;
  has_more: boolean;
}

export interface RevocationListParams {
  after?: number;
  /** 1–1000, default 500 (changes only). */
  limit?: number;
}
