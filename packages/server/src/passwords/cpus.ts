import { readFileSync } from 'node:fs';

/**
 * Parses a Linux CPU list ("0-3,8,10-11") into CPU numbers, ascending; throws
 * on anything else, so a format the kernel never writes is not half-read.
 */
export function parseCpuList(list: string): number[] {
  const cpus = new Set<number>();
  for (const part of list.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to - from > 4096) throw new Error(`not a CPU list: ${JSON.stringify(list)}`);
    for (let cpu = from; cpu <= to; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/**
 * The CPUs this process may run on (its affinity: `taskset`, a container's
 * cpuset), from `Cpus_allowed_list` in /proc/self/status; [] where that cannot
 * be read (not Linux).
 */
export function allowedCpus(readStatus = () => readFileSync('/proc/self/status', 'utf8')): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(\S+)\s*$/m.exec(readStatus());
    return line ? parseCpuList(line[1]!) : [];
  } catch {
    return [];
  }
}
