// Runs the real `nas` binary (bin/nas.js) in a child process, the way a user
// does: its own working directory and environment, exit code and both streams.

import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const BIN = fileURLToPath(new URL('../../bin/nas.js', import.meta.url));

export interface CliRun {
  code: number | null;
  out: string;
  err: string;
}

export interface CliOptions {
  cwd?: string;
  /** replaces these variables (undefined removes one) on top of the parent's environment */
  env?: Record<string, string | undefined>;
  /** the script to run instead of bin/nas.js (e.g. a symlink to it, as `npm link` makes) */
  bin?: string;
}

/** Async so that several runs (and the test runner) are not blocked by one child. */
export function nas(args: string[], opts: CliOptions = {}): Promise<CliRun> {
  const env: Record<string, string | undefined> = { ...process.env, NAS_THREADS: '1', ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [opts.bin ?? BIN, ...args], { cwd: opts.cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    child.on('error', fail);
    child.on('close', (code) => ok({ code, out, err }));
  });
}

/** The `error: ...` / `internal error: ...` lines of a run's stderr (tfjs/TFLite banners left out). */
export function errorLines(err: string): string[] {
  return err.split('\n').filter((l) => /^(internal )?error:|^\s+at /.test(l));
}

/** Every file under dir, as paths relative to it (sorted). */
export function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
