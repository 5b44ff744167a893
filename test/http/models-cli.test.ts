// `nas models download` against a live service: the file is written with the
// server's bytes and checked SHA-256; a missing model, a bad key, a bad
// format and an unreachable server are one `error:` line and exit 2, and
// leave no file.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { PACKAGE_ROOT } from '../../src/config/paths.ts';
import { putArtifact } from '../../src/store/artifacts.ts';
import { ADMIN, bearer, testApp } from './helpers.ts';

/** the real CLI in a child process (the test runner reports over this process's stdout) */
function run(args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(PACKAGE_ROOT, 'bin', 'nas.js'), ...args], { timeout: 60_000 }, (e, out, err) => {
      resolve({ code: e ? (typeof e.code === 'number' ? e.code : 1) : 0, out, err });
    });
  });
}

describe('nas models download', () => {
  const { ctx, app } = testApp();
  const bytes = new Uint8Array([0x1c, 0, 0, 0, 0x54, 0x46, 0x4c, 0x33, 7, 7, 7]);
  let server: Server;
  let url: string;
  let key: string;
  const dir = mkdtempSync(join(tmpdir(), 'nas-dl-'));
  before(async () => {
    const k = await request(app).post('/v1/keys').set(bearer(ADMIN)).send({ name: 'cli' });
    key = k.body.token;
    const at = new Date().toISOString();
    ctx.db.prepare(`INSERT INTO models (id, owner, options, status, stage, arch_id, created_at, updated_at) VALUES ('mdl_cli', ?, '{}', 'succeeded', 'done', 'x', ?, ?)`).run(k.body.id, at, at);
    const a = putArtifact(ctx.db, 'model-tflite', 'model.tflite', bytes, ctx.dataDir);
    ctx.db.prepare(`INSERT INTO model_files (model_id, format, name, artifact_id) VALUES ('mdl_cli', 'tflite', 'model.tflite', ?)`).run(a.id);
    server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => { server.closeAllConnections(); server.close(); });

  it('writes the .tflite the server sends, checked against its SHA-256', async () => {
    const out = join(dir, 'm.tflite');
    const r = await run(['models', 'download', 'mdl_cli', '--server', url, '--key', key, '--format', 'tflite', '--out', out]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(new Uint8Array(readFileSync(out)), bytes);
    assert.ok(r.out.includes(createHash('sha256').update(bytes).digest('hex')), r.out);
  });

  it('exits 2 with one error line and writes nothing for a missing model, a bad key, a bad format, an unreachable server', async () => {
    const closed = await new Promise<number>((r) => { const s = app.listen(0, '127.0.0.1', () => { const p = (s.address() as AddressInfo).port; s.close(() => r(p)); }); });
    const cases: [string[], RegExp][] = [
      [['mdl_nope', '--server', url, '--key', key], /^error: the server answered 404: model "mdl_nope" not found\n$/],
      [['mdl_cli', '--server', url, '--key', 'nas_wrong'], /^error: the server answered 401: invalid or revoked API key\n$/],
      [['mdl_cli', '--server', url, '--key', key, '--format', 'onnx'], /^error: --format must be one of tflite, tflite-int8, tfjs, got "onnx"\n$/],
      [['mdl_cli', '--server', `http://127.0.0.1:${closed}`, '--key', key], new RegExp(`^error: cannot reach http://127\\.0\\.0\\.1:${closed}: ECONNREFUSED\n$`)],
      [['mdl_cli', '--server', 'not a url', '--key', key], /^error: --server must be a URL/],
    ];
    for (const [args, msg] of cases) {
      const out = join(dir, 'never.tflite');
      const r = await run(['models', 'download', ...args, '--out', out]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, msg);
      assert.equal(existsSync(out), false);
    }
  });
});
