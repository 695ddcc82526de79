import { defineSchema, defineTable } from 'convex/server';
import { v } from 'convex/values';
import { latchkeyUsersTable } from '@latchkey/convex';

export default defineSchema({
  /** One row per Latchkey user, kept in sync by the webhook (convex/http.ts) or created by users.ensureUser. */
  users: latchkeyUsersTable(),

  /** A chat belongs to one user: `userId` is the Latchkey user id (the token's `sub`, seed 001's `userId` claim). */
  chats: defineTable({
    title: v.string(),
    userId: v.string(),
    createdAt: v.number(),
    updatedAt: v.number(),
  }).index('by_user', ['userId']),

  /** Messages of a chat; `userId` is the author (always the chat's owner here). */
  messages: defineTable({
    chatId: v.id('chats'),
    userId: v.string(),
    content: v.string(),
    createdAt: v.number(),
  }).index('by_chat', ['chatId']),
});
