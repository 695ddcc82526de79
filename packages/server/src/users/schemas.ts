import { z } from 'zod';

/**
 * The Backend API's user contract, in the snake_case @clerk/backend sends.
 * Strict objects: a field nobody sends is refused (422 naming it) rather than
 * silently ignored. Flags Clerk accepts but that change nothing here
 * (skip_legal_checks, notify_primary_email_address_changed, …) are accepted.
 */
const metadata = z.record(z.string(), z.unknown());
const rfc3339 = z.iso.datetime({ offset: true, message: 'must be an RFC 3339 timestamp' })
  .refine((v) => Date.parse(v) >= 0, 'must not be before 1970');
const name = z.string().max(256);
// Usernames are case-insensitive, as in Clerk: stored and matched in lower case.
const username = z.string().min(4, 'must be at least 4 characters').max(64, 'must be at most 64 characters')
  .regex(/^[A-Za-z0-9_.-]+$/, 'may contain only letters, digits, "_", "-" and "."')
  .transform((u) => u.toLowerCase());
/**
 * A bare address (`local@domain.tld`), nothing else. Mail software reads
 * `Name <a@b>`, `a(comment)@b`, `a@b,c` and `x:a@b;` as other addresses than the
 * string shows: such a string would send its codes to someone else, and get
 * round the per-address email limits with endless spellings of one mailbox.
 * Non-ASCII letters are allowed (internationalized addresses); the characters
 * with a meaning in address lists are not, nor empty or dotted-at-the-edge parts.
 */
export const emailAddress = z.string().max(320)
  .regex(/^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~\u0080-\uFFFF-]+@(?:[A-Za-z0-9\u0080-\uFFFF](?:[A-Za-z0-9\u0080-\uFFFF-]*[A-Za-z0-9\u0080-\uFFFF])?\.)+[A-Za-z\u0080-\uFFFF][A-Za-z0-9\u0080-\uFFFF-]*$/, 'must be a valid email address')
  .refine((v) => !/^\.|\.\.|\.@/.test(v), 'must be a valid email address');
const email = emailAddress;
const phone = z.string().regex(/^\+[1-9]\d{6,14}$/, 'must be in E.164 format, e.g. +15555550100');
const identificationStatus = z.enum(['verified', 'reserved']);

export const createUserSchema = z.strictObject({
  external_id: z.string().min(1).max(255).nullish(),
  email_address: z.array(email).max(100).optional(),
  email_address_identification_status: z.array(identificationStatus).optional(),
  phone_number: z.array(phone).max(100).optional(),
  phone_number_identification_status: z.array(identificationStatus).optional(),
  web3_wallet: z.array(z.string()).max(0, 'web3 wallets are not supported').optional(),
  username: username.nullish(),
  password: z.string().optional(),
  password_digest: z.string().optional(),
  password_hasher: z.string().optional(),
  first_name: name.nullish(),
  last_name: name.nullish(),
  locale: z.string().max(35).nullish(),
  timezone: z.string().max(64).nullish(),
  skip_password_checks: z.boolean().optional(),
  skip_password_requirement: z.boolean().optional(),
  skip_legal_checks: z.boolean().optional(),
  legal_accepted_at: rfc3339.optional(),
  totp_secret: z.never({ message: 'TOTP is not supported yet' }).optional(),
  backup_codes: z.never({ message: 'backup codes are not supported yet' }).optional(),
  created_at: rfc3339.optional(),
  banned: z.boolean().optional(),
  locked: z.boolean().optional(),
  delete_self_enabled: z.boolean().optional(),
  create_organization_enabled: z.boolean().optional(),
  public_metadata: metadata.optional(),
  private_metadata: metadata.optional(),
  unsafe_metadata: metadata.optional(),
});
export type CreateUserInput = z.infer<typeof createUserSchema>;

export const updateUserSchema = z.strictObject({
  external_id: z.string().min(1).max(255).nullish(),
  username: username.nullish(),
  first_name: name.nullish(),
  last_name: name.nullish(),
  password: z.string().optional(),
  password_digest: z.string().optional(),
  password_hasher: z.string().optional(),
  skip_password_checks: z.boolean().optional(),
  sign_out_of_other_sessions: z.boolean().optional(),
  primary_email_address_id: z.string().optional(),
  notify_primary_email_address_changed: z.boolean().optional(),
  primary_phone_number_id: z.string().optional(),
  primary_web3_wallet_id: z.never({ message: 'web3 wallets are not supported' }).optional(),
  profile_image_id: z.never({ message: 'profile images are not supported yet' }).optional(),
  totp_secret: z.never({ message: 'TOTP is not supported yet' }).optional(),
  backup_codes: z.never({ message: 'backup codes are not supported yet' }).optional(),
  created_at: rfc3339.optional(),
  skip_legal_checks: z.boolean().optional(),
  legal_accepted_at: rfc3339.optional(),
  locale: z.string().max(35).nullish(),
  timezone: z.string().max(64).nullish(),
  delete_self_enabled: z.boolean().optional(),
  create_organization_enabled: z.boolean().optional(),
  create_organizations_limit: z.never({ message: 'organizations are not supported' }).optional(),
  public_metadata: metadata.optional(),
  private_metadata: metadata.optional(),
  unsafe_metadata: metadata.optional(),
});
export type UpdateUserInput = z.infer<typeof updateUserSchema>;

export const metadataSchema = z.strictObject({
  public_metadata: metadata.optional(),
  private_metadata: metadata.optional(),
  unsafe_metadata: metadata.optional(),
});
// replaceUserMetadata documents null for a whole document (Clerk then stores a JSON null):
// here the document is emptied instead, so metadata stays an object for every reader.
const replacing = metadata.nullable().transform((v) => v ?? {}).optional();
export const replaceMetadataSchema = z.strictObject({
  public_metadata: replacing,
  private_metadata: replacing,
  unsafe_metadata: replacing,
});
export type MetadataInput = z.infer<typeof metadataSchema>;

// web3wallet is accepted because @clerk/backend's types offer it; no user has one, so it orders by id.
const orderFields = ['created_at', 'updated_at', 'last_active_at', 'last_sign_in_at', 'first_name', 'last_name',
  'username', 'email_address', 'phone_number', 'web3wallet'] as const;
export type UserOrderField = (typeof orderFields)[number];

const manyStrings = z.array(z.string().max(320)).max(100).default([]);
const msTimestamp = z.coerce.number().int().nonnegative().optional();

/** Filters shared by GET /v1/users and GET /v1/users/count. */
export const userFilterSchema = z.strictObject({
  email_address: manyStrings,
  phone_number: manyStrings,
  username: manyStrings,
  user_id: manyStrings,
  external_id: manyStrings,
  web3_wallet: manyStrings,
  organization_id: manyStrings,
  query: z.string().max(256).optional(),
  created_at_before: msTimestamp,
  created_at_after: msTimestamp,
  last_active_at_before: msTimestamp,
  last_active_at_after: msTimestamp,
  last_active_at_since: msTimestamp,
  last_sign_in_at_before: msTimestamp,
  last_sign_in_at_after: msTimestamp,
});
export type UserFilter = z.infer<typeof userFilterSchema>;

export const userListSchema = userFilterSchema.extend({
  limit: z.coerce.number().int().min(1).max(500).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  order_by: z
    .string()
    .regex(new RegExp(`^[+-]?(${orderFields.join('|')})$`), `must be one of ${orderFields.join(', ')}, optionally prefixed with + or -`)
    .default('-created_at'),
});
export type UserListQuery = z.infer<typeof userListSchema>;
