// The Dockerfile cannot be built on the machines this project is developed
// on (no docker engine), so its drift from the repository is checked here:
// what it copies exists and is not excluded from the build context, it
// installs the Debian packages the native kernels need, and the optional
// tfjs-node flavours it chooses between are the ones package.json declares;
// its default command is the service (`nas serve`), run as a non-root user,
// with a HEALTHCHECK on the route the service answers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const dockerfile = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { optionalDependencies: Record<string, string>; bin: Record<string, string> };

function copies(): { from: boolean; sources: string[] }[] {
  return dockerfile.split('\n').filter((l) => /^COPY\s/.test(l)).map((l) => {
    const words = l.trim().split(/\s+/).slice(1);
    const from = words.some((w) => w.startsWith('--from='));
    const args = words.filter((w) => !w.startsWith('--'));
    return { from, sources: args.slice(0, -1) };
  });
}

describe('Dockerfile', () => {
  it('copies from the build context only paths that exist and that .dockerignore lets through', () => {
    const ctx = copies().filter((c) => !c.from).flatMap((c) => c.sources);
    assert.ok(ctx.length >= 5);
    for (const src of ctx) {
      assert.ok(existsSync(src), `COPY ${src}: no such path in the repository`);
      assert.ok(!ignored.some((p) => src === p || src.startsWith(`${p}/`)), `COPY ${src}: excluded by .dockerignore`);
    }
  });

  it('ships what the CLI needs at run time: its bin, sources, device profiles, latency tables, the profiling page, the native addon', () => {
    const all = copies().flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '')));
    for (const need of [pkg.bin.nas.split('/')[0], 'src', 'device-profiles', 'latency-tables', 'web', 'api', 'native/build', 'node_modules', 'package.json']) {
      assert.ok(all.includes(need), `the image does not copy ${need}`);
    }
  });

  it('installs the native kernels\' build and run-time packages and builds them strictly', () => {
    const apt = readFileSync('scripts/apt-packages.txt', 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const p of apt.filter((p) => p !== 'chromium' && p !== 'redis-server')) // test-only packages assert.match(dockerfile, new RegExp(`install[^\\n]*\\s${p.replace(/[+.]/g, '\\$&')}(\\s|$)`), `apt package ${p}`);
    assert.match(dockerfile, /node native\/build\.mjs --strict/);
    assert.match(dockerfile, /install[^\n]*\slibdnnl2\s/);
  });

  it('chooses between exactly the optional tfjs-node flavours package.json declares', () => {
    for (const name of Object.keys(pkg.optionalDependencies)) assert.ok(dockerfile.includes(`npm rebuild ${name}`), name);
  });

  it('runs the service by default: `serve --host 0.0.0.0 --data-dir /data`, a registered command with those options', async () => {
    const final = finalStage();
    const cmd = JSON.parse(/^CMD\s+(\[.*\])\s*$/m.exec(final)?.[1] ?? 'null') as string[] | null;
    assert.ok(cmd, 'the final stage has an exec-form CMD');
    assert.equal(cmd[0], 'serve');
    const arg = (flag: string) => cmd[cmd.indexOf(flag) + 1];
    assert.equal(arg('--host'), '0.0.0.0');
    assert.equal(arg('--data-dir'), '/data');
    assert.match(final, /^VOLUME\s+\["\/data"\]/m);
    assert.match(final, new RegExp(`^EXPOSE\\s+${arg('--port')}\\b`, 'm'), 'EXPOSE matches the --port of the default command');
    assert.deepEqual(JSON.parse(/^ENTRYPOINT\s+(\[.*\])/m.exec(final)?.[1] ?? '[]'), ['node', pkg.bin.nas]);
    const { buildProgram } = await import('../../src/cli/main.ts');
    const serve = buildProgram().commands.find((c) => c.name() === 'serve');
    assert.ok(serve, 'nas serve is registered');
    for (const flag of ['--host', '--port', '--data-dir']) assert.ok(serve.options.some((o) => o.long === flag), `nas serve has ${flag}`);
  });

  it('runs as a non-root user and checks its health on /healthz, a route the service answers without a key', () => {
    const final = finalStage();
    const users = [...final.matchAll(/^USER\s+(\S+)/gm)].map((m) => m[1]);
    assert.ok(users.length > 0, 'the final stage sets USER');
    assert.ok(!['root', '0', '0:0'].includes(users.at(-1)!), `USER ${users.at(-1)} is root`);
    assert.ok(final.indexOf(`USER ${users.at(-1)}`) < final.search(/^CMD\s/m), 'USER comes before CMD');
    const hc = /^HEALTHCHECK\s.*CMD\s+(.*)$/m.exec(final);
    assert.ok(hc, 'the final stage has a HEALTHCHECK');
    const port = /--port", "(\d+)"/.exec(final)?.[1];
    assert.ok(hc[1]!.includes(`127.0.0.1:${port}/healthz`), `HEALTHCHECK probes /healthz on the served port: ${hc[1]}`);
    assert.match(readFileSync('src/http/routes/health.ts', 'utf8'), /router\.get\('\/healthz'/);
  });
});

/** the Dockerfile's last stage (from its last FROM) */
function finalStage(): string {
  const froms = [...dockerfile.matchAll(/^FROM\s/gm)];
  return dockerfile.slice(froms.at(-1)!.index);
}
