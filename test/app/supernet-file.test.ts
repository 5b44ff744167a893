// A trained supernet moved between installations as one file
// (src/app/supernet-file.ts): the import scores every architecture as the
// original does, keeps its id and predictor, and refuses a corrupt,
// truncated, foreign or duplicate file, or a dataset that does not match,
// leaving the store as it was.

import { strict as assert } from 'node:assert';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { trainSupernet, loadSupernetPredictor } from '../../src/app/supernet.ts';
import { exportSupernet, importSupernet, SUPERNET_FILE_MAGIC } from '../../src/app/supernet-file.ts';
import { loadDataset } from '../../src/data/registry.ts';
import { sampleArch } from '../../src/space/sampler.ts';
import { createRng } from '../../src/space/rng.ts';
import { getSkeleton } from '../../src/space/skeleton.ts';
import { readArtifact } from '../../src/store/artifacts.ts';
import { openDb, type Db } from '../../src/store/db.ts';
import { getSupernet, insertSupernet, listSupernets, supernetsFor } from '../../src/store/supernets.ts';
import { dataPaths } from '../../src/config/paths.ts';
import { SupernetEvaluator } from '../../src/supernet/evaluator.ts';
import { weightsOnlyCheckpoint } from '../../src/supernet/checkpoint.ts';
import { tempStore } from './run-fixtures.ts';

const datasetOptions = { synthetic: { size: 16, perClass: 24 } };
const store = tempStore('nas-supernet-file-');
const counts = (db: Db) => ({
  supernets: (db.prepare('SELECT COUNT(*) AS n FROM supernets').get() as { n: number }).n,
  artifacts: (db.prepare('SELECT COUNT(*) AS n FROM artifacts').get() as { n: number }).n,
  // files under the data directory's artifacts folder: a refused import leaves none behind
  files: readdirSync(dataPaths(store.dir).artifacts, { recursive: true }).length,
});

/** A supernet file rebuilt with its header changed by `edit` and only the parts `keep` names. */
function reframe(file: Uint8Array, edit: (h: Record<string, any>) => void, keep: string[] = ['checkpoint', 'predictor']): Uint8Array {
  const m = SUPERNET_FILE_MAGIC.length;
  const hl = new DataView(file.buffer, file.byteOffset).getUint32(m, true);
  const header = JSON.parse(new TextDecoder().decode(file.subarray(m + 4, m + 4 + hl)));
  let at = m + 4 + hl;
  const parts = (header.parts as { name: string; sizeBytes: number }[]).map((p) => { const b = file.subarray(at, at + p.sizeBytes); at += p.sizeBytes; return { p, b }; })
    .filter(({ p }) => keep.includes(p.name));
  header.parts = parts.map(({ p }) => p);
  edit(header);
  const head = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(m + 4 + head.length + parts.reduce((n, { b }) => n + b.length, 0));
  out.set(file.subarray(0, m));
  new DataView(out.buffer).setUint32(m, head.length, true);
  out.set(head, m + 4);
  let o = m + 4 + head.length;
  for (const { b } of parts) { out.set(b, o); o += b.length; }
  return out;
}

describe('supernet export and import', () => {
  it('round trip: same id, options and step; the imported one scores architectures and predicts exactly as the original', async () => {
    const sn = await trainSupernet({ dataset: 'synthetic', steps: 3, recipe: { batchSize: 8, randomSubnets: 0 }, predictorSamples: 12 }, { deps: { db: store.db, datasetOptions } });
    assert.equal(sn.status, 'succeeded');
    const bytes = exportSupernet(store.db, sn.supernetId);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, SUPERNET_FILE_MAGIC.length)), SUPERNET_FILE_MAGIC);

    // another store (another installation's)
    const other = openDb(join(store.dir, 'other.sqlite'));
    try {
      const imp = await importSupernet(other, bytes, { deps: { datasetOptions } });
      const orig = getSupernet(store.db, sn.supernetId);
      assert.equal(imp.id, orig.id);
      assert.equal(imp.status, 'succeeded');
      assert.deepEqual([imp.dataset, imp.skeleton, imp.input, imp.numClasses, imp.step, imp.options], [orig.dataset, orig.skeleton, orig.input, orig.numClasses, orig.step, orig.options]);
      // the weights travel, the optimizer's moments stay behind
      const [moved, full] = [readArtifact(other, imp.checkpointArtifactId!), readArtifact(store.db, orig.checkpointArtifactId!)];
      assert.deepEqual(moved, weightsOnlyCheckpoint(full));
      assert.ok(moved.byteLength < 0.6 * full.byteLength, `${moved.byteLength} of ${full.byteLength} bytes`);
      assert.equal((imp.metrics.imported as { trainedOn: string }).trainedOn, 'synthetic');

      const ds = await loadDataset('synthetic', datasetOptions);
      const sk = getSkeleton(orig.skeleton);
      const rng = createRng(5);
      const specs = Array.from({ length: 3 }, () => sampleArch(sk, rng));
      const a = new SupernetEvaluator(readArtifact(store.db, orig.checkpointArtifactId!), ds);
      const b = new SupernetEvaluator(readArtifact(other, imp.checkpointArtifactId!), ds);
      const pa = loadSupernetPredictor(store.db, orig)!, pb = loadSupernetPredictor(other, imp)!;
      try {
        for (const spec of specs) {
          assert.equal(b.evaluate(spec).accuracy, a.evaluate(spec).accuracy);
          assert.equal(pb.predict(sk, spec), pa.predict(sk, spec));
        }
      } finally {
        a.dispose(); b.dispose(); pa.dispose(); pb.dispose();
      }

      // the same file again: refused, nothing added
      const before = counts(other);
      await assert.rejects(importSupernet(other, bytes, { deps: { datasetOptions } }), (e: Error & { status?: number }) => e.status === 409 && /already in this store/.test(e.message));
      assert.deepEqual(counts(other), before);
    } finally {
      other.close();
    }
  });

  it('a corrupt, truncated or foreign file, or a dataset that does not match, is refused naming the problem; the store is unchanged', async () => {
    const sn = listSupernets(store.db).find((s) => s.status === 'succeeded')!;
    const good = exportSupernet(store.db, sn.id);
    const flipped = good.slice();
    flipped[flipped.length - 10]! ^= 0xff; // inside the last part (the predictor)
    const headerEnd = SUPERNET_FILE_MAGIC.length + 4 + new DataView(good.buffer).getUint32(SUPERNET_FILE_MAGIC.length, true);
    const ckFlipped = good.slice();
    ckFlipped[headerEnd + 100]! ^= 0x01; // inside the checkpoint
    const badJson = good.slice();
    badJson[SUPERNET_FILE_MAGIC.length + 4] = 0x7b + 1; // the header's opening brace
    const fresh = openDb(join(store.dir, 'fresh.sqlite'));
    try {
      const before = counts(fresh);
      for (const [what, bytes, re, status] of [
        ['random bytes', new Uint8Array(64).fill(7), /not a supernet file/, 400],
        ['empty', new Uint8Array(0), /not a supernet file/, 400],
        ['truncated', good.subarray(0, good.length - 50), /truncated/, 400],
        ['a flipped predictor byte', flipped, /corrupt: its predictor does not match its SHA-256/, 400],
        ['a flipped checkpoint byte', ckFlipped, /corrupt: its checkpoint does not match its SHA-256/, 400],
        ['a broken header', badJson, /header is not valid JSON/, 400],
        ['trailing bytes', new Uint8Array([...good, 1, 2, 3]), /3 bytes after its last part/, 400],
        ['a header without an input shape', reframe(good, (h) => { delete h.supernet.input; }), /does not describe a supernet/, 400],
        ['a header with a null part', reframe(good, (h) => { h.parts.push(null); }), /malformed part null/, 400],
        ['a header with a bad time', reframe(good, (h) => { h.supernet.createdAt = { $gt: 1 }; }), /does not describe a supernet/, 400],
        ['a huge predictor', reframe(good, (h) => { h.parts[1].sizeBytes = 2 ** 31; }), /predictor is 2147483648 bytes/, 400],
      ] as const) {
        await assert.rejects(importSupernet(fresh, bytes, { deps: { datasetOptions } }), (e: Error & { status?: number }) => {
          assert.match(e.message, re, what);
          assert.equal(e.status, status, what);
          return true;
        });
      }
      // the dataset here has another input size: refused naming both shapes
      await assert.rejects(importSupernet(fresh, good, { deps: { datasetOptions: { synthetic: { size: 20, perClass: 24 } } } }),
        (e: Error & { status?: number }) => e.status === 422 && /is for 16x16x1 inputs with \d+ classes; dataset synthetic here is 20x20x1/.test(e.message));
      // a dataset this installation does not have
      await assert.rejects(importSupernet(fresh, good, { dataset: 'folder:/nonexistent/images', deps: { datasetOptions } }),
        (e: Error & { status?: number }) => e.status === 422 && /dataset "folder:\/nonexistent\/images" is not available here/.test(e.message));
      assert.deepEqual(counts(fresh), before, 'nothing stored by a refused import');
    } finally {
      fresh.close();
    }
  });

  it('the row points only at what the import stored, is dated by the import, and an imported supernet serves its importer only', async () => {
    const sn = listSupernets(store.db).find((s) => s.status === 'succeeded')!;
    const ckId = sn.checkpointArtifactId!;
    // a header that names this installation's checkpoint artifact as its "predictor", dated far in the future, no predictor part
    const forged = reframe(exportSupernet(store.db, sn.id), (h) => {
      h.supernet.id = 'sn_00000000000000ff';
      h.supernet.metrics.predictor = { artifactId: ckId, samples: 1 };
      h.supernet.createdAt = '9999-01-01T00:00:00.000Z';
    }, ['checkpoint']);
    const s = await importSupernet(store.db, forged, { owner: 'key-a', deps: { datasetOptions } });
    assert.equal(s.metrics.predictor, undefined, 'no predictor part: no predictor entry, whatever the header says');
    assert.equal(loadSupernetPredictor(store.db, s), null);
    assert.notEqual(s.createdAt, '9999-01-01T00:00:00.000Z');
    assert.equal((s.metrics.imported as { createdAt: string }).createdAt, '9999-01-01T00:00:00.000Z');
    // searches of a built-in dataset: the importing key gets it, another key and the local CLI get the supernets trained here
    const k = { dataset: 'synthetic', skeleton: s.skeleton, input: s.input, shared: true };
    assert.equal(supernetsFor(store.db, { ...k, owner: 'key-a' })[0]!.id, s.id);
    assert.ok(!supernetsFor(store.db, { ...k, owner: 'key-b' }).some((x) => x.id === s.id));
    assert.ok(!supernetsFor(store.db, { ...k, owner: null }).some((x) => x.id === s.id));
  });

  it('only a trained supernet is exported; an unknown id is a 404', () => {
    const q = insertSupernet(store.db, { owner: null, dataset: 'synthetic', skeleton: 'small', input: { height: 16, width: 16, channels: 1 }, numClasses: 3, options: {} });
    assert.throws(() => exportSupernet(store.db, q.id), (e: Error & { status?: number }) => e.status === 409 && /is queued, not trained/.test(e.message));
    assert.throws(() => exportSupernet(store.db, 'sn_0000000000000000'), (e: Error & { status?: number }) => e.status === 404);
  });
});
