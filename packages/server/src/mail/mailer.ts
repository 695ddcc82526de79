import type { Logger } from 'pino';
import type { Clock } from '../clock/clock.js';
import type { Config } from '../config/config.js';
import { LatchkeyError } from '../errors/latchkey-error.js';
import type { Db } from '../storage/database.js';
import { DevOutbox } from './dev-outbox.js';
import { defaultMailFrom, SmtpMailer } from './smtp-mailer.js';

/** An email to one end user: a verification code, a password reset code, … */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html?: string;
  /** What the email is for, e.g. 'verification_code' or 'reset_password_code'. */
  kind: string;
}

/** Sends end-user email. Resolves once the message is handed on; rejects when it could not be. */
export interface Mailer {
  /** `acting`: the handle of the request that sends it, whose origin a recorded event carries (events/origin.ts). */
  send(message: MailMessage, acting?: Db): Promise<void>;
}

/**
 * Sends through every mailer in turn, stopping at the first failure: the
 * development outbox first (so a developer sees the code even when their SMTP
 * server refuses it), then SMTP.
 */
export function sendThroughAll(mailers: Mailer[]): Mailer {
  return {
    async send(message, acting) {
      for (const m of mailers) await m.send(message, acting);
    },
  };
}

/** A production instance without LATCHKEY_SMTP_URL: every send fails, saying why. */
export const unconfiguredMailer: Mailer = {
  async send() {
    throw new LatchkeyError('unprocessable', 'email_delivery_not_configured', 'email delivery is not configured',
      'This instance cannot send email: set LATCHKEY_SMTP_URL (smtp:// or smtps://) on the server.');
  },
};

/**
 * The instance's mailer. Development instances: always the development outbox,
 * and SMTP too when LATCHKEY_SMTP_URL is set. Production instances: SMTP only;
 * without LATCHKEY_SMTP_URL every send fails (and this warns once, at start).
 */
export function createMailer(d: {
  environment: 'development' | 'production';
  config: Config;
  db: Db;
  clock: Clock;
  logger: Logger;
}): { mailer: Mailer; close(): void } {
  const { config, logger } = d;
  const smtp = config.smtpUrl
    ? new SmtpMailer({ url: config.smtpUrl, from: config.mailFrom ?? defaultMailFrom(config.publicUrl), logger })
    : undefined;
  const close = () => smtp?.close();
  if (d.environment === 'development') {
    const outbox = new DevOutbox(d.db, d.clock, logger);
    return { mailer: smtp ? sendThroughAll([outbox, smtp]) : outbox, close };
  }
  if (!smtp) {
    logger.warn('LATCHKEY_SMTP_URL is not set: this production instance cannot send email (verification and password reset codes)');
    return { mailer: unconfiguredMailer, close };
  }
  return { mailer: smtp, close };
}
