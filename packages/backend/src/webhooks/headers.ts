/**
 * The header shapes a receiver may hold: a fetch Headers, Node's
 * IncomingHttpHeaders (Express `req.headers`, lower-case keys, arrays for
 * repeats), or a plain record with any capitalisation.
 */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

export function headerValue(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Record<string, string | string[] | undefined>;
  let value = record[name];
  if (value === undefined) {
    for (const key of Object.keys(record)) {
      if (key.toLowerCase() === name) {
        value = record[key];
        break;
      }
    }
  }
  return Array.isArray(value) ? value.join(' ') : value;
}

/** Svix names them svix-*, Standard Webhooks webhook-*; Latchkey sends both, other senders one. */
export function webhookHeaders(headers: WebhookHeaders): { id?: string; timestamp?: string; signature?: string } {
  const pick = (suffix: string) => headerValue(headers, `svix-${suffix}`) || headerValue(headers, `webhook-${suffix}`) || undefined;
  return { id: pick('id'), timestamp: pick('timestamp'), signature: pick('signature') };
}
