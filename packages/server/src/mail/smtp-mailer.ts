import nodemailer from 'nodemailer';
import type { Logger } from 'pino';
import type { MailMessage, Mailer } from './mailer.js';

export interface SmtpMailerOptions {
  /** LATCHKEY_SMTP_URL: smtp://user:pass@host:587 (STARTTLS when offered) or smtps://…:465 (TLS). */
  url: string;
  /** The From header, e.g. `Latchkey <no-reply@auth.example.com>`. */
  from: string;
  logger: Logger;
}

/** The From address when LATCHKEY_MAIL_FROM is unset: no-reply at the public URL's host. */
export function defaultMailFrom(publicUrl: string): string {
  return `Latchkey <no-reply@${new URL(publicUrl).hostname}>`;
}

/** Sending failed: the SMTP server refused the message or could not be reached. */
export class MailDeliveryError extends Error {
  constructor(
    message: string,
    /** nodemailer's code: EAUTH, EENVELOPE, ECONNECTION, ETIMEDOUT, … */
    public readonly code: string | undefined,
    /** The SMTP reply code, when the server answered (e.g. 550). */
    public readonly responseCode: number | undefined,
  ) {
    super(message);
    this.name = 'MailDeliveryError';
  }
}

/**
 * Sends through an SMTP server (nodemailer, one connection per message). Query
 * parameters of the URL are nodemailer options (`?ignoreTLS=true`,
 * `?tls.rejectUnauthorized=false`, `?connectionTimeout=5000`), except `logger`
 * and `debug`: nodemailer's own logging would print message bodies, codes
 * included. Logs only the kind, recipient and message id.
 */
export class SmtpMailer implements Mailer {
  private readonly transport: ReturnType<typeof nodemailer.createTransport>;
  private readonly where: string;
  private readonly secrets: string[];

  constructor(private readonly opts: SmtpMailerOptions) {
    const url = new URL(opts.url);
    url.searchParams.delete('logger');
    url.searchParams.delete('debug');
    this.where = `${url.hostname}:${url.port || (url.protocol === 'smtps:' ? 465 : 587)}`;
    this.secrets = [url.password, safeDecode(url.password)].filter((s) => s.length >= 3);
    // An auth server answers while the user waits: fail in seconds, not minutes
    // (the URL's own ?connectionTimeout=… wins over these).
    this.transport = nodemailer.createTransport(
      { url: url.href, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
      { from: opts.from },
    );
  }

  async send(message: MailMessage): Promise<void> {
    let messageId: string | undefined;
    try {
      const info = await this.transport.sendMail({
        // As an address, never parsed as an address list: the string is the one mailbox it names.
        to: { name: '', address: message.to },
        subject: message.subject,
        text: message.text,
        ...(message.html !== undefined ? { html: message.html } : {}),
      });
      messageId = info.messageId;
    } catch (err) {
      const e = err as { message?: string; code?: string; responseCode?: number };
      const reason = this.scrub(e.message ?? String(err));
      throw new MailDeliveryError(
        `Sending the ${message.kind} email to ${message.to} through the SMTP server at ${this.where} failed: ${reason}`,
        e.code, e.responseCode);
    }
    this.opts.logger.info({ kind: message.kind, to: message.to, message_id: messageId }, 'email sent (SMTP)');
  }

  close(): void {
    this.transport.close();
  }

  /** Keeps the SMTP password out of an error message, should a server ever echo it. */
  private scrub(text: string): string {
    return this.secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
