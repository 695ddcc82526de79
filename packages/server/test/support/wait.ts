/**
 * Polls `found` until it returns something other than undefined, or fails
 * naming `what` after `ms`. Tests wait on observable state this way instead of
 * sleeping for a guessed time.
 */
export async function waitFor<T>(what: string, found: () => T | undefined | Promise<T | undefined>, ms = 30_000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await found();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
