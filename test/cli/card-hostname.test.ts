// The model card names the machine a latency was measured on by its CPU
// model; the host name goes in only when asked (`--card-hostname`).

import { strict as assert } from 'node:assert';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { measuringMachine } from '../../src/export/model-card.ts';
import { nas } from './run-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'nas-card-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const ARCH = 'stem_k3_s1_c8 ir_r1_k3_s1_e1_c8 head_c16';
const cpu = os.cpus()[0]?.model?.trim() || 'unknown CPU';

describe('model card: host name only on request', () => {
  it('measuringMachine: CPU model and load by default, host name first when asked', () => {
    const plain = measuringMachine();
    assert.ok(plain.startsWith(`${cpu} (load average `), plain);
    assert.ok(!plain.includes(os.hostname()) || cpu.includes(os.hostname()), plain);
    assert.ok(measuringMachine({ includeHostname: true }).startsWith(`${os.hostname()} (${cpu}, load average `));
  });

  it('nas export --measure writes no host name; --card-hostname writes it', async () => {
    const args = (out: string) => ['export', '--arch', ARCH, '--input', '12x12x1', '--classes', '3', '--measure', '--out', out];
    const [plain, named] = await Promise.all([
      nas(args(join(dir, 'plain')), { env: { NAS_DATA_DIR: join(dir, 'data') } }),
      nas([...args(join(dir, 'named')), '--card-hostname'], { env: { NAS_DATA_DIR: join(dir, 'data') } }),
    ]);
    assert.equal(plain.code, 0, plain.err);
    assert.equal(named.code, 0, named.err);
    const card = (name: string) => JSON.parse(readFileSync(join(dir, name, 'model-card.json'), 'utf8'));
    const plainText = JSON.stringify(card('plain'));
    assert.ok(card('plain').measuredLatency.device.startsWith(cpu), card('plain').measuredLatency.device);
    assert.ok(!plainText.includes(`"${os.hostname()} (`), 'no host name in the card');
    assert.ok(card('named').measuredLatency.device.startsWith(`${os.hostname()} (${cpu}`), card('named').measuredLatency.device);
  });
});
