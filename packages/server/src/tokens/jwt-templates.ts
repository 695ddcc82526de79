import { z } from 'zod';
import { recordAudit } from '../audit/audit-log.js';
import type { Clock } from '../clock/clock.js';
import { LatchkeyError, notFound } from '../errors/latchkey-error.js';
import { newId } from '../ids/ids.js';
import { isUniqueViolation, type Db } from '../storage/database.js';
import type { JwtTemplateTable } from '../storage/schema.js';
import { claimsTemplateSchema } from './claims-template.js';

/**
 * Claims a template may not set: the ones every template token sets itself, and
 * the ones Clerk's SDKs read as session state, impersonation (`act`) or an
 * organisation role (`o`), which a template must never be able to forge.
 */
export const TEMPLATE_RESERVED_CLAIMS = ['iss', 'sub', 'iat', 'nbf', 'exp', 'jti', 'azp',
  'sid', 'v', 'sts', 'fva', 'act', 'o', 'pla', 'fea'] as const;

export interface JwtTemplate {
  id: string;
  name: string;
  claims: Record<string, unknown>;
  lifetime: number;
  allowed_clock_skew: number;
  aud: string | null;
  /** False: no `nbf` claim (the built-in "convex" template, whose claims must not change between refreshes). */
  nbf?: false;
  created_at: number;
  updated_at: number;
}

/**
 * The built-in "convex" template (reference/convex-auth.md): `aud` is the single
 * string "convex", standard claims are typed (email_verified a boolean), and no
 * claim changes between refreshes, so Convex's query cache stays warm.
 * A stored template named "convex" takes its place.
 */
export const CONVEX_TEMPLATE: JwtTemplate = {
  id: 'jtmpl_convex',
  name: 'convex',
  claims: {
    name: '{{user.full_name}}',
    given_name: '{{user.first_name}}',
    family_name: '{{user.last_name}}',
    nickname: '{{user.username}}',
    picture: '{{user.image_url}}',
    email: '{{user.primary_email_address}}',
    email_verified: '{{user.email_verified}}',
    phone_number: '{{user.primary_phone_number}}',
    phone_number_verified: '{{user.phone_number_verified}}',
    // Convex functions gate on it (seed 000); it changes only when the role does.
    role: '{{user.public_metadata.role}}',
  },
  lifetime: 3600,
  allowed_clock_skew: 5,
  aud: 'convex',
  // Convex ignores nbf on its OIDC path, and a claim that moves with every refresh
  // would only change the identity its query cache is keyed by.
  nbf: false,
  created_at: 0,
  updated_at: 0,
};

const fromRow = (r: JwtTemplateTable): JwtTemplate => ({ ...r, claims: JSON.parse(r.claims) as Record<string, unknown> });

export async function findTemplate(db: Db, name: string): Promise<JwtTemplate> {
  const row = await db.selectFrom('jwt_templates').selectAll().where('name', '=', name).executeTakeFirst();
  if (row) return fromRow(row);
  if (name === CONVEX_TEMPLATE.name) return CONVEX_TEMPLATE;
  throw notFound('JWT template');
}

/** Template tokens are sent in headers, not cookies: more room than session claims have. */
const claimsSchema = claimsTemplateSchema(TEMPLATE_RESERVED_CLAIMS, 8192);

const templateFields = {
  name: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'may contain only letters, digits, "_" and "-"'),
  claims: claimsSchema,
  // At most 7 days, as expires_in_seconds: a retired key stays published as long as its tokens live.
  lifetime: z.number().int().min(30).max(604_800),
  allowed_clock_skew: z.number().int().min(0).max(300),
  aud: z.string().min(1).max(256).nullish(),
  custom_signing_key: z.literal(false).optional(),
  signing_algorithm: z.literal('RS256').optional(),
};
export const createTemplateSchema = z.strictObject({
  ...templateFields,
  lifetime: templateFields.lifetime.default(60),
  allowed_clock_skew: templateFields.allowed_clock_skew.default(5),
});
// Without defaults: a PATCH changes only what it names (zod's .partial() would keep the defaults).
export const updateTemplateSchema = z.strictObject(templateFields).partial();

export const templateJson = (t: JwtTemplate) => ({
  object: 'jwt_template' as const,
  id: t.id,
  name: t.name,
  claims: t.claims,
  lifetime: t.lifetime,
  allowed_clock_skew: t.allowed_clock_skew,
  aud: t.aud,
  custom_signing_key: false,
  signing_algorithm: 'RS256',
  created_at: t.created_at,
  updated_at: t.updated_at,
});

const nameTaken = () =>
  new LatchkeyError('unprocessable', 'form_identifier_exists', 'name is taken', 'A JWT template with that name exists.', { param_name: 'name' });

export async function listTemplates(db: Db): Promise<JwtTemplate[]> {
  const rows = await db.selectFrom('jwt_templates').selectAll().orderBy('created_at').orderBy('id').execute();
  const list = rows.map(fromRow);
  return list.some((t) => t.name === CONVEX_TEMPLATE.name) ? list : [CONVEX_TEMPLATE, ...list];
}

export async function getTemplate(db: Db, id: string): Promise<JwtTemplate> {
  if (id === CONVEX_TEMPLATE.id) return findTemplate(db, CONVEX_TEMPLATE.name);
  const row = await db.selectFrom('jwt_templates').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw notFound('JWT template');
  return fromRow(row);
}

export async function createTemplate(db: Db, clock: Clock, input: z.infer<typeof createTemplateSchema>): Promise<JwtTemplate> {
  const now = clock.now();
  const row: JwtTemplateTable = {
    id: newId('jtmpl', now), name: input.name, claims: JSON.stringify(input.claims), lifetime: input.lifetime,
    allowed_clock_skew: input.allowed_clock_skew, aud: input.aud ?? null, created_at: now, updated_at: now,
  };
  try {
    await db.transaction().execute(async (trx) => {
      await trx.insertInto('jwt_templates').values(row).execute();
      await recordAudit(trx, now, { type: 'jwt_template.created', target: { type: 'jwt_template', id: row.id }, data: { name: row.name } });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
  return fromRow(row);
}

export async function updateTemplate(db: Db, clock: Clock, id: string, input: z.infer<typeof updateTemplateSchema>): Promise<JwtTemplate> {
  const current = await getTemplate(db, id);
  if (current.id === CONVEX_TEMPLATE.id) {
    throw new LatchkeyError('unprocessable', 'template_builtin', 'built-in template', 'The built-in "convex" template cannot be changed; create one named "convex" to replace it.');
  }
  const { custom_signing_key: _c, signing_algorithm: _s, ...fields } = input;
  // Kysely leaves out undefined values: only the given fields change.
  const patch = { ...fields, claims: fields.claims && JSON.stringify(fields.claims) };
  try {
    await db.transaction().execute(async (trx) => {
      const now = Math.max(clock.now(), current.updated_at + 1);
      await trx.updateTable('jwt_templates').set({ ...patch, updated_at: now }).where('id', '=', id).execute();
      await recordAudit(trx, now, { type: 'jwt_template.updated', target: { type: 'jwt_template', id }, data: { fields: Object.keys(fields) } });
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw nameTaken();
    throw err;
  }
  return getTemplate(db, id);
}

export async function deleteTemplate(db: Db, clock: Clock, id: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const result = await trx.deleteFrom('jwt_templates').where('id', '=', id).executeTakeFirst();
    if (Number(result.numDeletedRows) === 0) throw notFound('JWT template');
    await recordAudit(trx, clock.now(), { type: 'jwt_template.deleted', target: { type: 'jwt_template', id } });
  });
}
