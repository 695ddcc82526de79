/** Every event Latchkey records (and delivers by webhook). email.created happens on development instances only. */
export const EVENT_TYPES = ['user.created', 'user.updated', 'user.deleted', 'session.created', 'session.ended',
  'session.removed', 'session.revoked', 'email.created'] as const;
export type EventType = (typeof EVENT_TYPES)[number];
