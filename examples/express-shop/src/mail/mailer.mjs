// @ts-check
import nodemailer from 'nodemailer';

/**
 * @typedef {object} MailMessage
 * @property {string} to
 * @property {string} subject
 * @property {string} text
 * @property {string} [html]
 */

/**
 * @typedef {object} Mailer
 * @property {(message: MailMessage) => Promise<void>} send  rejects when the message was not accepted
 * @property {() => void} close
 */

/**
 * Sends through SMTP_URL (smtp://user:pass@host:587, STARTTLS when offered, or
 * smtps://host:465). One connection per message: the shop sends a handful of
 * emails, not a stream, and a broken pooled connection would fail the next one.
 * @param {{ url: string, from: string }} opts
 * @returns {Mailer}
 */
export function createSmtpMailer(opts) {
  const transport = nodemailer.createTransport(
    // A worker waits for the answer: fail in seconds and retry later, rather than hang.
    { url: opts.url, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 },
    { from: opts.from },
  );
  return {
    async send(message) {
      await transport.sendMail({ to: message.to, subject: message.subject, text: message.text, ...(message.html ? { html: message.html } : {}) });
    },
    close: () => transport.close(),
  };
}

/**
 * Without SMTP_URL (trying the shop out locally): the email is written to the
 * log, so the welcome flow still runs end to end.
 * @param {(line: string) => void} log
 * @returns {Mailer}
 */
export function createLogMailer(log) {
  return {
    async send(message) {
      log(`[mail] to=${message.to} subject=${JSON.stringify(message.subject)}\n${message.text}`);
    },
    close() {},
  };
}
