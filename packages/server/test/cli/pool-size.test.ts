import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const { poolSize } = createRequire(import.meta.url)('../../bin/pool-size.cjs') as {
  poolSize(opts: { cores: number; read: (path: string) => string }): number;
};

/** A file system with only `files`: other paths are missing, as outside a container. */
const only = (files: Record<string, string>) => (path: string) => {
  if (path in files) return files[path]!;
  throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
};

describe('the pool size of `latchkey` (bin/pool-size.cjs)', () => {
  it('is one thread per core, at least 2 and at most 64', () => {
    expect(poolSize({ cores: 1, read: only({}) })).toBe(2);
    expect(poolSize({ cores: 2, read: only({}) })).toBe(2);
    expect(poolSize({ cores: 16, read: only({}) })).toBe(16);
    expect(poolSize({ cores: 128, read: only({}) })).toBe(64);
  });

  it('counts a cgroup v2 CPU quota (rounded up), and none when it is "max"', () => {
    expect(poolSize({ cores: 32, read: only({ '/sys/fs/cgroup/cpu.max': '300000 100000\n' }) })).toBe(3);
    expect(poolSize({ cores: 32, read: only({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' }) })).toBe(2);
    expect(poolSize({ cores: 32, read: only({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' }) })).toBe(2);
    expect(poolSize({ cores: 8, read: only({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' }) })).toBe(8);
    expect(poolSize({ cores: 4, read: only({ '/sys/fs/cgroup/cpu.max': '800000 100000\n' }) })).toBe(4);
  });

  it('counts a cgroup v1 quota, and none when it is -1', () => {
    const v1 = (quota: string) => only({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': quota, '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' });
    expect(poolSize({ cores: 32, read: v1('400000\n') })).toBe(4);
    expect(poolSize({ cores: 32, read: v1('-1\n') })).toBe(32);
  });

  it('ignores what it cannot read as numbers', () => {
    expect(poolSize({ cores: 6, read: only({ '/sys/fs/cgroup/cpu.max': 'garbage\n' }) })).toBe(6);
  });
});
