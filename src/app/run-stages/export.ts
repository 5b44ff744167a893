// Stage 5 of `nas run`: the measured model exported to each format
// (.tflite float32 / int8, TF.js), each verified, with a model card; files
// stored as artifacts, then the row finished with the card (store first,
// then the events). Never cut by a budget; cancel is checked between formats.
// Progress: each format's start and its verified end. The cards name no
// server path: an uploaded dataset is `dataset:<id>` (as the API names it),
// the weights are the model's checkpoint, not a folder.

import { join } from 'node:path';
import { dataPaths } from '../../config/paths.ts';
import { type InputResize, type ModelCard, type RunCardInfo, writeModelCard } from '../../export/model-card.ts';
import { deliver, readFileBytes } from '../../refine/deliver.ts';
import type { Dataset } from '../../data/types.ts';
import { archId } from '../../space/archspec.ts';
import { putArtifact } from '../../store/artifacts.ts';
import { addModelFile, finishModel, type ModelCheckpoint, updateModel } from '../../store/models.ts';
import { apiDatasetName } from '../datasets.ts';
import { now } from '../events.ts';
import type { Measured } from './measure.ts';
import type { RunResult, RunSession } from './session.ts';

export interface ExportInput {
  base: ModelCheckpoint;
  refined: ModelCheckpoint;
  trained: ModelCheckpoint;
  measured: Measured;
}

/**
 * The dataset as the cards name it (their `dataset.name` and the sources of
 * their verification and calibration samples): an upload as `dataset:<id>`,
 * never its folder on the server; a built-in set or a CLI user's own folder
 * as given.
 */
function datasetAsNamed(s: RunSession): Dataset {
  const name = apiDatasetName(s.db, s.o.dataset);
  return name === s.o.dataset ? s.dataset : { ...s.dataset, manifest: { ...s.dataset.manifest, name } };
}

export async function exportStage(s: RunSession, x: ExportInput): Promise<RunResult> {
  const { o, T } = s;
  const { spec, input: inp, predictedMs, measuredMs, meas } = x.measured;
  s.enter('export');
  const detail = x.trained.detail as { validationAccuracy: number; testAccuracy: number | null };
  const weights = s.loadWeights(x.trained)!;
  const outDir = join(s.ctx.deps?.outDir ?? join(dataPaths().outputs, 'models'), s.modelId);
  const progress = s.progress();
  const t0 = s.clock();
  const delivered = await deliver({
    spec, input: inp, numClasses: s.K, weights, dataset: datasetAsNamed(s), outDir, formats: o.formats, cancel: s.ctx.cancel,
    accuracy: detail.testAccuracy === null ? { top1: detail.validationAccuracy, split: 'validation' } : { top1: detail.testAccuracy, split: 'test' },
    predictedLatency: { latencyMs: predictedMs, device: o.deviceId },
    onFormat: (e) => {
      const perFormatS = e.index > 0 || e.phase === 'done' ? (s.clock() - t0) / 1000 / (e.index + (e.phase === 'done' ? 1 : 0)) : NaN;
      const left = e.total - e.index - (e.phase === 'done' ? 1 : 0);
      const v = e.result?.verification;
      progress.report({
        task: 'export and verification', done: e.index + (e.phase === 'done' ? 1 : 0), total: e.total, unit: 'format', etaS: perFormatS * left,
        message: e.phase === 'start' ? `exporting ${e.format}, then verifying it` : `${e.format}: ${v ? `verification ${v.passed ? 'passed' : 'FAILED'} (${v.criterion})` : 'exported'}`,
      });
    },
  });
  const failedVerify = delivered.filter((d) => !d.result.verification?.passed).map((d) => d.format);
  const refineDetail = x.refined.detail as Record<string, unknown>;
  const runInfo: RunCardInfo = {
    modelId: s.modelId, searchId: s.searchId, baseArchId: archId(x.base.spec),
    target: { latencyMs: T, device: o.deviceId, mode: o.mode },
    refinement: { method: (refineDetail.method as RunCardInfo['refinement']['method']) ?? 'none', detail: refineDetail },
    predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, metTarget: (measuredMs ?? predictedMs) <= T,
    testAccuracy: detail.testAccuracy, validationAccuracy: detail.validationAccuracy,
  };
  const ds = s.dsInput;
  const resize: InputResize | undefined = inp.height !== ds.height || inp.width !== ds.width
    ? { from: { height: ds.height, width: ds.width }, to: { height: inp.height, width: inp.width }, method: 'bilinear (half-pixel centres)' }
    : undefined;
  const files: RunResult['files'] = [];
  let card: ModelCard | null = null;
  for (const d of delivered) {
    const c: ModelCard = {
      ...d.result.card, run: runInfo, ...(resize ? { inputResize: resize } : {}),
      // the exported weights are this checkpoint's (deliver's weights folder is a server path)
      weightsSource: `model ${s.modelId}, ${x.trained.stage} checkpoint${x.trained.weightsArtifactId ? ` (weights artifact ${x.trained.weightsArtifactId})` : ''}`,
      measuredLatency: measuredMs === null ? d.result.card.measuredLatency : { latencyMs: measuredMs, device: o.deviceId, runtime: meas.measured ? meas.runtime : undefined },
    };
    writeModelCard(join(outDir, d.format), c);
    card ??= c;
    for (const f of d.files) {
      const a = putArtifact(s.db, `model-${d.format}`, f.name, readFileBytes(f.path));
      addModelFile(s.db, s.modelId, { format: d.format, name: f.name, artifactId: a.id });
      files.push({ format: d.format, name: f.name, path: f.path, sha256: a.sha256 });
    }
  }
  updateModel(s.db, s.modelId, { spec, archId: archId(spec) });
  const outcome = { spec, input: inp, predictedLatencyMs: predictedMs, measuredLatencyMs: measuredMs, card, files, metTarget: runInfo.metTarget };
  if (failedVerify.length > 0) return s.fail(`verification failed for ${failedVerify.join(', ')}`, outcome, card);
  s.closeStage();
  s.stage = 'done';
  finishModel(s.db, s.modelId, 'succeeded', { card });
  updateModel(s.db, s.modelId, { stage: 'done' });
  s.emit({ type: 'stage-changed', searchId: s.key(), stage: 'done', at: now() });
  s.emit({ type: 'done', searchId: s.key(), status: 'succeeded', bestTrialId: null, modelId: s.modelId, at: now() });
  return s.result('succeeded', null, { ...outcome, missByMs: Math.max(0, x.measured.overMs) });
}
