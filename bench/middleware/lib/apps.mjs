// Forks the bench apps (app.mjs), one process per variant, and talks to them over IPC.
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ROOT } from '../../tokens/lib/server.mjs';

const APP = fileURLToPath(new URL('./app.mjs', import.meta.url));

/**
 * Starts `node app.mjs <variant>` with the key material in its environment (and no LATCHKEY_* or
 * CLERK_* variables of ours: each SDK gets exactly the options app.mjs passes). Clerk's telemetry is
 * off, so that @clerk/express sends nothing while it is measured. NODE_ENV=production for all three.
 * With `cpuProfDir`, the app runs under --cpu-prof and writes its profile there when stopped.
 */
export async function startApp(variant, { pem, secretKey, publishableKey, cpuProfDir, startupMs = 20_000 }) {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(LATCHKEY|CLERK)_/.test(k)));
  Object.assign(env, {
    NODE_ENV: 'production',
    CLERK_TELEMETRY_DISABLED: '1',
    BENCH_JWT_KEY: pem,
    BENCH_SECRET_KEY: secretKey,
    BENCH_PUBLISHABLE_KEY: publishableKey,
  });
  const child = fork(APP, [variant], {
    cwd: ROOT,
    env,
    execArgv: cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`, `--cpu-prof-name=${variant}.cpuprofile`] : [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  let exited = null;
  const exit = new Promise((resolve) => child.on('exit', (code, signal) => { exited = { code, signal }; resolve(exited); }));

  const port = await new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${variant} app did not listen in ${startupMs / 1000} s:\n${output}`)), startupMs);
    child.once('message', (m) => { clearTimeout(t); resolve(m.port); });
    exit.then((e) => { clearTimeout(t); reject(new Error(`${variant} app exited during start-up (${JSON.stringify(e)}):\n${output}`)); });
  });

  return {
    variant,
    pid: child.pid,
    base: `http://127.0.0.1:${port}`,
    output: () => output,
    /** How many fetches the app has made since it started. */
    stats() {
      return new Promise((resolve, reject) => {
        if (exited) return reject(new Error(`${variant} app has exited (${JSON.stringify(exited)}):\n${output}`));
        child.once('message', resolve);
        child.send('stats');
      });
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(t);
    },
  };
}
