// src/http/api-types.ts is generated from api/openapi.json (`npm run
// gen:api`, openapi-typescript) and committed: it must be what the generator
// makes from the contract as it is now, so a changed contract without a
// regenerated file fails here (and the type-check then shows every use the
// change breaks).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['gen:api']!;
const CLI = join(ROOT, 'node_modules', 'openapi-typescript', 'bin', 'cli.js');

/** `npm run gen:api`'s command with its output file replaced, in --check mode: exit 0 iff `out` is up to date */
function check(out: string): { status: number | null; output: string } {
  const args = script.split(/\s+/);
  assert.equal(args[0], 'openapi-typescript');
  const o = args.indexOf('-o');
  assert.ok(o > 0, `gen:api names its output with -o: ${script}`);
  args[o + 1] = out;
  const r = spawnSync(process.execPath, [CLI, ...args.slice(1), '--check'], { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, output: r.stdout + r.stderr };
}

describe('generated API types', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nas-api-types-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('src/http/api-types.ts is what npm run gen:api generates from api/openapi.json', () => {
    assert.match(script, /-o src\/http\/api-types\.ts/);
    const r = check('src/http/api-types.ts');
    assert.equal(r.status, 0, `src/http/api-types.ts is stale: run npm run gen:api\n${r.output}`);
  });

  it('the check fails on a file that differs from the generated one', () => {
    const stale = join(dir, 'api-types.ts');
    copyFileSync(join(ROOT, 'src', 'http', 'api-types.ts'), stale);
    assert.equal(check(stale).status, 0, 'premise: the copy passes');
    writeFileSync(stale, readFileSync(stale, 'utf8').replace('latencyTargetMs: number;', 'latencyTargetMs: string;'));
    assert.notEqual(check(stale).status, 0);
  });
});
