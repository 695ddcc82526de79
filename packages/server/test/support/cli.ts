import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { TestServer } from './server.js';

/** The repository root and the built CLI, run as a user would: `node packages/server/bin/latchkey.cjs …`. */
export const ROOT = resolve(import.meta.dirname, '../../../..');
export const CLI = join(ROOT, 'packages/server/bin/latchkey.cjs');
/** What `npm run build` makes and the CLI loads. */
const BUILT = join(ROOT, 'packages/server/dist/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** The parent's environment without any Latchkey/Clerk settings, so only what a test passes counts. */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(LATCHKEY_|CLERK_)/.test(k) || ['PORT', 'HOST', 'NODE_ENV'].includes(k)) continue;
    out[k] = v;
  }
  return out;
}

/** The env of a process that shares `server`'s storage and issuer. */
export function serverEnv(server: TestServer, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PORT: new URL(server.url).port,
    LATCHKEY_PUBLIC_URL: server.url,
    LATCHKEY_DATA_DIR: server.dataDir,
    LATCHKEY_LOG_LEVEL: 'silent',
    ...(server.databaseUrl ? { LATCHKEY_DATABASE_URL: server.databaseUrl } : {}),
    ...extra,
  };
}

export function assertBuilt(): void {
  if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first.`);
}

/** Runs the built CLI to completion with a clean environment plus `env`. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 30_000): Promise<CliResult> {
  assertBuilt();
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: { ...cleanEnv(), ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface CliServer {
  pid: number;
  url: string;
  stop(): Promise<void>;
}

/**
 * `latchkey start` as a child process with a clean environment plus `env`, run
 * through `prefix` when given (e.g. `taskset -c 0`); resolves once /health answers.
 */
export async function startCliServer(env: Record<string, string>, prefix: string[] = []): Promise<CliServer> {
  assertBuilt();
  const url = `http://127.0.0.1:${env.PORT}`;
  const [command, ...args] = [...prefix, process.execPath, CLI, 'start'] as [string, ...string[]];
  const child = spawn(command, args, {
    cwd: ROOT, env: { HOST: '127.0.0.1', LATCHKEY_LOG_LEVEL: 'silent', ...cleanEnv(), ...env }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`latchkey start exited (${child.exitCode ?? child.signalCode}):\n${stderr}`);
    }
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return { pid: child.pid!, url, stop };
}
