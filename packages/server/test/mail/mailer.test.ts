import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../src/clock/clock.js';
import { loadConfig } from '../../src/config/config.js';
import { LatchkeyError } from '../../src/errors/latchkey-error.js';
import { createLatchkey, type Latchkey } from '../../src/latchkey.js';
import type { MailMessage } from '../../src/mail/mailer.js';
import { MailDeliveryError } from '../../src/mail/smtp-mailer.js';
import { freePort } from '../support/postgres.js';
import { databaseUrlFor, dialects, startServer, type DialectName, type TestServer } from '../support/server.js';

// ---------------------------------------------------------------- SMTP test server

interface Received {
  mailFrom: string;
  rcptTo: string[];
  auth: { username: string; password: string } | undefined;
  headers: Map<string, string>;
  /** Decoded text/plain and text/html parts. */
  text: string | undefined;
  html: string | undefined;
  raw: string;
}

interface SmtpSink {
  port: number;
  url: string;
  received: Received[];
  close(): Promise<void>;
}

/**
 * A real SMTP server on 127.0.0.1. STARTTLS is not offered, so nodemailer
 * speaks plain SMTP (it upgrades only when the server offers it).
 */
async function startSmtp(extra: Partial<SMTPServerOptions> = {}): Promise<SmtpSink> {
  const received: Received[] = [];
  const auths = new Map<string, { username: string; password: string }>();
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onAuth(auth, session, callback) {
      auths.set(session.id, { username: auth.username ?? '', password: auth.password ?? '' });
      callback(null, { user: auth.username });
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          mailFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          rcptTo: session.envelope.rcptTo.map((r) => r.address),
          auth: auths.get(session.id),
          raw,
          ...parseMessage(raw),
        });
        callback();
      });
    },
    ...extra,
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Just enough MIME for what nodemailer writes: headers, one or two text parts, 7bit/QP/base64. */
function parseMessage(raw: string): Pick<Received, 'headers' | 'text' | 'html'> {
  const [head, body] = splitHead(raw);
  const headers = parseHeaders(head);
  const type = headers.get('content-type') ?? 'text/plain';
  const parts: [Map<string, string>, string][] = [];
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (type.startsWith('multipart/') && boundary) {
    for (const chunk of body.split(`--${boundary}`).slice(1)) {
      if (chunk.startsWith('--')) break;
      const [h, b] = splitHead(chunk.replace(/^\r\n/, ''));
      parts.push([parseHeaders(h), b]);
    }
  } else {
    parts.push([headers, body]);
  }
  const find = (t: string) => {
    const part = parts.find(([h]) => (h.get('content-type') ?? 'text/plain').startsWith(t));
    return part && decode(part[1], part[0].get('content-transfer-encoding'));
  };
  return { headers, text: find('text/plain'), html: find('text/html') };
}

function splitHead(s: string): [string, string] {
  const i = s.indexOf('\r\n\r\n');
  return i < 0 ? [s, ''] : [s.slice(0, i), s.slice(i + 4)];
}

function parseHeaders(head: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return out;
}

function decode(body: string, cte = '7bit'): string {
  const trimmed = body.replace(/\r\n$/, '');
  if (/quoted-printable/i.test(cte)) {
    const bytes = trimmed.replace(/=\r\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    return Buffer.from(bytes, 'latin1').toString('utf8');
  }
  if (/base64/i.test(cte)) return Buffer.from(trimmed.replace(/\s+/g, ''), 'base64').toString('utf8');
  return trimmed;
}

// ---------------------------------------------------------------- helpers

interface OutboxEmail {
  object: 'email';
  id: string;
  to_email_address: string;
  subject: string;
  body: string;
  html: string | null;
  kind: string;
  created_at: number;
}
interface Outbox {
  data: OutboxEmail[];
  total_count: number;
}

const PRODUCTION = { NODE_ENV: 'production', LATCHKEY_ENCRYPTION_KEY: 'e'.repeat(40) };

const codeEmail = (to: string, code: string, extra: Partial<MailMessage> = {}): MailMessage => ({
  to,
  subject: `${code} is your verification code`,
  text: `Your verification code is ${code}. It expires in 10 minutes.`,
  kind: 'verification_code',
  ...extra,
});

const outbox = async (server: TestServer, query = ''): Promise<Outbox> => {
  const res = await server.api(`/v1/dev/outbox${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Outbox;
};

/** Like startServer, but with a logger whose JSON lines the test can read. */
async function startWithLogs(dialect: DialectName, env: Record<string, string>) {
  const dataDir = mkdtempSync(join(tmpdir(), 'latchkey-mail-'));
  const databaseUrl = await databaseUrlFor(dialect);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      done();
    },
  });
  const config = loadConfig({
    PORT: String(await freePort()),
    LATCHKEY_DATA_DIR: dataDir,
    ...(databaseUrl ? { LATCHKEY_DATABASE_URL: databaseUrl } : {}),
    ...env,
  });
  const lk: Latchkey = await createLatchkey(config, { logger: pino({ level: 'trace' }, sink) });
  return {
    lk,
    lines,
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
    async close() {
      await lk.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- tests

describe.each(dialects())('mailer (%s)', (dialect) => {
  let smtp: SmtpSink;
  const cleanups: (() => Promise<void>)[] = [];
  const track = <T extends { close(): Promise<void> }>(x: T): T => {
    cleanups.push(() => x.close());
    return x;
  };

  beforeAll(async () => {
    smtp = await startSmtp();
  });
  afterEach(async () => {
    smtp.received.length = 0;
    while (cleanups.length) await cleanups.pop()!();
  });
  afterAll(() => smtp?.close());

  describe('a development instance with LATCHKEY_SMTP_URL', () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startServer(dialect, {
        env: { LATCHKEY_SMTP_URL: smtp.url, LATCHKEY_MAIL_FROM: 'Acme Sign-in <auth@acme.test>' },
      });
    });
    afterAll(() => server?.close());

    it('delivers to the SMTP server (from, to, subject, text, html) and lists it in GET /v1/dev/outbox', async () => {
      await server.lk.services.mailer.send(codeEmail('Ada@Example.com', '424242', {
        html: '<p>Your verification code is <b>424242</b>.</p>',
      }));

      expect(smtp.received).toHaveLength(1);
      const m = smtp.received[0]!;
      expect(m.mailFrom).toBe('auth@acme.test');
      // nodemailer normalises the domain (lower case, as IDNA does); the local part is kept.
      expect(m.rcptTo).toEqual(['Ada@example.com']);
      expect(m.headers.get('to')).toBe('Ada@example.com');
      expect(m.headers.get('from')).toBe('"Acme Sign-in" <auth@acme.test>'); // RFC 5322 quotes the hyphenated name
      expect(m.headers.get('subject')).toBe('424242 is your verification code');
      expect(m.text).toBe('Your verification code is 424242. It expires in 10 minutes.');
      expect(m.html).toBe('<p>Your verification code is <b>424242</b>.</p>');
      expect(m.auth).toBeUndefined(); // no credentials in the URL: no AUTH

      const box = await outbox(server);
      expect(box.total_count).toBe(1);
      expect(box.data).toEqual([{
        object: 'email',
        id: expect.stringMatching(/^eml_[0-9A-Za-z]{27}$/),
        to_email_address: 'Ada@Example.com',
        subject: '424242 is your verification code',
        body: 'Your verification code is 424242. It expires in 10 minutes.',
        html: '<p>Your verification code is <b>424242</b>.</p>',
        kind: 'verification_code',
        created_at: expect.any(Number),
      }]);
      expect(Math.abs(box.data[0]!.created_at - Date.now())).toBeLessThan(60_000);
      // Stored in the table the migration created.
      const rows = await server.db.selectFrom('dev_emails').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ to_address: 'Ada@Example.com', kind: 'verification_code', html: expect.stringContaining('424242') });
    });

    it('an email without html has html null in the outbox and a text-only message on the wire', async () => {
      await server.lk.services.mailer.send(codeEmail('grace@example.com', '111222', { kind: 'reset_password_code' }));
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.headers.get('content-type')).toMatch(/^text\/plain/);
      expect(smtp.received[0]!.text).toContain('111222');
      const box = await outbox(server, '?to_email_address=grace@example.com');
      expect(box.data).toHaveLength(1);
      expect(box.data[0]).toMatchObject({ html: null, kind: 'reset_password_code', body: expect.stringContaining('111222') });
    });

    it('answers 401 without the secret key, or with the publishable key', async () => {
      for (const headers of [{ authorization: '' }, { authorization: `Bearer ${server.publishableKey}` },
        { authorization: 'Bearer sk_test_not_a_real_key' }]) {
        const res = await fetch(`${server.url}/v1/dev/outbox`, { headers: headers.authorization ? headers : {} });
        expect(res.status).toBe(401);
        const body = (await res.json()) as { errors: { code: string }[] };
        expect(body.errors[0]!.code).toBe('authentication_invalid');
        expect(JSON.stringify(body)).not.toContain('424242');
      }
    });
  });

  it('without LATCHKEY_SMTP_URL a development instance keeps mail in the outbox only; filters and paging, newest first', async () => {
    const clock = new ManualClock(Date.UTC(2030, 0, 1));
    const server = track(await startServer(dialect, { clock }));
    const sent: [string, string][] = [
      ['ada@example.com', '100001'], ['bob@example.com', '100002'], ['ada@example.com', '100003'],
      ['Carol@Example.com', '100004'], ['ada@example.com', '100005'],
    ];
    for (const [to, code] of sent) {
      clock.advance(1_000);
      await server.lk.services.mailer.send(codeEmail(to, code));
    }
    expect(smtp.received).toHaveLength(0);

    const all = await outbox(server);
    expect(all.total_count).toBe(5);
    expect(all.data.map((e) => e.body.match(/\d{6}/)![0])).toEqual(['100005', '100004', '100003', '100002', '100001']);
    expect(all.data.map((e) => e.created_at)).toEqual([5, 4, 3, 2, 1].map((s) => Date.UTC(2030, 0, 1) + s * 1000));

    const page = await outbox(server, '?limit=2&offset=1');
    expect(page.total_count).toBe(5); // the count of all matches, not of the page
    expect(page.data.map((e) => e.body.match(/\d{6}/)![0])).toEqual(['100004', '100003']);
    expect((await outbox(server, '?limit=2&offset=4')).data).toHaveLength(1);
    expect((await outbox(server, '?offset=10')).data).toEqual([]);

    const ada = await outbox(server, '?to_email_address=ADA@example.com');
    expect(ada.total_count).toBe(3);
    expect(ada.data.map((e) => e.to_email_address)).toEqual(['ada@example.com', 'ada@example.com', 'ada@example.com']);
    const adaPage = await outbox(server, '?to_email_address=ada@example.com&limit=1&offset=1');
    expect(adaPage).toMatchObject({ total_count: 3, data: [{ body: expect.stringContaining('100003') }] });
    const two = await outbox(server, '?to_email_address=bob@example.com&to_email_address=carol@example.com');
    expect(two.data.map((e) => e.to_email_address)).toEqual(['Carol@Example.com', 'bob@example.com']);
    expect((await outbox(server, '?to_email_address=nobody@example.com'))).toEqual({ data: [], total_count: 0 });

    // The default page is 50.
    for (let i = 0; i < 50; i++) await server.lk.services.mailer.send(codeEmail('bulk@example.com', String(200000 + i)));
    const first = await outbox(server);
    expect(first.total_count).toBe(55);
    expect(first.data).toHaveLength(50);
    expect((await outbox(server, '?limit=500')).data).toHaveLength(55);

    for (const bad of ['?limit=0', '?limit=501', '?limit=abc', '?offset=-1', '?colour=blue']) {
      const res = await server.api(`/v1/dev/outbox${bad}`);
      expect(res.status, bad).toBe(422);
    }
  });

  it('a production instance sends through SMTP only: nothing stored, GET /v1/dev/outbox is 404, no code or password in the log', async () => {
    const authed = track(await startSmtp());
    const url = `smtp://mail%40user:${encodeURIComponent('pa:ss@w0rd-XYZ')}@127.0.0.1:${authed.port}`;
    const app = track(await startWithLogs(dialect, { ...PRODUCTION, LATCHKEY_SMTP_URL: url, LATCHKEY_MAIL_FROM: 'no-reply@acme.test' }));
    expect(app.lk.boot.instance.environment).toBe('production');

    await app.lk.services.mailer.send(codeEmail('ada@example.com', '987654'));
    expect(authed.received).toHaveLength(1);
    expect(authed.received[0]).toMatchObject({
      mailFrom: 'no-reply@acme.test',
      rcptTo: ['ada@example.com'],
      auth: { username: 'mail@user', password: 'pa:ss@w0rd-XYZ' }, // the URL's credentials, percent-decoded
      text: expect.stringContaining('987654'),
    });
    expect(await app.lk.services.db.selectFrom('dev_emails').selectAll().execute()).toEqual([]);

    const port = await app.lk.listen();
    const secretKey = app.lk.boot.newSecretKey!;
    expect(secretKey).toMatch(/^sk_live_/);
    const res = await fetch(`http://127.0.0.1:${port}/v1/dev/outbox`, { headers: { authorization: `Bearer ${secretKey}` } });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe('resource_not_found');
    // Still behind the secret key.
    expect((await fetch(`http://127.0.0.1:${port}/v1/dev/outbox`)).status).toBe(401);

    const log = app.lines.join('\n');
    expect(app.logs().some((l) => l.msg === 'email sent (SMTP)' && l.kind === 'verification_code')).toBe(true);
    expect(log).not.toContain('987654');
    expect(log).not.toContain('w0rd-XYZ');
    expect(log).not.toContain('LATCHKEY_SMTP_URL is not set');
  });

  it('a production instance without LATCHKEY_SMTP_URL warns at start and refuses to send, with a clear LatchkeyError', async () => {
    const app = track(await startWithLogs(dialect, PRODUCTION));
    const warning = app.logs().find((l) => l.level === 40 && String(l.msg).includes('LATCHKEY_SMTP_URL is not set'));
    expect(warning).toBeDefined();

    const err = await app.lk.services.mailer.send(codeEmail('ada@example.com', '555000')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LatchkeyError);
    expect(err).toMatchObject({ code: 'email_delivery_not_configured', longMessage: expect.stringContaining('LATCHKEY_SMTP_URL') });
    expect(await app.lk.services.db.selectFrom('dev_emails').selectAll().execute()).toEqual([]);
    expect(app.lines.join('\n')).not.toContain('555000');
  });

  it('a development instance logs each email at info, code included, for the developer', async () => {
    const app = track(await startWithLogs(dialect, {}));
    await app.lk.services.mailer.send(codeEmail('dev@example.com', '314159'));
    const entry = app.logs().find((l) => l.kind === 'verification_code');
    expect(entry).toMatchObject({ level: 30, to: 'dev@example.com', text: expect.stringContaining('314159'), email_id: expect.stringMatching(/^eml_/) });
    expect(app.logs().some((l) => l.level === 40)).toBe(false); // no SMTP warning on development
  });

  it('an SMTP server that refuses the recipient makes send() reject with a clear error, without the password', async () => {
    const refusing = track(await startSmtp({
      onRcptTo(address, _session, callback) {
        const err = Object.assign(new Error(`Mailbox ${address.address} is unavailable`), { responseCode: 550 });
        callback(err);
      },
    }));
    const password = 'hunter2-top-secret';
    const server = track(await startServer(dialect, {
      env: { LATCHKEY_SMTP_URL: `smtp://relay:${password}@127.0.0.1:${refusing.port}` },
    }));
    const err = await server.lk.services.mailer.send(codeEmail('gone@example.com', '000111')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailDeliveryError);
    const e = err as MailDeliveryError;
    expect(e.message).toContain(`verification_code email to gone@example.com through the SMTP server at 127.0.0.1:${refusing.port} failed`);
    expect(e.message).toMatch(/550/);
    expect(e.message).toContain('Mailbox gone@example.com is unavailable');
    expect(e.responseCode).toBe(550);
    expect(e.code).toBe('EENVELOPE');
    expect(JSON.stringify({ ...e, message: e.message, stack: e.stack })).not.toContain(password);
    expect(refusing.received).toHaveLength(0);
    // A development instance still shows the code in its outbox.
    expect((await outbox(server)).data.map((x) => x.to_email_address)).toEqual(['gone@example.com']);
  });

  it('an unreachable SMTP server makes send() reject (connection error), without the password', async () => {
    const deadPort = await freePort();
    const server = track(await startServer(dialect, {
      env: { LATCHKEY_SMTP_URL: `smtp://relay:sekrit-pass-42@127.0.0.1:${deadPort}`, LATCHKEY_MAIL_FROM: 'a@b.test' },
    }));
    const err = await server.lk.services.mailer.send(codeEmail('x@example.com', '222333')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MailDeliveryError);
    expect((err as Error).message).toContain(`127.0.0.1:${deadPort} failed`);
    expect((err as Error).message).not.toContain('sekrit-pass-42');
  });

  it('defaults the From address to no-reply at the public URL host', async () => {
    const server = track(await startServer(dialect, { env: { LATCHKEY_SMTP_URL: smtp.url } }));
    await server.lk.services.mailer.send(codeEmail('ada@example.com', '777888'));
    expect(smtp.received).toHaveLength(1);
    expect(smtp.received[0]!.headers.get('from')).toBe('Latchkey <no-reply@127.0.0.1>');
    expect(smtp.received[0]!.mailFrom).toBe('no-reply@127.0.0.1');
  });
});
