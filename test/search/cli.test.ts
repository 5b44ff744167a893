// `nas search` bad input: one `error: ...` line and exit 2, the store untouched.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import Database from 'better-sqlite3';
import { openDb } from '../../src/store/db.ts';

const BIN = join(PACKAGE_ROOT, 'bin', 'nas.js');
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'nas-cli-search-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

function nas(args: string[], dataDir = dir) {
  const r = spawnSync(process.execPath, [BIN, '--data-dir', dataDir, ...args], { cwd: tmpdir(), encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function oneErrorLine(r: { code: number | null; stderr: string }, re: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^error: /);
  assert.match(lines[0]!, re);
}

const start = ['search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '2', '--trials', '2'];

describe('nas search: bad input', () => {
  it('unknown dataset: named, exit 2', () => {
    oneErrorLine(nas(['search', '--dataset', 'cifar-99', '--device', 'node-tflite-wasm', '--target-ms', '2']), /unknown dataset "cifar-99"/);
  });

  it('unknown device: named, exit 2', () => {
    oneErrorLine(nas(['search', '--dataset', 'synthetic', '--device', 'pixel-99', '--target-ms', '2']), /unknown device "pixel-99"/);
  });

  it('target below the fastest architecture: states the fastest predicted latency', () => {
    oneErrorLine(nas(['search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '0.0001']),
      /latency target 0.0001 ms is below the fastest architecture of the space on node-tflite-wasm: \d+\.\d{3} ms predicted/);
  });

  it('missing or malformed flags', () => {
    oneErrorLine(nas(['search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm']), /--target-ms is required/);
    oneErrorLine(nas([...start, '--mode', 'medium']), /--mode must be soft or hard/);
    oneErrorLine(nas([...start, '--strategy', 'genetic']), /unknown strategy "genetic"/);
  });

  it('show of an unknown search: named, exit 2', () => {
    oneErrorLine(nas(['search', 'show', 's-nothere']), /no search with id "s-nothere"/);
  });

  it('a store written by a newer schema is refused (409 -> exit 2) and left as it was', () => {
    const newer = mkdtempSync(join(tmpdir(), 'nas-cli-newer-'));
    try {
      const db = openDb(join(newer, 'nas.sqlite'));
      db.prepare('INSERT INTO schema_version (version, name, applied_at) VALUES (999, ?, ?)').run('from_the_future', 'now');
      db.close();
      oneErrorLine(nas(start, newer), /newer version of mobile-nas \(schema 999/);
      const raw = new Database(join(newer, 'nas.sqlite'), { readonly: true });
      const versions = (raw.prepare('SELECT version FROM schema_version ORDER BY version').all() as { version: number }[]).map((r) => r.version);
      const searches = (raw.prepare('SELECT COUNT(*) AS n FROM searches').get() as { n: number }).n;
      raw.close();
      assert.equal(versions.at(-1), 999);
      assert.equal(searches, 0);
    } finally {
      rmSync(newer, { recursive: true, force: true });
    }
  });

  it('list on an empty store; --json is JSON', () => {
    const r = nas(['search', 'list', '--json']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), []);
  });
});

describe('nas search: a tiny real search (synthetic, 2 workers)', () => {
  it('runs, then list and show --json report its trials, best and Pareto front', () => {
    const d = mkdtempSync(join(tmpdir(), 'nas-cli-run-'));
    try {
      const r = nas([...start, '--trials', '3', '--seed', '5'], d);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /trial 3\/3 /);
      const list = JSON.parse(nas(['search', 'list', '--json'], d).stdout) as { id: string; status: string; counts: { total: number } }[];
      assert.equal(list.length, 1);
      assert.equal(list[0]!.status, 'succeeded');
      assert.equal(list[0]!.counts.total, 3);
      const show = nas(['search', 'show', list[0]!.id, '--json'], d);
      assert.equal(show.code, 0, show.stderr);
      const rep = JSON.parse(show.stdout) as { trials: { status: string; accuracy: number | null; latencyMs: number }[]; best: { id: string } | null; pareto: unknown[] };
      assert.equal(rep.trials.length, 3);
      for (const t of rep.trials) assert.ok(t.status === 'succeeded' || t.status === 'cached', t.status);
      assert.ok(rep.best);
      assert.ok(rep.pareto.length >= 1);
      const text = nas(['search', 'show', list[0]!.id], d);
      assert.match(text.stdout, /Pareto front/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
