// @ts-check
/**
 * The users table as the sync kit sees it (a UserStore), and as routes read it.
 *
 * Every write is conditional on the version inside the statement itself, not
 * only on the kit's earlier version() check: a webhook, a replay and
 * ensureUser may write the same user at the same moment, and the newest
 * Latchkey state must win whatever order the statements run in.
 */

/** @typedef {import('@latchkey/backend').User} LatchkeyUser */
/** @typedef {import('@latchkey/backend').UserStore} UserStore */

/**
 * A user row as the API shows it.
 * @typedef {object} ShopUser
 * @property {number} id
 * @property {string} latchkeyId
 * @property {string | null} email
 * @property {string | null} firstName
 * @property {string | null} lastName
 * @property {string | null} imageUrl
 * @property {string | null} role
 * @property {number} version
 * @property {string | null} deletedAt
 * @property {string} createdAt
 */

const COLUMNS = 'id, latchkey_id, email, first_name, last_name, image_url, role, version, deleted_at, created_at';

/**
 * @param {Record<string, any>} row
 * @returns {ShopUser}
 */
export function userFromRow(row) {
  return {
    id: row.id,
    latchkeyId: row.latchkey_id,
    email: row.email,
    firstName: row.first_name,
    lastName: row.last_name,
    imageUrl: row.image_url,
    role: row.role,
    version: Number(row.version), // bigint arrives as a string; ms timestamps fit a double exactly
    deletedAt: row.deleted_at ? row.deleted_at.toISOString() : null,
    createdAt: row.created_at.toISOString(),
  };
}

/** @param {LatchkeyUser} user */
export function primaryEmail(user) {
  const primary = user.email_addresses.find((e) => e.id === user.primary_email_address_id) ?? user.email_addresses[0];
  return primary?.email_address ?? null;
}

/** @param {LatchkeyUser} user */
function roleOf(user) {
  const role = user.public_metadata?.role;
  return typeof role === 'string' ? role : null;
}

/**
 * @param {import('pg').Pool} pool
 * @param {{ now?: () => number }} [opts]
 */
export function createUserRepository(pool, opts = {}) {
  const now = opts.now ?? Date.now;

  /** @type {UserStore} */
  const store = {
    async version(latchkeyId) {
      const { rows } = await pool.query('SELECT version FROM users WHERE latchkey_id = $1', [latchkeyId]);
      return rows[0] ? Number(rows[0].version) : undefined;
    },

    async upsert(user, version) {
      const values = [user.id, primaryEmail(user), user.first_name, user.last_name, user.image_url || null, roleOf(user), version,
        new Date(now())];
      // A deleted row stays deleted: Latchkey never brings a user back, so an
      // update that reaches us after the deletion (a replay) is stale.
      const { rows } = await pool.query(
        `INSERT INTO users (latchkey_id, email, first_name, last_name, image_url, role, version, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
         ON CONFLICT (latchkey_id) DO UPDATE SET
           email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
           image_url = EXCLUDED.image_url, role = EXCLUDED.role, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
         WHERE users.version <= EXCLUDED.version AND users.deleted_at IS NULL
         RETURNING id`,
        values,
      );
      if (rows[0]) return rows[0].id;
      // A newer row was there: still answer its id, so the kit can write dbId back.
      const existing = await pool.query('SELECT id FROM users WHERE latchkey_id = $1 AND deleted_at IS NULL', [user.id]);
      return existing.rows[0]?.id;
    },

    async softDelete(latchkeyId, version) {
      // Seed 003's soft delete: the row stays for the orders that point at it,
      // the personal data goes. With no row yet, a tombstone keeps a late
      // user.created from creating one.
      const at = new Date(now());
      await pool.query(
        `INSERT INTO users (latchkey_id, version, deleted_at, created_at, updated_at) VALUES ($1, $2, $3, $3, $3)
         ON CONFLICT (latchkey_id) DO UPDATE SET
           email = NULL, first_name = NULL, last_name = NULL, image_url = NULL,
           version = EXCLUDED.version, deleted_at = COALESCE(users.deleted_at, EXCLUDED.deleted_at), updated_at = EXCLUDED.updated_at
         WHERE users.version <= EXCLUDED.version`,
        [latchkeyId, version, at],
      );
    },
  };

  return {
    store,
    /**
     * The live row of a Latchkey user, or null (none yet, or deleted).
     * @param {string} latchkeyId
     * @returns {Promise<ShopUser | null>}
     */
    async findLive(latchkeyId) {
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM users WHERE latchkey_id = $1 AND deleted_at IS NULL`, [latchkeyId]);
      return rows[0] ? userFromRow(rows[0]) : null;
    },
    /**
     * Any row of a Latchkey user, deleted ones included.
     * @param {string} latchkeyId
     * @returns {Promise<ShopUser | null>}
     */
    async find(latchkeyId) {
      const { rows } = await pool.query(`SELECT ${COLUMNS} FROM users WHERE latchkey_id = $1`, [latchkeyId]);
      return rows[0] ? userFromRow(rows[0]) : null;
    },
  };
}

/** @typedef {ReturnType<typeof createUserRepository>} UserRepository */
