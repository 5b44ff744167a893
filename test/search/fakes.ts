// Test doubles for the search runner: an in-process executor whose accuracy
// is a deterministic function of the architecture, failing where told.

import { createHash } from 'node:crypto';
import type { TrialExecutor, TrialOutcome, TrialRequest } from '../../src/search/executor.ts';

export interface FakeExecutorOptions {
  concurrency?: number;
  /** fail trials whose canonical arch JSON hashes into this predicate */
  fail?: (archJson: string, request: TrialRequest) => boolean;
}

export function archAccuracy(archJson: string): number {
  const h = createHash('sha256').update(archJson).digest();
  return 0.5 + (h[0]! / 255) * 0.4;
}

export class FakeExecutor implements TrialExecutor {
  readonly concurrency: number;
  readonly requests: TrialRequest[] = [];
  constructor(private readonly o: FakeExecutorOptions = {}) {
    this.concurrency = o.concurrency ?? 2;
  }
  async run(request: TrialRequest): Promise<TrialOutcome> {
    this.requests.push(request);
    await new Promise((r) => setTimeout(r, 2));
    if (this.o.fail?.(request.arch, request)) {
      return { ok: false, id: request.id, workerPid: 1, wallMs: 2, kind: 'error', error: { name: 'Error', message: 'fake training failure' } };
    }
    const acc = archAccuracy(request.arch);
    const epoch = { attempt: 1, epoch: 1, trainLoss: 1, trainAccuracy: acc, valLoss: 1, valAccuracy: acc, learningRate: 0.1, imagesPerSec: 1, elapsedMs: 1, numTensors: 0 };
    return {
      ok: true, id: request.id, workerPid: 1, wallMs: 2,
      result: {
        valAccuracy: acc, valLoss: 1, epochs: [epoch], lossCurve: [1], imagesPerSec: 1, trainImages: 1, valImages: 1, resolution: 12,
        numClasses: 3, restarts: 0, learningRate: 0.1, params: 1, wallMs: 2, backend: 'fake', preprocessing: { scale: 1, offset: 0, resolution: 12, channels: 1 },
      },
    };
  }
  async close(): Promise<void> {}
}

import type { Decisions } from '../../src/space/sampler.ts';
import type { Observation, Proposal, SearchStrategy, StrategyStats } from '../../src/search/strategy.ts';

/** Proposes the given decisions in order (cycling), records observations; full JSON state. */
export class ScriptedStrategy implements SearchStrategy {
  readonly name = 'random' as const;
  private next = 0;
  private pending: string[] = [];
  observed: Observation[] = [];
  /** batch: like an RL controller, propose at most `batch` then wait until all of them are observed */
  constructor(private readonly script: Decisions[], private readonly batch = Infinity) {}
  propose(n: number): Proposal[] {
    const out: Proposal[] = [];
    if (this.batch !== Infinity && this.pending.length > 0 && this.next % this.batch === 0) return out;
    for (let i = 0; i < n; i++) {
      if (this.batch !== Infinity && i > 0 && this.next % this.batch === 0) break;
      const id = `p${this.next}`;
      out.push({ proposalId: id, decisions: this.script[this.next % this.script.length]!.map((b) => [...b]) });
      this.pending.push(id);
      this.next++;
    }
    return out;
  }
  observe(obs: Observation): void {
    const i = this.pending.indexOf(obs.proposalId);
    if (i < 0) throw new Error(`observe of unknown or already observed proposal ${obs.proposalId}`);
    this.pending.splice(i, 1);
    this.observed.push(obs);
  }
  getState(): unknown {
    return { next: this.next, pending: this.pending, observed: this.observed };
  }
  setState(state: unknown): void {
    const s = state as { next: number; pending: string[]; observed: Observation[] };
    this.next = s.next;
    this.pending = [...s.pending];
    this.observed = [...s.observed];
  }
  stats(): StrategyStats {
    const r = this.observed.map((o) => o.reward ?? 0);
    const curve: number[] = [];
    for (let i = 0; i + 2 <= r.length; i += 2) curve.push((r[i]! + r[i + 1]!) / 2);
    return { updates: curve.length, rewardCurve: curve };
  }
  dispose(): void {}
}
