import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { findSecretKey, keysFileNotice, writeKeysFile } from './keys-file.js';

describe('keys files', () => {
  const dirs: string[] = [];
  const dataDir = () => {
    const d = mkdtempSync(join(tmpdir(), 'latchkey-keysfile-unit-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('the first instance gets keys.env; later ones their own file, and keys.env is never replaced', () => {
    const dir = join(dataDir(), 'created'); // made on the way
    const first = writeKeysFile(dir, 'ins_a', 'pk_test_a', 'sk_test_a');
    expect(first).toBe(join(dir, 'keys.env'));
    expect(keysFileNotice(dir, first)).toBeUndefined();
    const second = writeKeysFile(dir, 'ins_b', 'pk_test_b', 'sk_test_b');
    expect(second).toBe(join(dir, 'keys.ins_b.env'));
    expect(readFileSync(first, 'utf8')).toBe('LATCHKEY_PUBLISHABLE_KEY=pk_test_a\nLATCHKEY_SECRET_KEY=sk_test_a\n');
    expect(readFileSync(second, 'utf8')).toBe('LATCHKEY_PUBLISHABLE_KEY=pk_test_b\nLATCHKEY_SECRET_KEY=sk_test_b\n');
    for (const f of [first, second]) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(keysFileNotice(dir, second)).toBe(`NOTE: ${first} holds another instance's keys and was left as it is;\n`
      + `      this instance's keys are in ${second} (mode 600).`);
    // An instance's own file is not replaced either.
    expect(() => writeKeysFile(dir, 'ins_b', 'pk_test_c', 'sk_test_c')).toThrow(/keys\.ins_b\.env exists already/);
    expect(readFileSync(second, 'utf8')).toContain('sk_test_b');
  });

  it('findSecretKey gives only a key the instance accepts: its own file first, then keys.env', () => {
    const dir = dataDir();
    const accepts = (keys: string[]) => (k: string) => keys.includes(k);
    expect(findSecretKey(dir, 'ins_a', accepts(['sk_test_a']))).toEqual({ found: false, others: [] });

    writeFileSync(join(dir, 'keys.env'), 'LATCHKEY_PUBLISHABLE_KEY=pk\nLATCHKEY_SECRET_KEY=sk_test_a\r\n');
    expect(findSecretKey(dir, 'ins_a', accepts(['sk_test_a']))).toEqual({ found: true, file: join(dir, 'keys.env'), secretKey: 'sk_test_a' });
    // Another instance's (or a revoked) key is not given out.
    expect(findSecretKey(dir, 'ins_b', accepts(['sk_test_b']))).toEqual({ found: false, others: [join(dir, 'keys.env')] });

    writeFileSync(join(dir, 'keys.ins_b.env'), 'LATCHKEY_SECRET_KEY=sk_test_b\n');
    expect(findSecretKey(dir, 'ins_b', accepts(['sk_test_b']))).toEqual({ found: true, file: join(dir, 'keys.ins_b.env'), secretKey: 'sk_test_b' });
    expect(findSecretKey(dir, 'ins_a', accepts(['sk_test_a']))).toMatchObject({ found: true, secretKey: 'sk_test_a' });
    // A file without a secret key line counts as another's.
    writeFileSync(join(dir, 'keys.ins_c.env'), '# nothing here\n');
    expect(findSecretKey(dir, 'ins_c', accepts(['sk_test_c']))).toEqual({ found: false, others: [join(dir, 'keys.ins_c.env'), join(dir, 'keys.env')] });
  });
});
