import { spawn } from 'node:child_process';

/**
 * An app from test/fixtures run in its own process with the given environment
 * only (no CLERK_ / LATCHKEY_ variables leak in from the test run), as a real
 * app configured by env vars would be.
 */
export interface App {
  url: string;
  /** What the app printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

export async function startApp(fixture: string, env: Record<string, string>): Promise<App> {
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('CLERK_') && !k.startsWith('LATCHKEY_') && k !== 'PORT') base[k] = v;
  }
  const child = spawn(process.execPath, [fixture], {
    env: { ...base, PORT: '0', CLERK_TELEMETRY_DISABLED: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the Express app exited (${code}) before listening:\n${out}`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
