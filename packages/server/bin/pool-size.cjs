'use strict';
// How many threads libuv's pool gets (see latchkey.cjs): one per core the process
// may use, at least 2 and at most 64.
const { readFileSync } = require('node:fs');
const { availableParallelism } = require('node:os');

/** A cgroup CPU quota in cores (a container limited to 2 CPUs on a 32-core host), or Infinity. */
function cpuQuota(read) {
  try {
    const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/); // cgroup v2: "<quota> <period>" or "max …"
    if (quota !== 'max' && Number(quota) > 0 && Number(period) > 0) return Math.ceil(Number(quota) / Number(period));
    return Infinity;
  } catch { /* not cgroup v2 */ }
  try {
    const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us')); // cgroup v1: -1 when unlimited
    const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us'));
    if (quota > 0 && period > 0) return Math.ceil(quota / period);
  } catch { /* no cgroup CPU controller */ }
  return Infinity;
}

function poolSize({ cores = availableParallelism(), read = (path) => readFileSync(path, 'utf8') } = {}) {
  return Math.min(Math.max(Math.min(cores, cpuQuota(read)), 2), 64);
}

module.exports = { poolSize };
