// A throw-away redis-server for tests: its own child process on 127.0.0.1
// and a free port, no persistence (--save '' --appendonly no), killed by
// stop(). restart() kills it (SIGKILL, like a crash) and starts a new one on
// the same port: without persistence the new one starts empty.
//
// Without redis-server on the PATH, `redisSkipReason()` names what is
// missing so a suite can skip locally; under CI (CI=true) it throws instead,
// so a test that needs Redis fails rather than silently skipping.

import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** kill it (SIGKILL) and start an empty one on the same port */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const BINARY = process.env.REDIS_SERVER_BIN ?? 'redis-server';

export function redisServerAvailable(): boolean {
  const r = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  return r.status === 0 && /Redis server/.test(r.stdout);
}

/** undefined when redis-server can run; a reason to skip otherwise (throws under CI=true). */
export function redisSkipReason(): string | undefined {
  if (redisServerAvailable()) return undefined;
  const reason = `${BINARY} is not installed (apt-get install redis-server; scripts/apt-packages.txt lists it)`;
  if (process.env.CI === 'true') throw new Error(`CI=true and this test needs Redis: ${reason}`);
  return reason;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function launch(port: number): Promise<ChildProcess> {
  const child = spawn(BINARY, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`redis-server did not start on port ${port} within 20 s: ${out.slice(-500)}`));
    }, 20_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(timer);
        child.stdout!.removeListener('data', onData);
        child.stdout!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited (${signal ?? code}) while starting: ${out.slice(-500)}`));
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  let child = await launch(port);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async restart(downMs = 500) {
      await kill(child, 'SIGKILL');
      await new Promise((r) => setTimeout(r, downMs));
      child = await launch(port);
    },
    async stop() {
      await kill(child, 'SIGKILL');
    },
  };
}
