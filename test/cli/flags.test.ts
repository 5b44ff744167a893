// Number-valued flags have one parser (src/cli/flags.ts): a bad value (not a
// number, overflowing to Infinity, out of the flag's range, a fraction where
// an integer is due) is one `error: ...` line naming the flag and the value,
// exit 2, before any work; and no CLI module parses numbers by itself.

import { strict as assert } from 'node:assert';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Command } from 'commander';
import { UsageError } from '../../src/cli/errors.ts';
import { describeNumberFlag, numberFlag, positiveIntFlag } from '../../src/cli/flags.ts';
import { errorLines, nas } from './run-cli.ts';

describe('numberFlag', () => {
  it('takes decimal numbers within the bounds; an absent flag stays undefined', () => {
    const f = numberFlag({ name: 'x' });
    for (const [v, n] of [['12', 12], ['-0.5', -0.5], ['1e3', 1000], ['+7', 7], ['.25', 0.25], [' 3 ', 3]] as const) assert.equal(f(v), n, v);
    assert.equal(f(undefined), undefined);
    assert.equal(numberFlag({ name: 'port', integer: true, min: 0, max: 65535 })('65535'), 65535);
    assert.equal(numberFlag({ name: 't', greaterThan: 0 })('0.001'), 0.001);
  });

  const bad: [Parameters<typeof numberFlag>[0], string, string][] = [
    [{ name: 'lr' }, 'abc', '--lr must be a number, got "abc"'],
    [{ name: 'lr' }, '', '--lr must be a number, got ""'],
    [{ name: 'lr' }, '1e999', '--lr must be a number, got "1e999"'],
    [{ name: 'lr' }, 'Infinity', '--lr must be a number, got "Infinity"'],
    [{ name: 'lr' }, '0x10', '--lr must be a number, got "0x10"'],
    [{ name: 'lr' }, '3abc', '--lr must be a number, got "3abc"'],
    [{ name: 'seed', integer: true, min: 0 }, '-1', '--seed must be a non-negative integer, got "-1"'],
    [{ name: 'epochs', integer: true, min: 1 }, '2.5', '--epochs must be a positive integer, got "2.5"'],
    [{ name: 'epochs', integer: true, min: 1 }, '0', '--epochs must be a positive integer, got "0"'],
    [{ name: 'target-ms', greaterThan: 0 }, '0', '--target-ms must be a positive number, got "0"'],
    [{ name: 'tolerance', min: 0 }, '-1e-9', '--tolerance must be a number >= 0, got "-1e-9"'],
    [{ name: 'classes', integer: true, min: 2 }, '1', '--classes must be an integer >= 2, got "1"'],
    [{ name: 'port', integer: true, min: 0, max: 65535 }, '65536', '--port must be an integer in [0, 65535], got "65536"'],
  ];
  for (const [spec, value, message] of bad) {
    it(`--${spec.name} ${JSON.stringify(value)}: ${message}`, () => {
      assert.throws(() => numberFlag(spec)(value), (e: unknown) => e instanceof UsageError && e.message === message);
    });
  }

  it('describes every kind of bound', () => {
    assert.equal(describeNumberFlag({ integer: true }), 'an integer');
    assert.equal(describeNumberFlag({ max: 1 }), 'a number <= 1');
    assert.equal(describeNumberFlag({ greaterThan: 1 }), 'a number > 1');
    assert.equal(describeNumberFlag({ greaterThan: 0, max: 1 }), 'a number in (0, 1]');
    assert.equal(describeNumberFlag({ integer: true, min: 1, max: 64 }), 'an integer in [1, 64]');
    assert.equal(positiveIntFlag('n')('4'), 4);
  });

  it('works as commander\'s argParser: a bad value rejects the parse with the UsageError', async () => {
    const run = async (args: string[]) => {
      let got: number | undefined;
      const p = new Command().exitOverride().option('--trials <n>', 'trials', positiveIntFlag('trials')).action((o: { trials?: number }) => { got = o.trials; });
      await p.parseAsync(args, { from: 'user' });
      return got;
    };
    assert.equal(await run(['--trials', '8']), 8);
    await assert.rejects(run(['--trials', '-1']), (e: unknown) => e instanceof UsageError && /^--trials must be a positive integer, got "-1"$/.test(e.message));
  });
});

describe('CLI number flags: one error line naming the flag, exit 2', { concurrency: 4 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'nas-flags-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const env = { NAS_DATA_DIR: join(dir, 'data') };
  const search = ['search', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '5'];
  const run = ['run', '--dataset', 'synthetic', '--device', 'node-tflite-wasm', '--target-ms', '5'];
  const cases: [string[], string][] = [
    [[...search, '--trials', 'abc'], '--trials must be a positive integer, got "abc"'],
    [[...search, '--budget-minutes', '1e999'], '--budget-minutes must be a positive number, got "1e999"'],
    [[...search, '--seed', '-1'], '--seed must be a non-negative integer, got "-1"'],
    [[...run, '--epochs', '2.5'], '--epochs must be a positive integer, got "2.5"'],
    [['arch', 'sample', '--seed', '2.5'], '--seed must be a non-negative integer, got "2.5"'],
    [['serve', '--port', 'abc'], '--port must be an integer in [0, 65535], got "abc"'],
    [['train-export', '--dataset', 'synthetic', '--seed', '-1'], '--seed must be a non-negative integer, got "-1"'],
    [['export', '--arch', 'proxy-small', '--input', '32x32x3', '--classes', '1e999', '--format', 'tflite'], '--classes must be a positive integer, got "1e999"'],
    [['worker', '--redis', 'redis://127.0.0.1:1', '--concurrency', '2.5'], '--concurrency must be a positive integer, got "2.5"'],
  ];
  for (const [args, message] of cases) {
    it(`nas ${args.join(' ')}`, async () => {
      const r = await nas(args, { env });
      assert.equal(r.code, 2, r.err + r.out);
      assert.deepEqual(errorLines(r.err), [`error: ${message}`]);
    });
  }
});

describe('no CLI module parses numbers by itself', () => {
  it('src/cli/*.ts other than flags.ts call no Number(), parseInt() or parseFloat() on a value', () => {
    const cliDir = join(import.meta.dirname, '..', '..', 'src', 'cli');
    const found: string[] = [];
    for (const f of readdirSync(cliDir).filter((x) => x.endsWith('.ts') && x !== 'flags.ts')) {
      readFileSync(join(cliDir, f), 'utf8').split('\n').forEach((line, i) => {
        if (/\b(?:Number|parseInt|parseFloat)\(/.test(line.replace(/Number\(process\.exitCode/g, ''))) found.push(`src/cli/${f}:${i + 1}: ${line.trim()}`);
      });
    }
    assert.deepEqual(found, [], 'use numberFlag (src/cli/flags.ts)');
  });
});
