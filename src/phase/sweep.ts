/**
 * Running a sweep: cells and seeds cut into chunks (whole cells, each trained as one batched run), chunks spread
 * over worker threads, finished cells saved atomically as they arrive so an interrupted sweep resumes, and the
 * outputs turned into labelled cells. Every run draws from its own seed, so the bytes of the results do not
 * depend on chunking, the number of workers or interruptions.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { trainChunk, type ChunkRun, type RunOutput } from './chunk.ts';
import { aggregateRuns, classifyExtraFeature, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, labelNeurons, type FeatureRun, type FeatureThresholds, type NeuronLabel, type NeuronThresholds } from './classify.ts';
import { cellsOf, isFeatureExperiment, runSeed, SHAPES, type Cell, type SweepConfig } from './experiments.ts';
import { theoryRegime, type FeatureExperiment, type FeatureRegime } from './theory.ts';
import { featureMetrics } from '../toy/metrics.ts';
import { sha256 } from '../manifest.ts';

export interface FeatureCell {
  density: number;
  importance: number;
  regime: FeatureRegime;
  theory: FeatureRegime;
  /** Loss behind the label: the best run's ('best'), or the mean of the runs kept ('majority'). */
  loss: number;
  /** Within one grid step of a theoretical boundary (a neighbouring grid point has another theoretical regime). */
  nearBoundary: boolean;
  runs: FeatureRun[];
}

export interface NeuronCell {
  density: number;
  /** The lowest-loss run's loss and seed index: the paper shows the best of many models per density. */
  loss: number;
  bestSeed: number;
  neurons: Array<Pick<NeuronLabel, 'regime' | 'monosemanticity' | 'topFeature' | 'weights'>>;
  monosemantic: number;
  polysemantic: number;
  /** For each feature, the neurons it uses. */
  featureNeurons: number[][];
  runs: Array<{ seed: number; loss: number; monosemantic: number }>;
}

/** A density cell of the intro model (5 features in 2 dims): how many features the best model represents. */
export interface GeometryCell {
  density: number;
  loss: number;
  bestSeed: number;
  /** Features with ||W_i|| above the norm threshold, in the best model. */
  represented: number;
  /** D* = m / ||W||_F^2 of the best model. */
  dimensionsPerFeature: number;
  norms: number[];
  superposition: number[];
  runs: Array<{ seed: number; loss: number; represented: number }>;
}

export interface Agreement {
  /** Share of all cells whose empirical regime equals the theory's. */
  all: number;
  /** The same over cells more than one grid step away from a theoretical boundary. */
  awayFromBoundary: number;
  cells: number;
  cellsAway: number;
}

export interface SweepResults {
  experiment: SweepConfig['experiment'];
  config: SweepConfig & { thresholds: FeatureThresholds | NeuronThresholds };
  cells: Array<FeatureCell | NeuronCell | GeometryCell>;
  agreement: Agreement | null;
}

export interface SweepOptions {
  /** Where partial results are saved (and read back with resume). */
  out?: string;
  resume?: boolean;
  workers?: number;
  featureThresholds?: FeatureThresholds;
  neuronThresholds?: NeuronThresholds;
  /** Upper bound on instances per batched run (memory); default from batch and model size (~256 MB per chunk). */
  maxInstancesPerChunk?: number;
  /** Progress in run-steps (one run trained one step), with finished cells; called often from every worker. */
  onProgress?: (p: { runSteps: number; runStepsTotal: number; cellsDone: number; cellsTotal: number }) => void;
  /** Kernel backend for worker threads (the main thread's is set by the caller); default 'js'. */
  backend?: string;
  /** Test hook: stop (throw) after this many chunks, as a crash would. */
  crashAfterChunks?: number;
}

export function configHash(config: SweepConfig): string {
  return sha256(JSON.stringify(config)).slice(0, 16);
}

/** Write a file so that a reader sees the old or the new content, never a torn one. */
export function writeAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

interface PartialFile {
  configHash: string;
  /** Outputs by cell index, as plain arrays. */
  cells: Record<string, Array<{ k: number; loss: number; W: number[]; W2: number[] | null; b: number[] }>>;
}

function chunksOf(config: SweepConfig, cells: Cell[], workers: number, maxInstances: number): Cell[][] {
  const perCell = config.seeds;
  const cellsPerChunk = Math.max(1, Math.min(Math.floor(maxInstances / perCell), Math.ceil(cells.length / (2 * workers))));
  const chunks: Cell[][] = [];
  for (let i = 0; i < cells.length; i += cellsPerChunk) chunks.push(cells.slice(i, i + cellsPerChunk));
  return chunks;
}

function runsOf(config: SweepConfig, cells: Cell[]): ChunkRun[] {
  const shape = SHAPES[config.experiment];
  return cells.flatMap((cell) =>
    Array.from({ length: config.seeds }, (_, k) => ({ cell: cell.index, k, density: cell.density, importance: shape.importance(cell.importance ?? 1), seed: runSeed(config, cell, k) })),
  );
}

/**
 * Run the chunks on `workers` threads (in this thread when 1), calling onChunk as each finishes (in any order)
 * and onRunSteps as training advances.
 */
async function runChunks(config: SweepConfig, chunks: ChunkRun[][], workers: number, backend: string, onChunk: (outputs: RunOutput[]) => void, onRunSteps: (n: number) => void): Promise<void> {
  if (workers <= 1) {
    for (const runs of chunks) onChunk(trainChunk(config, runs, (steps) => onRunSteps(steps * runs.length)));
    return;
  }
  const boot = new URL('./worker-boot.mjs', import.meta.url);
  const entry = new URL('./worker.ts', import.meta.url).href;
  const pool = Array.from({ length: Math.min(workers, chunks.length) }, () => new Worker(boot, { workerData: { entry } }));
  let next = 0;
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = (): void => {
              if (next >= chunks.length) return resolve();
              const id = next++;
              worker.postMessage({ id, config, runs: chunks[id], backend });
            };
            worker.on('message', (msg: { id: number; outputs?: RunOutput[]; steps?: number; error?: string }) => {
              if (msg.error !== undefined) return reject(new Error(msg.error));
              if (msg.steps !== undefined) return onRunSteps(msg.steps * chunks[msg.id].length);
              try {
                onChunk(msg.outputs!);
              } catch (e) {
                return reject(e);
              }
              send();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (next < chunks.length || code !== 0) reject(new Error(`sweep worker exited (code ${code}) with chunks unfinished`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** Sweeps promise the same bytes on every run: a backend chosen by timing cannot keep that promise. */
export const AUTO_REFUSAL = "--backend auto picks each matmul's backend by timing, so a sweep's bytes could change from run to run and between workers; choose js or gpujs:MODE for sweeps";

/** Which cells a shard trains: shard K of N takes the cells whose index is K modulo N (spreads rows evenly). */
export interface Shard {
  index: number;
  count: number;
}

export function inShard(cell: Cell, shard: Shard | undefined): boolean {
  return shard === undefined || cell.index % shard.count === shard.index;
}

/** The raw outputs of a sweep (or of one shard of it): every run's loss and weights by cell index. */
export type SweepRuns = PartialFile['cells'];
/** The saved outputs of one cell's runs. */
type RunOutputs = SweepRuns[string];

/**
 * Train the cells of the sweep (those of `shard` only, when given), resuming from --out's partial.json when
 * asked, and return every run's raw output by cell.
 */
export async function trainSweep(config: SweepConfig, options: SweepOptions & { shard?: Shard } = {}): Promise<SweepRuns> {
  const workers = options.workers ?? os.availableParallelism();
  const shape = SHAPES[config.experiment];
  const cells = cellsOf(config).filter((c) => inShard(c, options.shard));
  const hash = configHash(config);
  const partialPath = options.out ? join(options.out, 'partial.json') : null;
  let partial: PartialFile = { configHash: hash, cells: {} };
  if (partialPath && options.resume && existsSync(partialPath)) {
    const saved = JSON.parse(readFileSync(partialPath, 'utf8')) as PartialFile;
    if (saved.configHash !== hash) {
      throw new Error(`resume: ${partialPath} belongs to a different sweep (config hash ${saved.configHash}, this one ${hash}); use another --out or run without --resume`);
    }
    partial = saved;
  }
  if (options.out) mkdirSync(options.out, { recursive: true });

  const todo = cells.filter((c) => partial.cells[c.index] === undefined);
  const perChunk = options.maxInstancesPerChunk ?? Math.max(config.seeds, Math.floor(256e6 / (config.batch * shape.features * 4 * 24)));
  const chunks = chunksOf(config, todo, workers, perChunk).map((c) => runsOf(config, c));
  let done = cells.length - todo.length;
  let chunksDone = 0;
  const runStepsTotal = cells.length * config.seeds * config.steps;
  let runSteps = done * config.seeds * config.steps;
  const report = (): void => options.onProgress?.({ runSteps, runStepsTotal, cellsDone: done, cellsTotal: cells.length });
  report();
  await runChunks(config, chunks, workers, options.backend ?? 'js', (outputs) => {
    for (const o of outputs) {
      (partial.cells[o.cell] ??= []).push({ k: o.k, loss: o.loss, W: [...o.W], W2: o.W2 ? [...o.W2] : null, b: [...o.b] });
    }
    done += new Set(outputs.map((o) => o.cell)).size;
    if (partialPath) writeAtomic(partialPath, JSON.stringify(partial));
    report();
    if (options.crashAfterChunks !== undefined && ++chunksDone >= options.crashAfterChunks) throw new Error('simulated crash');
  }, (n) => {
    runSteps += n;
    report();
  });
  const runs: SweepRuns = {};
  for (const c of cells) runs[c.index] = [...partial.cells[c.index]].sort((a, b) => a.k - b.k);
  return runs;
}

/** Label every cell from the raw runs (all cells of the sweep must be present) and score agreement with theory. */
export function assembleResults(config: SweepConfig, runs: SweepRuns, thresholds: { feature?: FeatureThresholds; neuron?: NeuronThresholds } = {}): SweepResults {
  const featureThresholds = thresholds.feature ?? DEFAULT_FEATURE_THRESHOLDS;
  const neuronThresholds = thresholds.neuron ?? DEFAULT_NEURON_THRESHOLDS;
  const shape = SHAPES[config.experiment];
  const isFeature = isFeatureExperiment(config.experiment);
  const usesFeatureThresholds = isFeature || config.experiment === 'intro';
  const results: SweepResults = { experiment: config.experiment, config: { ...config, thresholds: usesFeatureThresholds ? featureThresholds : neuronThresholds }, cells: [], agreement: null };
  for (const cell of cellsOf(config)) {
    const cellRuns = runs[cell.index];
    if (cellRuns === undefined) throw new Error(`assembleResults: no runs for cell ${cell.index} (density ${cell.density}${cell.importance === null ? '' : `, importance ${cell.importance}`})`);
    if (isFeatureExperiment(config.experiment)) results.cells.push(featureCell(config, config.experiment, cell, cellRuns, featureThresholds));
    else if (config.experiment === 'intro') results.cells.push(geometryCell(cell, cellRuns, shape.features, shape.hidden, featureThresholds));
    else results.cells.push(neuronCell(cell, cellRuns, shape.features, shape.hidden, neuronThresholds));
  }
  if (isFeature) results.agreement = agreementOf(results.cells as FeatureCell[]);
  return results;
}

/** Train a whole sweep and label it. */
export async function runSweep(config: SweepConfig, options: SweepOptions = {}): Promise<SweepResults> {
  const runs = await trainSweep(config, options);
  return assembleResults(config, runs, { feature: options.featureThresholds, neuron: options.neuronThresholds });
}

/** The run with the lowest loss (the first of equals, i.e. the lowest seed index): a density cell's model. */
function lowestLoss<T extends { r: { loss: number } }>(runs: readonly T[]): T {
  return runs.reduce((a, b) => (b.r.loss < a.r.loss ? b : a));
}

const round = (xs: readonly number[]): number[] => xs.map((v) => Number(v.toPrecision(7)));

function featureCell(config: SweepConfig, experiment: FeatureExperiment, cell: Cell, runs: RunOutputs, t: FeatureThresholds): FeatureCell {
  const { features: n, hidden: m } = SHAPES[experiment];
  const labelled: FeatureRun[] = runs.map((r) => ({
    seed: r.k,
    loss: r.loss,
    ...classifyExtraFeature(Float32Array.from(r.W), 0, n, m, t),
    W: round(r.W),
    b: round(r.b),
  }));
  const agg = aggregateRuns(labelled, t.aggregation);
  const s = cell.density;
  const r = cell.importance!;
  // Neighbouring grid points one step away in log space (diagonals included), extrapolated at the edges.
  const ds = stepRatio(config.densities);
  const dr = stepRatio(config.importances);
  const theory = theoryRegime(experiment, s, r);
  let nearBoundary = ds === null || dr === null;
  if (ds !== null && dr !== null) {
    for (const a of [-1, 0, 1]) for (const b of [-1, 0, 1]) if (theoryRegime(experiment, s * ds ** a, r * dr ** b) !== theory) nearBoundary = true;
  }
  return { density: s, importance: r, regime: agg.regime, theory, loss: agg.loss, nearBoundary, runs: labelled };
}

/** The grid's step as a ratio; a one-value axis has none, and its cells count as near a boundary. */
function stepRatio(values: readonly number[]): number | null {
  return values.length > 1 ? values[1] / values[0] : null;
}

function neuronCell(cell: Cell, runs: RunOutputs, n: number, m: number, t: NeuronThresholds): NeuronCell {
  const labelled = runs.map((r) => ({ r, labels: labelNeurons(Float32Array.from(r.W), 0, n, m, t) }));
  const best = lowestLoss(labelled);
  const count = (ls: NeuronLabel[], regime: string) => ls.filter((l) => l.regime === regime).length;
  return {
    density: cell.density,
    loss: best.r.loss,
    bestSeed: best.r.k,
    neurons: best.labels.neurons.map((l) => ({ regime: l.regime, monosemanticity: Number(l.monosemanticity.toPrecision(7)), topFeature: l.topFeature, weights: round(l.weights) })),
    monosemantic: count(best.labels.neurons, 'monosemantic'),
    polysemantic: count(best.labels.neurons, 'polysemantic'),
    featureNeurons: best.labels.featureNeurons,
    runs: labelled.map(({ r, labels }) => ({ seed: r.k, loss: r.loss, monosemantic: count(labels.neurons, 'monosemantic') })),
  };
}

function geometryCell(cell: Cell, runs: RunOutputs, n: number, m: number, t: FeatureThresholds): GeometryCell {
  const measured = runs.map((r) => ({ r, f: featureMetrics(Float32Array.from(r.W), 0, n, m) }));
  const count = (norms: number[]) => norms.filter((v) => v >= t.normThreshold).length;
  const best = lowestLoss(measured);
  return {
    density: cell.density,
    loss: best.r.loss,
    bestSeed: best.r.k,
    represented: count(best.f.norms),
    dimensionsPerFeature: Number(best.f.dimensionsPerFeature.toPrecision(7)),
    norms: round(best.f.norms),
    superposition: round(best.f.superposition),
    runs: measured.map(({ r, f }) => ({ seed: r.k, loss: r.loss, represented: count(f.norms) })),
  };
}

export function agreementOf(cells: readonly FeatureCell[]): Agreement {
  const share = (cs: readonly FeatureCell[]) => (cs.length === 0 ? NaN : cs.filter((c) => c.regime === c.theory).length / cs.length);
  const away = cells.filter((c) => !c.nearBoundary);
  return { all: share(cells), awayFromBoundary: share(away), cells: cells.length, cellsAway: away.length };
}
