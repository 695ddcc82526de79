import pino, { type Logger } from 'pino';

/**
 * JSON logs on stdout. Credentials are redacted wherever they might appear, so a
 * secret key, password or token never reaches a log line.
 */
export function createLogger(level: pino.LevelWithSilent): Logger {
  return pino({
    level,
    base: { service: 'latchkey' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.secret', '*.secretKey', '*.jwt', '*.token'],
      censor: '[redacted]',
    },
  });
}
