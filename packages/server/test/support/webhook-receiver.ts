import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An app's webhook route for tests: keeps every delivery exactly as it
 * arrived (raw bytes, text, headers) and answers what `answer` says (204 by
 * default), so a test can verify, replay or re-post Latchkey's real, signed
 * deliveries.
 */
export interface Delivery {
  /** The body as sent: the bytes the signature covers. */
  raw: Buffer;
  /** The same bytes as text. */
  body: string;
  headers: Record<string, string>;
  /** When it arrived (ms). */
  receivedAt: number;
}

export interface Receiver {
  url: string;
  deliveries: Delivery[];
  close(): Promise<void>;
}

export type Answer = (d: Delivery) => Promise<{ status: number; body?: unknown }>;

export async function startReceiver(answer?: Answer, path = '/latchkey-webhook'): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const raw = Buffer.concat(chunks);
      const d = { raw, body: raw.toString('utf8'), headers, receivedAt: Date.now() };
      deliveries.push(d);
      (answer ? answer(d) : Promise.resolve({ status: 204, body: undefined as unknown })).then(
        (r) => (r.body === undefined ? res.writeHead(r.status).end()
          : res.writeHead(r.status, { 'content-type': 'application/json' }).end(JSON.stringify(r.body))),
        () => res.writeHead(500).end(),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`,
    deliveries,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The headers a delivery is re-posted with: its signature headers and content type, as Latchkey sent them. */
export function signatureHeaders(d: Pick<Delivery, 'headers'>): Record<string, string> {
  return Object.fromEntries(Object.entries(d.headers).filter(([k]) => /^(svix-|webhook-|content-type$)/.test(k)));
}
