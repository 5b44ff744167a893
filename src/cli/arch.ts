// `nas arch show|sample|mutate|presets`: inspect the search space.

import type { Command } from 'commander';
import { archId, archToString, toWire } from '../space/archspec.ts';
import { encodeBlock } from '../space/grammar.ts';
import { archCost, type NetworkCost } from '../space/cost.ts';
import { presetDescription, presetNames } from '../space/presets.ts';
import { formatInputShape, parseInputShape, resolveArch } from '../space/resolve.ts';
import { createRng } from '../space/rng.ts';
import { mutateArch, sampleArch } from '../space/sampler.ts';
import { getSkeleton, skeletonFor } from '../space/skeleton.ts';
import type { ArchSpec, InputShape } from '../space/types.ts';
import { numberFlag } from './flags.ts';

export interface ArchReport {
  id: string;
  params: number;
  trainableParams: number;
  macs: number;
  input: string;
  classes: number;
  arch: ReturnType<typeof toWire>;
  text: string;
  blocks: Array<{
    block: string; spec: string; layers: number; inShape: number[]; outShape: number[];
    params: number; trainableParams: number; macs: number;
  }>;
}

export function archReport(spec: ArchSpec, input: InputShape, classes: number): ArchReport {
  const cost: NetworkCost = archCost(spec, input, classes, (b) => encodeBlock(spec.blocks[b]));
  return {
    id: archId(spec),
    params: cost.params,
    trainableParams: cost.trainableParams,
    macs: cost.macs,
    input: formatInputShape(input),
    classes,
    arch: toWire(spec),
    text: archToString(spec),
    blocks: cost.blocks.map((b) => ({
      block: b.block,
      spec: b.block === 'stem' ? toWire(spec).stem : b.block === 'head' ? toWire(spec).head : b.description,
      layers: b.layers, inShape: b.inShape, outShape: b.outShape,
      params: b.params, trainableParams: b.trainableParams, macs: b.macs,
    })),
  };
}

const fmt = (n: number) => n.toLocaleString('en-US');
const shape = (s: number[]) => s.join('x');

export function formatReport(r: ArchReport): string {
  const rows = [['block', 'spec', 'layers', 'in', 'out', 'params', 'MACs']];
  for (const b of r.blocks) rows.push([b.block, b.spec, String(b.layers), shape(b.inShape), shape(b.outShape), fmt(b.params), fmt(b.macs)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const line = (row: string[]) => row.map((c, i) => (i >= 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [
    `id ${r.id}  input ${r.input}  classes ${r.classes}`,
    `params ${fmt(r.params)} (trainable ${fmt(r.trainableParams)})  MACs ${fmt(r.macs)} (${(r.macs / 1e6).toFixed(1)}M)`,
    '',
    ...rows.map(line),
  ].join('\n');
}

interface CommonOpts { input: string; classes: string; json?: boolean; width?: string }

const parseClasses = numberFlag({ name: 'classes', integer: true, min: 2 });
const parseWidth = numberFlag({ name: 'width', greaterThan: 0 });
const parseSeed = numberFlag({ name: 'seed', integer: true, min: 0 });

function print(r: ArchReport, json?: boolean): void {
  process.stdout.write((json ? JSON.stringify(r, null, 2) : formatReport(r)) + '\n');
}

export function registerArchCommand(program: Command): void {
  const arch = program.command('arch').description('inspect architectures of the search space');
  const common = (c: Command) =>
    c.option('--input <HxWxC>', 'input shape', '224x224x3')
      .option('--classes <n>', 'number of classes', '1000')
      .option('--json', 'machine-readable output');

  common(arch.command('show')
    .description('params, MACs and a per-block table for a preset or block strings')
    .argument('<arch...>', 'preset name, block strings (stem_/head_ strings optional), ArchSpec JSON or a .json file')
    .option('--width <multiplier>', 'width multiplier (presets only)'))
    .action((parts: string[], o: CommonOpts) => {
      const input = parseInputShape(o.input);
      const spec = resolveArch(parts.join(' '), { input, widthMultiplier: parseWidth(o.width) });
      print(archReport(spec, input, parseClasses(o.classes)), o.json);
    });

  common(arch.command('sample')
    .description('uniform random architecture from the search space')
    .requiredOption('--seed <n>', 'random seed')
    .option('--skeleton <name>', 'skeleton (default: by input size): imagenet-224 | small-32'))
    .action((o: CommonOpts & { seed: string; skeleton?: string }) => {
      const input = parseInputShape(o.input);
      const skeleton = o.skeleton ? getSkeleton(o.skeleton) : skeletonFor(input);
      print(archReport(sampleArch(skeleton, createRng(parseSeed(o.seed))), input, parseClasses(o.classes)), o.json);
    });

  common(arch.command('mutate')
    .description('change one decision of an architecture of the search space')
    .argument('<arch...>', 'architecture (block strings, JSON or .json file) built on the skeleton')
    .requiredOption('--seed <n>', 'random seed')
    .option('--skeleton <name>', 'skeleton (default: by input size)'))
    .action((parts: string[], o: CommonOpts & { seed: string; skeleton?: string }) => {
      const input = parseInputShape(o.input);
      const skeleton = o.skeleton ? getSkeleton(o.skeleton) : skeletonFor(input);
      const spec = resolveArch(parts.join(' '), { input });
      print(archReport(mutateArch(skeleton, spec, createRng(parseSeed(o.seed))), input, parseClasses(o.classes)), o.json);
    });

  arch.command('presets')
    .description('list the preset networks')
    .action(() => {
      for (const n of presetNames()) process.stdout.write(`${n.padEnd(16)} ${presetDescription(n)}\n`);
    });
}
