// @ts-check
/**
 * The shop's own tables, created when it starts (idempotent). Latchkey owns
 * identity; the shop keeps what it needs to join orders to people, plus the
 * webhook inbox that makes processing durable.
 */

const SCHEMA = /* sql */ `
CREATE TABLE IF NOT EXISTS users (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  latchkey_id text NOT NULL UNIQUE,
  email       text,
  first_name  text,
  last_name   text,
  image_url   text,
  role        text,
  -- The Latchkey user's updated_at (ms) that this row holds: a write lands only if newer.
  version     bigint NOT NULL,
  -- Soft delete: the row stays (orders point at it), its personal data is erased.
  deleted_at  timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS products (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name        text NOT NULL,
  description text NOT NULL DEFAULT '',
  price_cents integer NOT NULL CHECK (price_cents >= 0),
  stock       integer NOT NULL DEFAULT 0 CHECK (stock >= 0),
  created_by  integer REFERENCES users(id),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS orders (
  id          integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id     integer NOT NULL REFERENCES users(id),
  status      text NOT NULL DEFAULT 'pending',
  items       jsonb NOT NULL,
  total_cents integer NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Webhook deliveries, stored before they are answered and processed afterwards.
-- id is the svix-id: the same on every retry and replay of a message, so a
-- redelivery finds its row and is not queued twice.
CREATE TABLE IF NOT EXISTS webhook_inbox (
  id              text PRIMARY KEY,
  event_type      text NOT NULL,
  payload         jsonb NOT NULL,
  received_at     timestamptz NOT NULL,
  attempts        integer NOT NULL DEFAULT 0,
  -- When a worker may take it next: now for a new row, later after a failure, and
  -- pushed ahead while a worker holds it (a lease: a crashed worker's row comes back).
  -- NULL once processed or parked after the last attempt.
  next_attempt_at timestamptz,
  processed_at    timestamptz,
  last_error      text
);
CREATE INDEX IF NOT EXISTS webhook_inbox_due ON webhook_inbox (next_attempt_at) WHERE processed_at IS NULL;

-- Emails that must go out once (the welcome email): the key is claimed in the
-- same transaction that sends, so a failed send leaves no claim behind.
CREATE TABLE IF NOT EXISTS sent_emails (
  key        text PRIMARY KEY,
  to_address text NOT NULL,
  sent_at    timestamptz NOT NULL
);
`;

/**
 * Creates the tables. Several shop processes may start at once: an advisory
 * lock makes them take turns instead of racing on CREATE TABLE.
 * @param {import('pg').Pool} pool
 */
export async function migrate(pool) {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', ['express-shop schema']);
    await client.query(SCHEMA);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
