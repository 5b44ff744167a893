// `nas profile --serve --device <id>`: the service app on the data directory
// serving the browser page for one device. The printed page URL carries a
// fresh upload token that opens the device's benchmark suite; the server
// listens on 127.0.0.1 unless told otherwise; bad flags exit 2 with one line.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { writeBundle } from '../../src/latency/bundle.ts';
import { SKELETON_SMALL } from '../../src/space/skeleton.ts';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';

const NAS = join(PACKAGE_ROOT, 'bin', 'nas.js');

describe('nas profile --serve', () => {
  it('prints the page URL with an upload token that opens the suite; uploads without it are refused', { timeout: 90_000 }, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'nas-profile-serve-'));
    const bundle = mkdtempSync(join(tmpdir(), 'nas-profile-bundle-'));
    const m = writeBundle(bundle, { targets: [{ skeleton: SKELETON_SMALL, input: { height: 28, width: 28, channels: 1 } }], numClasses: 10, maxKernelsPerTarget: 4, calibrationNetworks: 0, repeats: 5 });
    const child = spawn(process.execPath, [NAS, '--data-dir', dataDir, 'profile', '--serve', '--device', 'my-phone', '--bundle', bundle, '--port', '0'], {
      env: { ...process.env, NAS_LOG_LEVEL: 'silent', NAS_ADMIN_KEY: '' }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      const pageUrl = await new Promise<string>((ok, fail) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          const mm = /open on the device: (\S+)/.exec(out);
          if (mm) ok(mm[1]!);
        });
        child.once('exit', (code) => fail(new Error(`exited ${code}: ${out}`)));
      });
      assert.match(out, /admin API key \(shown once, keep it\): nas_/);
      const u = new URL(pageUrl);
      assert.equal(u.hostname, '127.0.0.1');
      assert.equal(u.searchParams.get('device'), 'my-phone');
      const token = u.searchParams.get('token')!;
      const page = await fetch(pageUrl);
      assert.equal(page.status, 200);
      const suite = await fetch(`${u.origin}/v1/devices/my-phone/benchmark-suite`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(suite.status, 200);
      assert.equal(((await suite.json()) as { bundleId: string }).bundleId, m.bundleId);
      const anon = await fetch(`${u.origin}/v1/devices/my-phone/measurements`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
      assert.equal(anon.status, 401);
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('--serve without --device exits 2 with one error line', () => {
    const r = spawnSync(process.execPath, [NAS, '--data-dir', mkdtempSync(join(tmpdir(), 'nas-ps-')), 'profile', '--serve'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^error: --serve needs --device <id>/m);
  });
});
