// @ts-check
import { primaryEmail } from '../db/users.mjs';

/**
 * Seed 004's sendWelcomeEmail, sent once per user however many times
 * user.created arrives (Latchkey's retries, a replay, a manual resend, two
 * shop processes draining the same inbox).
 *
 * The claim and the send share one transaction: a concurrent sender blocks on
 * the claimed key until this one commits, then sees it taken. If the SMTP
 * server refuses, the transaction rolls back, the claim disappears and the
 * inbox retries later. The one window left is a crash after the SMTP server
 * accepted the message and before COMMIT: then the retry sends it again, the
 * at-least-once end of the trade (losing a welcome email silently is worse).
 *
 * @param {import('pg').Pool} pool
 * @param {import('./mailer.mjs').Mailer} mailer
 * @param {{ now?: () => number }} [opts]
 */
export function createWelcomeSender(pool, mailer, opts = {}) {
  const now = opts.now ?? Date.now;
  /**
   * @param {import('@latchkey/backend').User} user  the user.created event's data
   * @returns {Promise<'sent' | 'already_sent' | 'no_email' | 'deleted'>}
   */
  return async function sendWelcome(user) {
    const to = primaryEmail(user);
    if (!to) return 'no_email'; // signed up with a phone number only
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const claimed = await client.query(
        'INSERT INTO sent_emails (key, to_address, sent_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING',
        [`welcome:${user.id}`, to, new Date(now())],
      );
      if (claimed.rowCount === 0) {
        await client.query('ROLLBACK');
        return 'already_sent';
      }
      // Deleted before we got to it (a late delivery): no welcome for an account that is gone.
      const row = await client.query('SELECT deleted_at FROM users WHERE latchkey_id = $1', [user.id]);
      if (row.rows[0]?.deleted_at) {
        await client.query('COMMIT'); // keeps the claim: it must never go out
        return 'deleted';
      }
      const name = [user.first_name, user.last_name].filter(Boolean).join(' ').trim() || 'there';
      await mailer.send({
        to,
        subject: 'Welcome to the shop',
        text: `Hi ${name},\n\nThanks for signing up. Your account is ready: browse the products and place your first order.\n\nThe shop team`,
      });
      await client.query('COMMIT');
      return 'sent';
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
}
