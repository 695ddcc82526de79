import { defineSchema } from 'convex/server';
import { latchkeyUsersTable } from '../../src/index.js';

/** The package's own test deployment: only the users table Latchkey keeps in sync. */
export default defineSchema({
  users: latchkeyUsersTable(),
});
