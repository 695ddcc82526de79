import type { LatchkeyUserFields } from './schema.js';

/**
 * The parts of Latchkey's user JSON (the `data` of user.created / user.updated,
 * or GET /v1/users/{id}) the users table is made from. Clerk sends the same shape.
 */
export interface LatchkeyUserData {
  id: string;
  first_name?: string | null;
  last_name?: string | null;
  image_url?: string | null;
  has_image?: boolean;
  primary_email_address_id?: string | null;
  email_addresses?: Array<{ id: string; email_address: string }>;
  public_metadata?: Record<string, unknown> | null;
  /** ms; strictly increases with every change, so it orders deliveries. */
  updated_at: number;
}

/** The `data` of user.deleted. Latchkey sends `updated_at`; Clerk does not. */
export interface LatchkeyDeletedUserData {
  id: string;
  deleted: true;
  updated_at?: number;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function primaryEmail(user: LatchkeyUserData): string | undefined {
  const emails = user.email_addresses ?? [];
  const primary = emails.find((e) => e.id === user.primary_email_address_id) ?? emails[0];
  return text(primary?.email_address);
}

/** Throws unless `data` looks like a user: a mutation's `v.any()` argument is checked here instead. */
export function assertUserData(data: unknown): asserts data is LatchkeyUserData {
  const d = data as Partial<LatchkeyUserData> | null;
  if (!d || typeof d !== 'object' || typeof d.id !== 'string' || d.id === '' || typeof d.updated_at !== 'number') {
    throw new Error('upsertUser: data must be a Latchkey user JSON with a string id and a numeric updated_at.');
  }
}

/**
 * The row for a user. Absent values are `undefined`, which `db.patch` turns
 * into a removed field, so a name cleared in Latchkey is cleared here too.
 */
export function userFields(user: LatchkeyUserData): LatchkeyUserFields {
  return {
    latchkeyId: user.id,
    email: primaryEmail(user),
    firstName: text(user.first_name),
    lastName: text(user.last_name),
    // Latchkey answers image_url "" without an image; Clerk a default avatar with has_image false.
    imageUrl: user.has_image === false ? undefined : text(user.image_url),
    role: text(user.public_metadata?.role),
    updatedAt: user.updated_at,
    deletedAt: undefined,
  };
}

/**
 * The copy of a webhook's user that is handed to upsertUser: only what
 * userFields reads. Arguments crossing a function boundary must be Convex
 * values, whose object keys cannot start with "$" or be non-ASCII, and
 * public_metadata may hold anything; the rest would only bloat the logs.
 */
export function slimUserData(user: LatchkeyUserData): LatchkeyUserData {
  const role = user.public_metadata?.role;
  return {
    id: user.id,
    first_name: user.first_name ?? null,
    last_name: user.last_name ?? null,
    image_url: user.image_url ?? null,
    ...(typeof user.has_image === 'boolean' ? { has_image: user.has_image } : {}),
    primary_email_address_id: user.primary_email_address_id ?? null,
    email_addresses: (user.email_addresses ?? []).map((e) => ({ id: e.id, email_address: e.email_address })),
    public_metadata: typeof role === 'string' ? { role } : {},
    updated_at: user.updated_at,
  };
}
