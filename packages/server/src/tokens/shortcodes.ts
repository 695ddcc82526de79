import type { SessionTable } from '../storage/schema.js';
import { parseMetadata, primaryEmail, primaryPhone, type UserRecord } from '../users/user-record.js';

/** The values {{user.*}} and {{session.*}} shortcodes read. Timestamps in seconds, as in JWTs. */
export function shortcodeContext(rec: UserRecord, session: SessionTable | undefined): Record<string, unknown> {
  const u = rec.user;
  const email = primaryEmail(rec);
  const phone = primaryPhone(rec);
  const fullName = [u.first_name, u.last_name].filter(Boolean).join(' ');
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  return {
    user: {
      id: u.id,
      external_id: u.external_id,
      username: u.username,
      first_name: u.first_name,
      last_name: u.last_name,
      full_name: fullName || null,
      image_url: u.image_url,
      has_image: u.image_url !== null,
      primary_email_address: email?.email_address ?? null,
      email_verified: email ? email.verification_status === 'verified' : false,
      primary_phone_number: phone?.phone_number ?? null,
      phone_number_verified: phone ? phone.verification_status === 'verified' : false,
      public_metadata: parseMetadata(u.public_metadata),
      unsafe_metadata: parseMetadata(u.unsafe_metadata),
      two_factor_enabled: false,
      created_at: seconds(u.created_at),
      updated_at: seconds(u.updated_at),
    },
    session: session
      ? { id: session.id, client_id: session.client_id, created_at: seconds(session.created_at) }
      : {},
  };
}
