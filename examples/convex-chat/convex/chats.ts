import { customMutation, customQuery } from 'convex-helpers/server/customFunctions';
import { ConvexError, v } from 'convex/values';
import { authorizedMutationCustomization, authorizedQueryCustomization } from '@latchkey/convex';
import type { Doc, Id } from './_generated/dataModel';
import { mutation, query, type QueryCtx } from './_generated/server';

/**
 * Seed 001's chats, each one owned by a single user. Every function runs through
 * authorizedQuery / authorizedMutation from @latchkey/convex: no token →
 * ConvexError { code: 'UNAUTHENTICATED', message: 'Not authenticated' }; a token
 * whose user has no row yet → { code: 'USER_NOT_FOUND', message: 'User not found' }
 * (call users.ensureUser first). ctx.user is the caller's users row.
 *
 * A chat of another user → ConvexError { code: 'FORBIDDEN', message: 'Access denied' };
 * a chat that no longer exists → { code: 'NOT_FOUND', message: 'Chat not found' }.
 * Both messages match seed 001's handleConvexError ("Access denied", "not found").
 */

/**
 * @latchkey/convex's authorizedQuery / authorizedMutation, bound to this app's own
 * `query` / `mutation` so ctx.db knows the schema (the package's ready-made
 * `authorizedQuery` works too, with an untyped ctx.db). Same guards, same errors.
 */
const authorizedQuery = customQuery(query, authorizedQueryCustomization);
const authorizedMutation = customMutation(mutation, authorizedMutationCustomization);

const TITLE_MAX = 200;
const CONTENT_MAX = 10_000;

/** The chat `id` if the caller owns it; otherwise the documented refusal. */
async function ownChat(ctx: QueryCtx, userId: string, id: Id<'chats'>): Promise<Doc<'chats'>> {
  const chat = await ctx.db.get(id);
  if (!chat) throw new ConvexError({ code: 'NOT_FOUND', message: 'Chat not found' });
  if (chat.userId !== userId) throw new ConvexError({ code: 'FORBIDDEN', message: 'Access denied' });
  return chat;
}

function cleanTitle(title: string): string {
  const t = title.trim();
  if (t.length === 0 || t.length > TITLE_MAX) {
    throw new ConvexError({ code: 'INVALID_ARGUMENT', message: `Title must be 1 to ${TITLE_MAX} characters` });
  }
  return t;
}

/** The caller's chats, newest first. */
export const listUserChats = authorizedQuery({
  args: {},
  handler: async (ctx) => {
    return await ctx.db
      .query('chats')
      .withIndex('by_user', (q) => q.eq('userId', ctx.user.latchkeyId))
      .order('desc')
      .collect();
  },
});

/** One of the caller's chats. */
export const get = authorizedQuery({
  args: { id: v.id('chats') },
  handler: async (ctx, { id }) => ownChat(ctx, ctx.user.latchkeyId, id),
});

/** Creates a chat for the caller; returns its id. */
export const createUserChat = authorizedMutation({
  args: { title: v.string() },
  handler: async (ctx, { title }) => {
    const now = Date.now();
    return await ctx.db.insert('chats', { title: cleanTitle(title), userId: ctx.user.latchkeyId, createdAt: now, updatedAt: now });
  },
});

/** Renames one of the caller's chats (seed 001's EditChatTitle calls api.chats.update({ id, title })). */
export const update = authorizedMutation({
  args: { id: v.id('chats'), title: v.string() },
  handler: async (ctx, { id, title }) => {
    await ownChat(ctx, ctx.user.latchkeyId, id);
    await ctx.db.patch(id, { title: cleanTitle(title), updatedAt: Date.now() });
    return null;
  },
});

/** Deletes one of the caller's chats and its messages. */
export const remove = authorizedMutation({
  args: { id: v.id('chats') },
  handler: async (ctx, { id }) => {
    await ownChat(ctx, ctx.user.latchkeyId, id);
    const messages = await ctx.db.query('messages').withIndex('by_chat', (q) => q.eq('chatId', id)).collect();
    for (const m of messages) await ctx.db.delete(m._id);
    await ctx.db.delete(id);
    return null;
  },
});

/** Adds a message to one of the caller's chats; returns its id. */
export const sendMessage = authorizedMutation({
  args: { chatId: v.id('chats'), content: v.string() },
  handler: async (ctx, { chatId, content }) => {
    await ownChat(ctx, ctx.user.latchkeyId, chatId);
    if (content.trim().length === 0 || content.length > CONTENT_MAX) {
      throw new ConvexError({ code: 'INVALID_ARGUMENT', message: `Message must be 1 to ${CONTENT_MAX} characters` });
    }
    const now = Date.now();
    const messageId = await ctx.db.insert('messages', { chatId, userId: ctx.user.latchkeyId, content, createdAt: now });
    await ctx.db.patch(chatId, { updatedAt: now });
    return messageId;
  },
});

/** The messages of one of the caller's chats, oldest first. */
export const listMessages = authorizedQuery({
  args: { chatId: v.id('chats') },
  handler: async (ctx, { chatId }) => {
    await ownChat(ctx, ctx.user.latchkeyId, chatId);
    return await ctx.db.query('messages').withIndex('by_chat', (q) => q.eq('chatId', chatId)).collect();
  },
});
