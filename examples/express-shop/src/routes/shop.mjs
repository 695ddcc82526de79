// @ts-check
import express from 'express';

/**
 * Seed 004's routes: the profile, products (anyone lists, admins create) and
 * orders (signed-in users place them, admins and moderators move them along).
 */

export const ORDER_STATUSES = ['pending', 'paid', 'shipped', 'delivered', 'cancelled'];

/** @param {Record<string, any>} row */
const productFromRow = (row) => ({
  id: row.id,
  name: row.name,
  description: row.description,
  priceCents: row.price_cents,
  stock: row.stock,
  createdAt: row.created_at.toISOString(),
});

/** @param {Record<string, any>} row */
const orderFromRow = (row) => ({
  id: row.id,
  userId: row.user_id,
  status: row.status,
  items: row.items,
  totalCents: row.total_cents,
  createdAt: row.created_at.toISOString(),
  updatedAt: row.updated_at.toISOString(),
});

/**
 * @param {import('express').Response} res
 * @param {string} message
 * @param {Record<string, unknown>} [details]
 */
const badRequest = (res, message, details = {}) => res.status(400).json({ message, ...details });

/** @param {unknown} v */
const isCount = (v) => Number.isInteger(v) && /** @type {number} */ (v) >= 0 && /** @type {number} */ (v) <= 1_000_000_000;

/**
 * @param {{ pool: import('pg').Pool, guards: import('../auth/guards.mjs').Guards }} deps
 */
export function shopRouter({ pool, guards }) {
  const router = express.Router();
  const { protectRoute, adminOnly, requireRole } = guards;
  /** @param {import('express').Request} req */
  const me = (req) => /** @type {import('../db/users.mjs').ShopUser} */ (req.user);

  router.get('/api/users/profile', ...protectRoute, (req, res) => {
    res.json({ user: me(req) });
  });

  router.get('/api/products', async (_req, res) => {
    const { rows } = await pool.query('SELECT * FROM products ORDER BY id');
    res.json({ products: rows.map(productFromRow) });
  });

  router.post('/api/products', ...protectRoute, adminOnly, async (req, res) => {
    const { name, description = '', priceCents, stock = 0 } = req.body ?? {};
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) return badRequest(res, 'name must be a non-empty string');
    if (typeof description !== 'string' || description.length > 5000) return badRequest(res, 'description must be a string');
    if (!isCount(priceCents)) return badRequest(res, 'priceCents must be a non-negative integer');
    if (!isCount(stock)) return badRequest(res, 'stock must be a non-negative integer');
    const { rows } = await pool.query(
      'INSERT INTO products (name, description, price_cents, stock, created_by) VALUES ($1, $2, $3, $4, $5) RETURNING *',
      [name.trim(), description, priceCents, stock, me(req).id],
    );
    res.status(201).json(productFromRow(rows[0]));
  });

  router.post('/api/orders', ...protectRoute, async (req, res) => {
    const items = req.body?.items;
    if (!Array.isArray(items) || items.length === 0 || items.length > 100) return badRequest(res, 'items must be a non-empty list');
    for (const item of items) {
      if (!isCount(item?.productId) || !isCount(item?.quantity) || item.quantity === 0) {
        return badRequest(res, 'each item needs a productId and a positive quantity');
      }
    }
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      // Stock is taken in the same transaction as the order: two buyers of the last one cannot both get it.
      const lines = [];
      let total = 0;
      for (const { productId, quantity } of items) {
        const { rows } = await client.query(
          'UPDATE products SET stock = stock - $2 WHERE id = $1 AND stock >= $2 RETURNING id, name, price_cents', [productId, quantity]);
        if (!rows[0]) {
          await client.query('ROLLBACK');
          const exists = await pool.query('SELECT 1 FROM products WHERE id = $1', [productId]);
          return badRequest(res, exists.rowCount ? 'Not enough stock' : 'Product not found', { productId });
        }
        lines.push({ productId, name: rows[0].name, quantity, priceCents: rows[0].price_cents });
        total += rows[0].price_cents * quantity;
      }
      const { rows } = await client.query(
        'INSERT INTO orders (user_id, items, total_cents) VALUES ($1, $2, $3) RETURNING *', [me(req).id, JSON.stringify(lines), total]);
      await client.query('COMMIT');
      res.status(201).json(orderFromRow(rows[0]));
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  });

  router.patch('/api/orders/:id', ...protectRoute, requireRole(['admin', 'moderator']), async (req, res) => {
    const status = req.body?.status;
    if (!ORDER_STATUSES.includes(status)) return badRequest(res, `status must be one of ${ORDER_STATUSES.join(', ')}`);
    const id = Number(req.params.id);
    if (!Number.isInteger(id) || id <= 0 || id > 2 ** 31 - 1) return res.status(404).json({ message: 'Order not found' });
    const { rows } = await pool.query('UPDATE orders SET status = $2, updated_at = now() WHERE id = $1 RETURNING *', [id, status]);
    if (!rows[0]) return res.status(404).json({ message: 'Order not found' });
    res.json(orderFromRow(rows[0]));
  });

  return router;
}
