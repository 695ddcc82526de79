import http from 'node:http';
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { guardedLookup, refusal, type DestinationPolicy } from './destination.js';

export interface AttemptResult {
  /** The HTTP status, or null when no answer came. */
  statusCode: number | null;
  durationMs: number;
  /** The first RESPONSE_KEPT bytes of the answer's body. */
  response: string;
  /** Why no answer came (refused, timed out, address not allowed); null when one did. */
  error: string | null;
}

export const RESPONSE_KEPT = 1024;
// A receiver's answer is read this far (to keep the connection reusable), then cut off.
const RESPONSE_READ_LIMIT = 64 * 1024;

/**
 * POSTs webhook bodies. Connections are kept alive per host; every connection
 * goes through guardedLookup, so the address policy holds at connect time.
 * Node skips `lookup` for IP-literal hosts, so those are checked here.
 */
export class Deliverer {
  private readonly agents: { http: http.Agent; https: https.Agent };
  private readonly lookup: ReturnType<typeof guardedLookup>;

  constructor(private readonly policy: DestinationPolicy, private readonly timeoutMs: number, maxSockets = 256) {
    this.agents = {
      http: new http.Agent({ keepAlive: true, maxSockets }),
      https: new https.Agent({ keepAlive: true, maxSockets }),
    };
    this.lookup = guardedLookup(policy);
  }

  /**
   * One attempt. Never rejects: every failure becomes an AttemptResult with the reason.
   * `timeoutMs` (at most the configured timeout) lets the caller end the attempt before its lease does.
   */
  async post(url: string, headers: Record<string, string>, body: string,
    opts: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<AttemptResult> {
    const started = performance.now();
    let target: URL;
    try {
      target = new URL(url);
    } catch {
      return { statusCode: null, durationMs: 0, response: '', error: 'the endpoint URL is not valid' };
    }
    // Node skips `lookup` for IP-literal hosts, and an endpoint saved under a looser
    // policy (a development instance, ALLOW_PRIVATE since turned off) must be refused now.
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    const why = isIP(literal) ? refusal(literal, this.policy) : undefined;
    if (why) return { statusCode: null, durationMs: 0, response: '', error: `refused: ${literal} ${why}` };
    const timeoutMs = Math.max(1, Math.min(this.timeoutMs, opts.timeoutMs ?? this.timeoutMs));
    let result = await this.once(target, headers, body, timeoutMs, opts.signal);
    // A kept-alive connection the receiver had already closed fails at once: that says
    // nothing about the receiver, so the attempt goes again on a fresh connection.
    if (result.staleSocket && !opts.signal?.aborted) {
      result = await this.once(target, headers, body, Math.max(1, timeoutMs - (performance.now() - started)), opts.signal);
    }
    return { statusCode: result.statusCode, durationMs: Math.round(performance.now() - started),
      response: storable(result.response), error: result.error === null ? null : storable(result.error) };
  }

  private once(target: URL, headers: Record<string, string>, body: string, timeoutMs: number, signal: AbortSignal | undefined):
    Promise<Omit<AttemptResult, 'durationMs'> & { staleSocket: boolean }> {
    const tls = target.protocol === 'https:';
    return new Promise((resolve) => {
      let settled = false;
      const finish = (statusCode: number | null, response: string, error: string | null, staleSocket = false) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ statusCode, response, error, staleSocket });
      };
      let req: http.ClientRequest;
      try {
        req = (tls ? https : http).request(target, {
          method: 'POST',
          agent: tls ? this.agents.https : this.agents.http,
          lookup: this.lookup,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'user-agent': 'Latchkey-Webhooks/1.0',
          },
        });
      } catch (err) {
        return resolve({ statusCode: null, response: '', error: (err as Error).message, staleSocket: false });
      }
      const timer = setTimeout(() => req.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => req.destroy(new Error('delivery stopped (the server is shutting down)'));
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      req.on('error', (err: NodeJS.ErrnoException) =>
        finish(null, '', describe(err), req.reusedSocket && (err.code === 'ECONNRESET' || err.code === 'EPIPE')));
      req.on('response', (res) => {
        const kept: Buffer[] = [];
        let keptBytes = 0;
        let read = 0;
        const answer = () => finish(res.statusCode ?? null, Buffer.concat(kept).toString('utf8'), null);
        res.on('data', (chunk: Buffer) => {
          if (keptBytes < RESPONSE_KEPT) {
            const part = chunk.subarray(0, RESPONSE_KEPT - keptBytes);
            kept.push(part);
            keptBytes += part.length;
          }
          read += chunk.length;
          if (read > RESPONSE_READ_LIMIT) {
            answer();
            res.destroy();
          }
        });
        res.on('end', answer);
        // A reset after the status line still counts as the answer the status says.
        res.on('error', answer);
        res.on('aborted', answer);
      });
      req.end(body);
    });
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}

/**
 * Text from a receiver as the database can keep it: PostgreSQL text cannot hold
 * NUL, and one binary answer must not stop the queue (settling it would fail).
 */
function storable(text: string): string {
  return text.includes('\0') ? text.replaceAll('\0', '\uFFFD') : text;
}

/** A short reason for the operator's view; never the request, which is signed. */
function describe(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED': return 'connection refused';
    case 'ECONNRESET': return 'connection reset';
    case 'ENOTFOUND': return 'host not found';
    case 'EAI_AGAIN': return 'DNS lookup failed (temporary)';
    case 'ETIMEOUT': return 'DNS lookup timed out';
    case 'ETIMEDOUT': return 'connection timed out';
    case 'EHOSTUNREACH': return 'host unreachable';
    default: return err.message;
  }
}
