import { describe, expect, it } from 'vitest';
import { allowedCpus, parseCpuList } from './cpus.js';

describe('CPU lists', () => {
  it('reads the kernel\'s list format: single CPUs and ranges, ascending, once each', () => {
    expect(parseCpuList('0')).toEqual([0]);
    expect(parseCpuList('0-3')).toEqual([0, 1, 2, 3]);
    expect(parseCpuList('8,0-1,10-11\n')).toEqual([0, 1, 8, 10, 11]);
    expect(parseCpuList('1,1-2')).toEqual([1, 2]);
  });

  it('refuses anything else rather than half-reading it', () => {
    for (const bad of ['', 'a', '3-1', '0-', '-1', '0,,1', '0-99999']) expect(() => parseCpuList(bad), bad).toThrow(/not a CPU list/);
  });

  it('takes the process\'s allowed CPUs from Cpus_allowed_list; [] when there is none or it cannot be read', () => {
    expect(allowedCpus(() => 'Name:\tnode\nCpus_allowed:\t0f\nCpus_allowed_list:\t0-2,5\nMems_allowed:\t1\n')).toEqual([0, 1, 2, 5]);
    expect(allowedCpus(() => 'Name:\tnode\n')).toEqual([]);
    expect(allowedCpus(() => 'Cpus_allowed_list:\tgarbage\n')).toEqual([]);
    expect(allowedCpus(() => { throw new Error('ENOENT'); })).toEqual([]);
  });
});
