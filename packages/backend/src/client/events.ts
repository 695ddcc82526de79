import type { Requester } from './request.js';
import type { AfterPage, EventListParams, LatchkeyEvent } from './types.js';

/** /v1/events: the feed of committed events, in sequence order. */
export function eventsApi(request: Requester) {
  const list = (params: EventListParams = {}) =>
    request<AfterPage<LatchkeyEvent>>('GET', '/events', { query: { ...params } });
  return {
    list,
    /**
     * Every event after `after`, page by page, until the feed has no more. The
     * server settles late commits before answering, so following next_after
     * never skips an event.
     */
    async *iterate(params: EventListParams = {}): AsyncGenerator<LatchkeyEvent, void, undefined> {
      let after = params.after ?? 0;
      for (;;) {
        const page = await list({ ...params, after, limit: params.limit ?? 500 });
        yield* page.data;
        if (!page.has_more) return;
        after = page.next_after;
      }
    },
  };
}
