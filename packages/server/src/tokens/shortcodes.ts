import type { SessionTable } from '../storage/schema.js';
import { parseMetadata, primaryEmail, primaryPhone, type UserRecord } from '../users/user-record.js';

/**
 * The {{user.*}} and {{session.*}} shortcodes of claim templates: what each
 * one reads, and the check that refuses a template naming anything else.
 */

/** Fields a shortcode may name. Metadata may be followed by any key path (`user.public_metadata.dbId`). */
const USER_FIELDS = ['id', 'external_id', 'username', 'first_name', 'last_name', 'full_name', 'image_url', 'has_image',
  'primary_email_address', 'email_verified', 'primary_phone_number', 'phone_number_verified', 'public_metadata',
  'unsafe_metadata', 'two_factor_enabled', 'created_at', 'updated_at', 'role', 'permissions'];
const SESSION_FIELDS = ['id', 'client_id', 'created_at'];
const OPEN_DOCUMENTS = ['user.public_metadata.', 'user.unsafe_metadata.'];

const KNOWN = new Set([...USER_FIELDS.map((f) => `user.${f}`), ...SESSION_FIELDS.map((f) => `session.${f}`)]);
const SHORTCODE = /\{\{(.*?)\}\}/g;
const PATH = /^[a-zA-Z0-9_]+(\.[a-zA-Z0-9_]+)*$/;

const isKnownShortcode = (path: string): boolean =>
  KNOWN.has(path) || OPEN_DOCUMENTS.some((p) => path.startsWith(p) && path.length > p.length);

export interface ShortcodeIssue {
  /** Where in the template: claim names and array indexes. */
  path: (string | number)[];
  message: string;
}

/** Every shortcode in the template that is malformed or names an unknown field. */
export function shortcodeIssues(template: unknown, path: (string | number)[] = []): ShortcodeIssue[] {
  if (typeof template === 'string') {
    const issues: ShortcodeIssue[] = [];
    for (const [whole, inner] of template.matchAll(SHORTCODE)) {
      const name = inner!.trim();
      if (!PATH.test(name)) issues.push({ path, message: `${whole} is not a shortcode: write {{user.<field>}} or {{session.<field>}}` });
      else if (!isKnownShortcode(name)) issues.push({ path, message: `${whole} names an unknown field (known: user.${USER_FIELDS.join(', user.')}, user.public_metadata.<key>, user.unsafe_metadata.<key>, session.${SESSION_FIELDS.join(', session.')})` });
    }
    return issues;
  }
  if (Array.isArray(template)) return template.flatMap((t, i) => shortcodeIssues(t, [...path, i]));
  if (template !== null && typeof template === 'object') {
    return Object.entries(template).flatMap(([k, v]) => shortcodeIssues(v, [...path, k]));
  }
  return [];
}

/** The values shortcodes read. Timestamps in seconds, as in JWTs. `permissions` are the role's (roles/catalog.ts). */
export function shortcodeContext(
  rec: UserRecord,
  session: SessionTable | undefined,
  permissionsOf: (role: unknown) => string[] = () => [],
): Record<string, unknown> {
  const u = rec.user;
  const email = primaryEmail(rec);
  const phone = primaryPhone(rec);
  const fullName = [u.first_name, u.last_name].filter(Boolean).join(' ');
  const seconds = (ms: number | null) => (ms === null ? null : Math.floor(ms / 1000));
  const publicMetadata = parseMetadata(u.public_metadata);
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
      public_metadata: publicMetadata,
      unsafe_metadata: parseMetadata(u.unsafe_metadata),
      two_factor_enabled: false,
      created_at: seconds(u.created_at),
      updated_at: seconds(u.updated_at),
      role: publicMetadata.role ?? null,
      permissions: permissionsOf(publicMetadata.role),
    },
    session: session
      ? { id: session.id, client_id: session.client_id, created_at: seconds(session.created_at) }
      : {},
  };
}
