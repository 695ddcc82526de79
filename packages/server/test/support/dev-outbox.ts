import type { TestServer } from './server.js';

/**
 * The newest code of `kind` emailed to `to`, from the development outbox; it
 * waits a little, since the email is sent without the request waiting on it.
 */
export async function codeFor(server: TestServer, to: string, kind: string): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const list = await (await server.api(`/v1/dev/outbox?to_email_address=${encodeURIComponent(to)}`)).json();
    const mail = list.data.find((m: { kind: string }) => m.kind === kind);
    if (mail) return /\b(\d{6})\b/.exec(mail.body)![1]!;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${kind} email for ${to}`);
}
