/**
 * Training one chunk of a sweep: a set of (cell, seed) runs trained as the instances of one batched model.
 * Used in the main thread and inside worker threads alike, so both produce the same bytes.
 */
import { train, type BatchSourceFactory } from '../toy/train.ts';
import { cellsOf, SHAPES, type SweepConfig } from './experiments.ts';

export interface ChunkRun {
  cell: number;
  k: number;
  density: number;
  /** Importance of every feature in this run. */
  importance: number[];
  seed: string;
}

export interface RunOutput {
  cell: number;
  k: number;
  /** Loss on the evaluation batch, or the mean training loss over the last steps when evalBatch is 0. */
  loss: number;
  /** This instance's W (features x hidden), W2 for the |x| model, and b. */
  W: Float32Array;
  W2: Float32Array | null;
  b: Float32Array;
  /** What looks wrong with the run (collapsed weights, a loss that rose), when something does. */
  warning?: string;
}

/**
 * Train the runs as one batched model; onSteps(n) reports n more steps done (every 50 steps, for progress).
 * `batches`: where the batches come from (a sampler thread's, see sweep.ts; the same bytes).
 */
export function trainChunk(config: SweepConfig, runs: readonly ChunkRun[], onSteps?: (steps: number) => void, batches?: BatchSourceFactory): RunOutput[] {
  const shape = SHAPES[config.experiment];
  const { features: n, hidden: m } = shape;
  const I = runs.length;
  const result = train({
    // The notebook's init scales with every instance of the sweep, not with this chunk's share of them.
    model: { kind: shape.kind, instances: I, features: n, hidden: m, init: config.init, fanInstances: cellsOf(config).length * config.seeds },
    importance: runs.map((r) => r.importance),
    density: runs.map((r) => r.density),
    batch: config.batch,
    steps: config.steps,
    lr: config.lr,
    optimizer: config.optimizer,
    schedule: config.schedule,
    seed: config.seed,
    instanceSeeds: runs.map((r) => r.seed),
    evalBatch: config.evalBatch,
    name: `${config.experiment} cells ${runs[0].cell}..${runs[I - 1].cell}`,
  }, onSteps && ((step) => (step + 1) % 50 === 0 && onSteps(50)), batches);
  const { W, W2, b } = result.model;
  return runs.map((r, i) => ({
    cell: r.cell,
    k: r.k,
    loss: result.evalLosses ? result.evalLosses[i] : result.finalLosses[i],
    W: W.data.slice(i * n * m, (i + 1) * n * m),
    W2: W2 ? W2.data.slice(i * m * n, (i + 1) * m * n) : null,
    b: b.data.slice(i * n, (i + 1) * n),
    ...(result.warnings[i] ? { warning: result.warnings[i]! } : {}),
  }));
}
