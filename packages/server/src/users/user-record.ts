import type { EmailAddressTable, PhoneNumberTable, UserTable } from '../storage/schema.js';

/** A user row with its identifiers: the unit the users domain reads and returns. */
export interface UserRecord {
  user: UserTable;
  emails: EmailAddressTable[];
  phones: PhoneNumberTable[];
}

export type Metadata = Record<string, unknown>;

export const parseMetadata = (text: string): Metadata => JSON.parse(text) as Metadata;

export function primaryEmail(rec: UserRecord): EmailAddressTable | undefined {
  return rec.emails.find((e) => e.id === rec.user.primary_email_address_id);
}

export function primaryPhone(rec: UserRecord): PhoneNumberTable | undefined {
  return rec.phones.find((p) => p.id === rec.user.primary_phone_number_id);
}
