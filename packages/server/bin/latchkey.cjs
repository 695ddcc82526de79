#!/usr/bin/env node
'use strict';
// The `latchkey` command. It sizes libuv's thread pool, then loads the CLI.
//
// Token signatures run on that pool (crypto.sign with a callback). Node reads
// UV_THREADPOOL_SIZE once, when the pool is first used. An ES module entry is
// too late for that, because loading it already uses the pool, so the command
// starts in this CommonJS file. The default of 4 threads is wrong in both
// directions: on 2 cores, 4 signing threads starve the event loop that feeds
// them (measured: about 12% fewer tokens per second than with 2), and on 16
// cores 4 threads leave 12 idle. So the pool gets one thread per core the
// process may use (its cgroup quota counts), at least 2 and at most 64
// (pool-size.cjs). A value the operator set is kept.
// On Windows libuv does not see a value set from inside the process: set it in
// the environment there.
if (!process.env.UV_THREADPOOL_SIZE) process.env.UV_THREADPOOL_SIZE = String(require('./pool-size.cjs').poolSize());
import('../dist/cli/main.js').catch((err) => {
  process.stderr.write(`latchkey: ${err && err.stack ? err.stack : String(err)}\n`);
  process.exit(1);
});
