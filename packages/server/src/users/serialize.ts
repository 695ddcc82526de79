import type { EmailAddressTable, PhoneNumberTable } from '../storage/schema.js';
import { isBanned, parseMetadata, type UserRecord } from './user-record.js';

/**
 * Clerk's User JSON. @clerk/backend deserialises by `object`, needs `linked_to`
 * on every identifier, and would read a `deleted` key as a DeletedObject: so a
 * live user never carries one.
 */
export function userJson(rec: UserRecord, now: number = Date.now()) {
  const u = rec.user;
  const lockedFor = u.locked_until !== null && u.locked_until > now ? Math.ceil((u.locked_until - now) / 1000) : null;
  return {
    object: 'user' as const,
    id: u.id,
    external_id: u.external_id,
    username: u.username,
    first_name: u.first_name,
    last_name: u.last_name,
    image_url: u.image_url ?? '',
    has_image: u.image_url !== null,
    primary_email_address_id: u.primary_email_address_id,
    primary_phone_number_id: u.primary_phone_number_id,
    primary_web3_wallet_id: null,
    email_addresses: rec.emails.map(emailAddressJson),
    phone_numbers: rec.phones.map(phoneNumberJson),
    web3_wallets: [],
    passkeys: [],
    external_accounts: [],
    saml_accounts: [],
    enterprise_accounts: [],
    public_metadata: parseMetadata(u.public_metadata),
    private_metadata: parseMetadata(u.private_metadata),
    unsafe_metadata: parseMetadata(u.unsafe_metadata),
    password_enabled: u.password_digest !== null,
    totp_enabled: false,
    backup_code_enabled: false,
    two_factor_enabled: false,
    // A ban whose `until` has passed no longer counts, even before the maintenance job clears it.
    banned: isBanned(u, now),
    /** Latchkey: why the user is suspended, and when the suspension lifts itself (ms; null: until unbanned). */
    ban_reason: isBanned(u, now) ? u.ban_reason : null,
    banned_until: isBanned(u, now) ? u.banned_until : null,
    // Locked by an operator, or for a while after too many wrong passwords.
    locked: u.locked === 1 || lockedFor !== null,
    lockout_expires_in_seconds: lockedFor,
    verification_attempts_remaining: null,
    deprovisioned: false,
    create_organization_enabled: u.create_organization_enabled === 1,
    create_organizations_limit: null,
    delete_self_enabled: u.delete_self_enabled === 1,
    legal_accepted_at: u.legal_accepted_at,
    locale: u.locale,
    timezone: u.timezone,
    last_sign_in_at: u.last_sign_in_at,
    last_active_at: u.last_active_at,
    mfa_enabled_at: null,
    mfa_disabled_at: null,
    created_at: u.created_at,
    updated_at: u.updated_at,
  };
}

function verificationJson(status: 'verified' | 'unverified', strategy: string | null) {
  if (status === 'unverified' && !strategy) return null;
  return { object: 'verification', status, strategy: strategy ?? 'admin', attempts: null, expire_at: null };
}

export function emailAddressJson(e: EmailAddressTable) {
  return {
    object: 'email_address' as const,
    id: e.id,
    email_address: e.email_address,
    reserved: e.reserved === 1,
    verification: verificationJson(e.verification_status, e.verification_strategy),
    linked_to: [],
    matches_sso_connection: false,
    created_at: e.created_at,
    updated_at: e.updated_at,
  };
}

export function phoneNumberJson(p: PhoneNumberTable) {
  return {
    object: 'phone_number' as const,
    id: p.id,
    phone_number: p.phone_number,
    reserved: p.reserved === 1,
    reserved_for_second_factor: false,
    default_second_factor: false,
    verification: verificationJson(p.verification_status, p.verification_strategy),
    linked_to: [],
    backup_codes: null,
    created_at: p.created_at,
    updated_at: p.updated_at,
  };
}

/**
 * The User as its own end user (and their browser) sees it: private_metadata is
 * for the app's backend only and never leaves through the Frontend API.
 */
export function ownUserJson(rec: UserRecord, now: number = Date.now()) {
  const { private_metadata: _private, ...rest } = userJson(rec, now);
  return rest;
}

/** What DELETE answers: Clerk's DeletedObject. */
export const deletedUserJson = (id: string) => ({ object: 'user' as const, id, deleted: true as const });
