// The Dockerfile cannot be built on the machines this project is developed
// on (no docker engine), so its drift from the repository is checked here:
// what it copies exists and is not excluded from the build context, it
// installs the Debian packages the native kernels need, and the optional
// tfjs-node flavours it chooses between are the ones package.json declares.
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
    for (const need of [pkg.bin.nas.split('/')[0], 'src', 'device-profiles', 'latency-tables', 'web', 'native/build', 'node_modules', 'package.json']) {
      assert.ok(all.includes(need), `the image does not copy ${need}`);
    }
  });

  it('installs the native kernels\' build and run-time packages and builds them strictly', () => {
    const apt = readFileSync('scripts/apt-packages.txt', 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
    for (const p of apt.filter((p) => p !== 'chromium')) assert.match(dockerfile, new RegExp(`install[^\\n]*\\s${p.replace(/[+.]/g, '\\$&')}(\\s|$)`), `apt package ${p}`);
    assert.match(dockerfile, /node native\/build\.mjs --strict/);
    assert.match(dockerfile, /install[^\n]*\slibdnnl2\s/);
  });

  it('chooses between exactly the optional tfjs-node flavours package.json declares', () => {
    for (const name of Object.keys(pkg.optionalDependencies)) assert.ok(dockerfile.includes(`npm rebuild ${name}`), name);
  });
});
