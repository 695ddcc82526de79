/**
 * "Events were committed": wakes this process's delivery worker at once instead
 * of at its next poll. On SQLite the announcement is queued behind the writing
 * transaction (one connection, so the worker's next query runs after the commit).
 * On PostgreSQL the transaction itself sends NOTIFY, which every instance hears
 * only once the commit is done (see outbox.ts and storage/database.ts).
 */
const listeners = new Set<() => void>();
let queued = false;

export function onEventsCommitted(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function announceEvents(): void {
  if (queued || listeners.size === 0) return;
  queued = true;
  setImmediate(() => {
    queued = false;
    for (const l of listeners) l();
  });
}

/** The PostgreSQL channel events are announced on. */
export const EVENTS_CHANNEL = 'latchkey_events';
