// The compiled build (npm run build -> dist/) is what a production install
// runs: bin/nas.js picks it where the package has no TypeScript sources, the
// code finds its shipped files (SQL migrations, latency tables) from dist/
// as from src/, and forks compiled workers without a loader. The full
// production install (npm ci --omit=dev on a clean copy, nas serve, a
// search) is scripts/check-prod-install.sh, run by .ci/run.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { forkExecArgv, packageModule } from '../../src/config/paths.ts';

const ROOT = resolve(import.meta.dirname, '..', '..');

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('forking a module of the package', () => {
  it('forks the .ts source from src/ under the tsx loader, the compiled .js from dist/ with no loader', () => {
    const fromSrc = pathToFileURL(join(ROOT, 'src', 'jobs', 'process.ts')).href;
    const fromDist = pathToFileURL(join(ROOT, 'dist', 'jobs', 'process.js')).href;
    assert.equal(packageModule(fromSrc, './child.ts'), join(ROOT, 'src', 'jobs', 'child.ts'));
    assert.equal(packageModule(fromDist, './child.ts'), join(ROOT, 'dist', 'jobs', 'child.js'));
    assert.equal(packageModule(fromDist, '../train/worker.ts'), join(ROOT, 'dist', 'train', 'worker.js'));
    const tsArgs = forkExecArgv(join(ROOT, 'src', 'train', 'worker.ts'));
    assert.equal(tsArgs[0], '--import');
    assert.match(tsArgs[1]!, /^file:\/\/.*\/node_modules\/tsx\//, 'tsx by absolute URL (a child started from any folder finds it)');
    assert.deepEqual(forkExecArgv(join(ROOT, 'dist', 'train', 'worker.js')), []);
  });
});

describe('npm run build', () => {
  let pkg: string;
  before(() => {
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'build.mjs')], { cwd: ROOT, stdio: 'pipe' });
    // a package as installed for production: the shipped files, no src/ (node_modules linked: installing is the CI check's part)
    pkg = mkdtempSync(join(tmpdir(), 'nas-dist-'));
    for (const f of ['package.json', 'bin']) cpSync(join(ROOT, f), join(pkg, f), { recursive: true });
    for (const f of ['dist', 'node_modules', 'api', 'web', 'latency-tables', 'device-profiles']) symlinkSync(join(ROOT, f), join(pkg, f));
  });
  after(() => rmSync(pkg, { recursive: true, force: true }));

  it('compiles every source module, with .js import specifiers only', () => {
    const sources = walk(join(ROOT, 'src')).filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    for (const s of sources) {
      const out = join(ROOT, 'dist', s.slice(join(ROOT, 'src').length + 1).replace(/\.ts$/, '.js'));
      assert.ok(existsSync(out), `${out} missing`);
    }
    for (const f of walk(join(ROOT, 'dist')).filter((x) => x.endsWith('.js'))) {
      const bad = /(?:from\s+|import\()\s*'(\.{1,2}\/[^']*\.ts)'/.exec(readFileSync(f, 'utf8'));
      assert.equal(bad, null, `${f} imports ${bad?.[1]}`);
    }
  });

  it('copies the SQL migrations beside the compiled store', () => {
    const sql = (d: string) => readdirSync(d).filter((f) => f.endsWith('.sql')).sort();
    const src = sql(join(ROOT, 'src', 'store', 'migrations'));
    assert.ok(src.length >= 1);
    assert.deepEqual(sql(join(ROOT, 'dist', 'store', 'migrations')), src);
  });

  it('bin/nas.js of a package without sources runs dist/: --help, a command reading shipped files, one opening the store', () => {
    const nas = (...args: string[]) => spawnSync(process.execPath, [join(pkg, 'bin', 'nas.js'), ...args], { cwd: tmpdir(), encoding: 'utf8', env: { ...process.env, NAS_DATA_DIR: join(pkg, 'data') } });
    const help = nas('--help');
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /^Usage: nas /);
    const table = nas('latency', 'table', '--device', 'node-tflite-wasm');
    assert.equal(table.status, 0, table.stderr);
    assert.ok(JSON.parse(table.stdout), 'a latency table shipped beside the package');
    // the store's migrations come from dist/store/migrations
    const list = nas('search', 'list');
    assert.equal(list.status, 0, list.stderr);
    assert.equal(list.stdout, 'no searches\n');
    assert.ok(existsSync(join(pkg, 'data', 'nas.sqlite')));
  });
});
