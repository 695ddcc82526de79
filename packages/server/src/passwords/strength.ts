/**
 * Password strength, checked when a password is set (sign-up, password change).
 *
 *   checkPasswordStrength(password, [email, firstName, lastName, username]);   // throws or returns
 *   checkPasswordStrength(password, userInputs, 2);                            // a laxer minimum score
 *   preparePasswordStrength();   // optional: pay the one-time setup at start-up, not on the first request
 *
 * It applies the length rules first (checkPasswordRules: 8 to 256 characters), then
 * scores the password with zxcvbn-ts (common + English dictionaries and keyboard
 * graphs, as shipped) and refuses scores below `minScore` (0 to 4, default 3) with
 * invalidParam('password', <plain-English reason>, 'form_password_not_strong_enough'):
 * a 422 whose meta.param_name is 'password'. The user's own details (email, names,
 * username) count against the password, so 'jane.doe123' is weak for jane.doe@….
 *
 * Cost, measured on this (busy) 2-core machine, Node 20, warm, medians of 11 calls:
 * - a random 20-character password: ~13 ms (12-21 ms across runs); 'password123': ~5 ms;
 *   'correct horse battery staple violin': ~8 ms;
 * - 100 to 256 characters: ~105-160 ms (worst seen ~250 ms), the same for 256 as for
 *   100 because only MAX_SCORED characters are scored. With zxcvbn-ts' defaults (all
 *   256 characters, 100 l33t variants) 256 random characters take ~2 s.
 * - once: ~230-390 ms to load and index the dictionaries, on the first call or in
 *   preparePasswordStrength(). They are loaded lazily so that merely importing this
 *   module (the CLI, tests) costs nothing.
 */
import { createRequire } from 'node:module';
import type * as ZxcvbnCore from '@zxcvbn-ts/core';
import type * as ZxcvbnCommon from '@zxcvbn-ts/language-common';
import type * as ZxcvbnEn from '@zxcvbn-ts/language-en';
import { invalidParam } from '../errors/latchkey-error.js';
import { checkPasswordRules } from './passwords.js';

export const DEFAULT_MIN_PASSWORD_SCORE = 3;

/**
 * Only the first 100 characters are scored: zxcvbn's matching grows faster than
 * linearly with length (100 random characters: ~650-800 ms with its defaults, 256:
 * ~2 s), and a password whose first 100 characters are strong is strong.
 */
export const MAX_SCORED = 100;

/**
 * zxcvbn-ts matches up to this many l33t-unscrambled variants of the whole
 * password against every dictionary (its default is 100): that is most of the cost
 * of anything over ~20 characters (100 random characters: ~650-800 ms at 100,
 * ~100-190 ms at 16, ~55-70 ms at 8; 24 characters: ~95 ms at 100, ~30 ms at 16).
 * The price: of 800 l33t-spelt common passwords and words ('M477hew!1',
 * '$h@nn0n!1', …) 798 score below 3 at 100, 787 at 16, 756 at 8.
 */
const L33T_MAX_SUBSTITUTIONS = 16;

let zxcvbn: ZxcvbnCore.ZxcvbnFactory | undefined;

/** Loads and indexes the dictionaries once; later calls do nothing. */
export function preparePasswordStrength(): void {
  zxcvbn ??= createZxcvbn();
}

function createZxcvbn(): ZxcvbnCore.ZxcvbnFactory {
  // The three packages are CommonJS: require() keeps this synchronous and lazy.
  const require = createRequire(import.meta.url);
  const { ZxcvbnFactory } = require('@zxcvbn-ts/core') as typeof ZxcvbnCore;
  const common = require('@zxcvbn-ts/language-common') as typeof ZxcvbnCommon;
  const en = require('@zxcvbn-ts/language-en') as typeof ZxcvbnEn;
  return new ZxcvbnFactory({
    dictionary: { ...common.dictionary, ...en.dictionary },
    graphs: common.adjacencyGraphs,
    translations: {
      ...en.translations,
      // The shipped wording ("personal or page related data") is vague.
      warnings: { ...en.translations.warnings, userInputs: 'It contains your name, email address or username.' },
    },
    maxLength: MAX_SCORED,
    l33tMaxSubstitutions: L33T_MAX_SUBSTITUTIONS,
  });
}

/**
 * Throws a 422 LatchkeyError (param 'password') if the password breaks the length
 * rules or zxcvbn scores it below `minScore`. `userInputs`: the user's email
 * address, names and username, whichever are known (empty values are ignored).
 */
export function checkPasswordStrength(password: string, userInputs: string[] = [], minScore = DEFAULT_MIN_PASSWORD_SCORE): void {
  checkPasswordRules(password);
  if (!Number.isInteger(minScore) || minScore < 0 || minScore > 4) throw new RangeError('minScore must be an integer from 0 to 4');
  preparePasswordStrength();
  const result = zxcvbn!.check(password.slice(0, MAX_SCORED), personalWords(userInputs));
  if (result.score >= minScore) return;
  const { warning, suggestions } = result.feedback;
  const advice = suggestions.length ? suggestions : ['Use a longer password; several unrelated words work well.'];
  throw invalidParam('password', ['This password is too easy to guess.', warning, ...advice].filter(Boolean).join(' '), 'form_password_not_strong_enough');
}

/**
 * The words of the user's details, as zxcvbn should know them: each value, and
 * for emails the local part and domain name, split at punctuation and also joined
 * ('jane.doe@acme.io' gives jane.doe@acme.io, jane.doe, janedoe, jane, doe, acme).
 */
function personalWords(inputs: string[]): string[] {
  const words = new Set<string>();
  for (const raw of inputs) {
    const value = raw.trim().toLowerCase();
    if (!value) continue;
    words.add(value);
    const at = value.lastIndexOf('@');
    const parts = at > 0 ? [value.slice(0, at), value.slice(at + 1).split('.')[0] ?? ''] : [value];
    for (const part of parts) {
      const pieces = part.split(/[^\p{L}\p{N}]+/u);
      for (const w of [part, pieces.join(''), ...pieces]) if (w.length >= 3) words.add(w);
    }
  }
  return [...words];
}
