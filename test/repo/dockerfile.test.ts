// The Dockerfile cannot be built on the machines this project is developed
// on (no docker engine), so its drift from the repository is checked here:
// what it copies exists and is not excluded from the build context, it
// installs the Debian packages the native kernels need, it compiles the
// sources in its build stage and ships the JavaScript (dist/), not the
// TypeScript, the way scripts/check-prod-install.sh (run by CI) installs and
// starts it, and the optional tfjs-node flavours it chooses between are the
// ones package.json declares; its default command is the service (`nas
// serve`), run as a non-root user, with a HEALTHCHECK on the route the
// service answers.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

const dockerfile = readFileSync('Dockerfile', 'utf8').replace(/\\\n/g, ' ');
const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { optionalDependencies: Record<string, string>; bin: Record<string, string>; scripts: Record<string, string> };
/** the Debian packages the native kernels need (scripts/apt-packages.txt less the test-only ones) */
const nativeAptPackages = readFileSync('scripts/apt-packages.txt', 'utf8').split('\n').map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#') && l !== 'chromium' && l !== 'redis-server');

/** Throws, naming the package, unless the Dockerfile text apt-installs every one of `packages`. */
export function assertAptInstalls(text: string, packages: readonly string[]): void {
  const installs = text.replace(/\\\n/g, ' ').split('\n').filter((l) => !l.trimStart().startsWith('#') && /apt-get\s.*\binstall\b/.test(l));
  for (const p of packages) {
    const word = new RegExp(`\\s${p.replace(/[+.]/g, '\\$&')}(\\s|$)`);
    assert.ok(installs.some((l) => word.test(l)), `the Dockerfile does not apt-get install ${p}`);
  }
}

/** COPY instructions of `text` (default: the whole Dockerfile) */
function copies(text = dockerfile): { from: boolean; sources: string[] }[] {
  return text.split('\n').filter((l) => /^COPY\s/.test(l)).map((l) => {
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

  it('ships what the CLI needs at run time: its bin, the compiled code, device profiles, latency tables, the profiling page, the native addon', () => {
    const all = finalCopies().flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '')));
    for (const need of [pkg.bin.nas.split('/')[0], 'dist', 'device-profiles', 'latency-tables', 'web', 'api', 'native/build', 'node_modules', 'package.json']) {
      assert.ok(all.includes(need), `the image does not copy ${need}`);
    }
  });

  it('compiles the sources in the build stage, before pruning the build-only packages, and ships no TypeScript', () => {
    const build = dockerfile.slice(0, dockerfile.length - finalStage().length);
    const buildCopies = copies(build).flatMap((c) => c.sources);
    for (const need of ['src', 'tsconfig.json', 'tsconfig.build.json', 'scripts/build.mjs']) assert.ok(buildCopies.includes(need), `the build stage does not copy ${need}`);
    assert.match(pkg.scripts.build, /scripts\/build\.mjs/);
    const compile = build.search(/RUN[^\n]*\bnpm run build\b/);
    const prune = build.search(/npm prune --omit=dev/);
    assert.ok(compile > 0, 'the build stage runs npm run build');
    assert.ok(prune > compile, 'npm prune --omit=dev comes after npm run build (the compiler is a dev dependency)');
    const shipped = finalCopies().flatMap((c) => c.sources);
    assert.ok(!shipped.some((s) => s === 'src' || s.startsWith('src/') || s.startsWith('/app/src')), `the final stage copies TypeScript sources: ${shipped.join(' ')}`);
    assert.ok(!shipped.some((s) => s.startsWith('tsconfig')), 'the final stage copies a tsconfig');
  });

  it('is what the production-install check installs: scripts/check-prod-install.sh copies each path the image ships from the repository', () => {
    const script = readFileSync('scripts/check-prod-install.sh', 'utf8');
    const copied = script.split('\n').filter((l) => /^\s*(cp|find)\s/.test(l)).flatMap((l) => l.trim().split(/\s+/));
    const shipped = finalCopies().flatMap((c) => c.sources.map((s) => s.replace(/^\/app\//, '')));
    // node_modules and native/build are made by `npm ci` in both
    for (const path of shipped.filter((s) => s !== 'node_modules' && s !== 'native/build')) {
      assert.ok(copied.includes(path), `the image ships ${path} but scripts/check-prod-install.sh does not copy it`);
    }
    assert.ok(copied.includes('native'), 'the check copies the native kernels\' sources (npm ci builds them)');
    assert.match(script, /npm ci --omit=dev/);
    assert.match(readFileSync('.ci/run', 'utf8'), /^bash scripts\/check-prod-install\.sh$/m, '.ci/run runs the check');
  });

  it('installs the native kernels\' build and run-time packages and builds them strictly', () => {
    assert.ok(nativeAptPackages.length >= 2, `native packages in scripts/apt-packages.txt: ${nativeAptPackages.join(', ')}`);
    assertAptInstalls(dockerfile, nativeAptPackages);
    assertAptInstalls(dockerfile, ['libdnnl2', 'libgomp1']);
    assert.match(dockerfile, /node native\/build\.mjs --strict/);
  });

  it('the package check fails for a Dockerfile missing one of them, or naming it only in a comment', () => {
    const raw = readFileSync('Dockerfile', 'utf8');
    const all = [...nativeAptPackages, 'libdnnl2', 'libgomp1'];
    assertAptInstalls(raw, all);
    for (const p of all) {
      const name = p.replace(/[+.]/g, '\\$&');
      const without = raw.replace(new RegExp(`(\\s)${name}(?=\\s)`, 'g'), '$1');
      assert.notEqual(without, raw, `the Dockerfile names ${p}`);
      assert.throws(() => assertAptInstalls(without, all), new RegExp(`does not apt-get install ${name}$`));
      const commented = `# RUN apt-get install -y ${p}\n${without}`;
      assert.throws(() => assertAptInstalls(commented, all), new RegExp(`does not apt-get install ${name}$`));
    }
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

/** COPY instructions of the final stage */
function finalCopies(): { from: boolean; sources: string[] }[] {
  return copies(finalStage());
}

/** the Dockerfile's last stage (from its last FROM) */
function finalStage(): string {
  const froms = [...dockerfile.matchAll(/^FROM\s/gm)];
  return dockerfile.slice(froms.at(-1)!.index);
}
