import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { build } from 'esbuild';
import { Webhook } from 'svix';
import { describe, expect, it } from 'vitest';
import { LatchkeyWebhookError, verifyWebhookSignature, type LatchkeyWebhookErrorReason } from '../src/index.js';

/**
 * The WebCrypto verifier against the svix package: on payloads svix signs,
 * both accept or both refuse; and the verifier needs nothing but web APIs.
 */

const SECRET = `whsec_${Buffer.alloc(24, 42).toString('base64')}`;
const OTHER = `whsec_${Buffer.alloc(24, 43).toString('base64')}`;
const NOW = 1_750_000_000_000;
const now = () => NOW;

const payload = JSON.stringify({
  type: 'user.updated', object: 'event', timestamp: NOW,
  data: { id: 'user_1', first_name: 'Zoë', last_name: '李', updated_at: NOW, public_metadata: { note: 'naïve café ☕' } },
});

/** Headers as svix signs them (at `at` ms), with our own override. */
function signed(body = payload, opts: { secret?: string; at?: number; id?: string } = {}): Record<string, string> {
  const at = opts.at ?? NOW;
  const id = opts.id ?? 'msg_2xyz';
  return {
    'svix-id': id,
    'svix-timestamp': String(Math.floor(at / 1000)),
    'svix-signature': new Webhook(opts.secret ?? SECRET).sign(id, new Date(at), body),
  };
}

/** What svix says of a delivery: the event, or that it threw. */
function svixVerdict(body: string, headers: Record<string, string>, secret = SECRET): 'accepted' | 'refused' {
  // svix reads the clock itself; its tolerance is ±5 min of Date.now(), so sign relative to real time for it.
  try {
    new Webhook(secret).verify(body, headers);
    return 'accepted';
  } catch {
    return 'refused';
  }
}

async function reason(call: Promise<unknown>): Promise<LatchkeyWebhookErrorReason> {
  const err = await call.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(LatchkeyWebhookError);
  return (err as LatchkeyWebhookError).reason;
}

describe('verifyWebhookSignature agrees with svix', () => {
  it('accepts what svix signs, returning the parsed event (non-ASCII body included)', async () => {
    const headers = signed();
    expect(await verifyWebhookSignature(SECRET, payload, new Headers(headers), { now })).toEqual(JSON.parse(payload));
    // A plain record works too, any capitalisation.
    const upper = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toUpperCase(), v]));
    expect(await verifyWebhookSignature(SECRET, payload, upper, { now })).toEqual(JSON.parse(payload));
  });

  it('on deliveries signed now, both give the same verdict: good, tampered, other secret, rotated, unknown version', async () => {
    const at = Date.now();
    const good = signed(payload, { at });
    const rotated = { ...good, 'svix-signature': `${signed(payload, { at, secret: OTHER })['svix-signature']} ${good['svix-signature']}` };
    const cases: Array<[string, string, Record<string, string>, 'accepted' | 'refused']> = [
      ['good', payload, good, 'accepted'],
      ['rotation: two signatures, one ours', payload, rotated, 'accepted'],
      ['body changed', payload.replace('Zoë', 'Zoe'), good, 'refused'],
      ['signed with another secret', payload, signed(payload, { at, secret: OTHER }), 'refused'],
      ['id changed', payload, { ...good, 'svix-id': 'msg_other' }, 'refused'],
      ['timestamp changed by a second', payload, { ...good, 'svix-timestamp': String(Math.floor(at / 1000) + 1) }, 'refused'],
      ['v1a (asymmetric) entry only', payload, { ...good, 'svix-signature': good['svix-signature']!.replace(/^v1,/, 'v1a,') }, 'refused'],
      ['garbage signature', payload, { ...good, 'svix-signature': 'v1,not*base64' }, 'refused'],
    ];
    for (const [name, body, headers, expected] of cases) {
      expect(svixVerdict(body, headers), `svix: ${name}`).toBe(expected);
      const ours = await verifyWebhookSignature(SECRET, body, new Headers(headers)).then(() => 'accepted', () => 'refused');
      expect(ours, `ours: ${name}`).toBe(expected);
    }
  });

  it('refuses a timestamp more than 5 minutes away, either side, as svix does (reason invalid_signature)', async () => {
    const headers = signed();
    const at = (ms: number) => ({ now: () => NOW + ms });
    await expect(verifyWebhookSignature(SECRET, payload, new Headers(headers), at(300_000))).resolves.toBeDefined();
    await expect(verifyWebhookSignature(SECRET, payload, new Headers(headers), at(-300_000))).resolves.toBeDefined();
    expect(await reason(verifyWebhookSignature(SECRET, payload, new Headers(headers), at(301_000)))).toBe('invalid_signature');
    expect(await reason(verifyWebhookSignature(SECRET, payload, new Headers(headers), at(-301_000)))).toBe('invalid_signature');
    // The tolerance can be narrowed.
    await expect(verifyWebhookSignature(SECRET, payload, new Headers(headers), { ...at(10_000), toleranceInSeconds: 10 })).resolves.toBeDefined();
    expect(await reason(verifyWebhookSignature(SECRET, payload, new Headers(headers), { ...at(11_000), toleranceInSeconds: 10 }))).toBe('invalid_signature');
    expect(svixVerdict(payload, signed(payload, { at: Date.now() - 301_000 }))).toBe('refused');
  });

  it('reads Standard Webhooks headers (webhook-*) when svix-* are absent', async () => {
    const h = signed();
    const standard = { 'webhook-id': h['svix-id']!, 'webhook-timestamp': h['svix-timestamp']!, 'webhook-signature': h['svix-signature']! };
    expect(await verifyWebhookSignature(SECRET, payload, new Headers(standard), { now })).toMatchObject({ type: 'user.updated' });
  });

  it('takes the secret with or without its whsec_ prefix', async () => {
    expect(await verifyWebhookSignature(SECRET.slice('whsec_'.length), payload, new Headers(signed()), { now })).toMatchObject({ type: 'user.updated' });
  });

  it('reasons: missing_secret, missing_headers, invalid_signature (also for a signed body that is not JSON)', async () => {
    const headers = signed();
    expect(await reason(verifyWebhookSignature(undefined, payload, new Headers(headers), { now }))).toBe('missing_secret');
    expect(await reason(verifyWebhookSignature('', payload, new Headers(headers), { now }))).toBe('missing_secret');
    expect(await reason(verifyWebhookSignature('whsec_***', payload, new Headers(headers), { now }))).toBe('missing_secret');
    for (const name of Object.keys(headers)) {
      const { [name]: _gone, ...rest } = headers;
      expect(await reason(verifyWebhookSignature(SECRET, payload, new Headers(rest), { now })), name).toBe('missing_headers');
    }
    const text = 'not json';
    expect(await reason(verifyWebhookSignature(SECRET, text, new Headers(signed(text)), { now }))).toBe('invalid_signature');
  });
});

describe('the package runs on web APIs only, as Convex functions must', () => {
  const srcDir = join(import.meta.dirname, '..', 'src');
  const runtimeFiles = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? (e.name === 'testing' ? [] : runtimeFiles(join(dir, e.name))) : [join(dir, e.name)]);

  /** The code of a file with its comments removed and its strings emptied (import specifiers are checked separately). */
  function code(text: string): string {
    let out = '';
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (c === '/' && text[i + 1] === '/') i = text.indexOf('\n', i) < 0 ? text.length : text.indexOf('\n', i) - 1;
      else if (c === '/' && text[i + 1] === '*') i = text.indexOf('*/', i + 2) + 1;
      else if (c === "'" || c === '"' || c === '`') {
        let j = i + 1;
        while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
        out += `${c}${c}`;
        i = j;
      } else out += c;
    }
    return out;
  }

  it('no source file outside testing/ imports a Node built-in or uses Buffer, require or process directly', () => {
    const files = runtimeFiles(srcDir);
    expect(files.length).toBeGreaterThan(10);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(text, file).not.toMatch(/from ['"](node:|crypto['"]|buffer['"])/);
      expect(code(text), file).not.toMatch(/\bBuffer\b|\brequire\(|(?<![.\w])process\./);
    }
    // The check can fail: it sees a Buffer in code, not in a comment or a string.
    expect(code("const a = 'Buffer'; // Buffer\n")).not.toMatch(/\bBuffer\b/);
    expect(code("const b = Buffer.from('x');")).toMatch(/\bBuffer\b/);
  });

  it('bundles for the browser platform (how Convex bundles non-Node functions) with nothing left to resolve but convex', async () => {
    const result = await build({
      entryPoints: [join(srcDir, 'index.ts')], bundle: true, platform: 'browser', format: 'esm', write: false,
      external: ['convex', 'convex/*'], logLevel: 'silent',
    });
    expect(result.errors).toEqual([]);
    const code = result.outputFiles[0]!.text;
    expect(code).not.toMatch(/from ["']node:/);
    expect(code).toContain('crypto.subtle');
  });

  it('verifies a svix-signed delivery in a bare V8 context holding only web globals', async () => {
    const bundle = await build({
      entryPoints: [join(srcDir, 'webhooks', 'verify.ts')], bundle: true, platform: 'browser', format: 'iife', globalName: 'latchkey', write: false,
    });
    const context = createContext({ crypto: globalThis.crypto, TextEncoder, atob, btoa, Headers, JSON, Date: { now } });
    runInContext(bundle.outputFiles[0]!.text, context);
    expect(runInContext('typeof process + typeof Buffer + typeof require', context)).toBe('undefinedundefinedundefined');
    context.args = { secret: SECRET, payload, headers: signed() };
    const event = await runInContext('latchkey.verifyWebhookSignature(args.secret, args.payload, new Headers(args.headers))', context);
    expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse(payload));
    context.tampered = payload.replace('user_1', 'user_2');
    const refused = await runInContext('latchkey.verifyWebhookSignature(args.secret, tampered, new Headers(args.headers)).catch((e) => e.reason)', context);
    expect(refused).toBe('invalid_signature');
  });
});
