import type { Requester } from './request.js';
import type { AuditLog, AuditLogExportParams, AuditLogListParams, AuditLogPage } from './types.js';

/** Splits a byte stream into lines without holding the whole export in memory. */
async function* lines(body: ReadableStream<Uint8Array>): AsyncGenerator<string, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        yield buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
      }
    }
    buffered += decoder.decode();
    if (buffered) yield buffered;
  } finally {
    // A caller that stops iterating early must not leave the connection streaming.
    await reader.cancel().catch(() => {});
  }
}

/** /v1/audit_logs: who did what to whom. */
export function auditLogsApi(request: Requester) {
  return {
    /** One page; `order=asc` (default) pages on with next_after, `desc` with next_before. */
    list: (params: AuditLogListParams = {}) => request<AuditLogPage>('GET', '/audit_logs', { query: { ...params } }),
    /**
     * Every matching entry, oldest first, streamed from GET /v1/audit_logs/export
     * (JSON lines): `for await (const entry of client.auditLogs.export({types: [...]}))`.
     */
    async *export(params: AuditLogExportParams = {}): AsyncGenerator<AuditLog, void, undefined> {
      const res = await request.raw('GET', '/audit_logs/export', { query: { ...params } });
      if (!res.body) return;
      for await (const line of lines(res.body)) if (line.trim()) yield JSON.parse(line) as AuditLog;
    },
  };
}
