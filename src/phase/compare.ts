/**
 * Paired comparisons of two variants of a sweep: the same cells, seeds, and (where the variants allow it) the
 * same initial weights and data streams, so each difference is measured run against run. Loss differences get
 * bootstrap confidence intervals over seeds; labels (regimes, monosemantic neurons, represented features) are
 * set side by side; final weights are compared run by run.
 */
import { createRng } from '../random.ts';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import { cellsOf, type SweepConfig } from './experiments.ts';
import { assembleResults, trainSweep, type FeatureCell, type GeometryCell, type NeuronCell, type Shard, type SweepResults, type SweepRuns } from './sweep.ts';

/** One side of a comparison: a sweep configuration and the thresholds that label its cells. */
export interface Variant {
  /** How the user wrote it, e.g. "--optimizer adam". */
  label: string;
  config: SweepConfig;
  thresholds: { feature: FeatureThresholds; neuron: NeuronThresholds };
}

/** A mean over seeds with its 95% bootstrap interval [low, high] and sample size n. */
export interface Interval {
  mean: number;
  /** 95% bootstrap percentile interval of the mean over seeds. */
  low: number;
  high: number;
  n: number;
}

/** One cell of a comparison: its label in each variant, the paired loss difference and the weight differences. */
export interface ComparedCell {
  density: number;
  importance: number | null;
  /** The cell's label in A and B: a regime, or a count of monosemantic neurons / represented features. */
  labelA: string;
  labelB: string;
  changed: boolean;
  /** Loss of B minus loss of A, paired by seed. */
  lossDiff: Interval;
  /** Per seed: ||W_B - W_A||_F, and the same relative to ||W_A||_F. */
  weightDiff: number[];
  relativeWeightDiff: number[];
}

/** A paired comparison of two variants of one sweep, cell by cell, with both variants' full results. */
export interface Comparison {
  kind: 'comparison';
  experiment: SweepConfig['experiment'];
  a: Variant;
  b: Variant;
  /** What the two variants share, as printed. */
  shared: { seeds: boolean; initialWeights: boolean; data: boolean; notes: string[] };
  /** Bootstrap resamples behind every interval (kept so a merge or --verify recomputes the same intervals). */
  resamples: number;
  cells: ComparedCell[];
  summary: { cells: number; changed: number; lossDiff: Interval };
  resultsA: SweepResults;
  resultsB: SweepResults;
}

/** How a comparison is trained and its intervals computed. */
export interface CompareOptions {
  workers?: number;
  /** Kernel backend for worker threads (the main thread's is set by the caller); default 'js'. */
  backend?: string;
  /** Bootstrap resamples per interval. */
  resamples?: number;
  /** Progress of variant 'a' or 'b': the fraction of its run-steps done, from 0 to 1. */
  onProgress?: (variant: 'a' | 'b', fraction: number) => void;
}

/** What two configs share, and why not where they do not. Throws when they cannot be paired at all. */
export function sharedBetween(a: SweepConfig, b: SweepConfig): Comparison['shared'] {
  const mismatch = (['experiment', 'densities', 'importances', 'seeds', 'seed'] as const).filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]));
  if (mismatch.length > 0) throw new RangeError(`compare: the variants must share the sweep to be paired; they differ in ${mismatch.join(', ')}`);
  const notes = ['seeds: shared (every run derives its seed from the global seed and its cell)'];
  const initialWeights = a.init === b.init;
  notes.push(initialWeights ? 'initial weights: shared (same init scheme and model)' : `initial weights: differ (init ${a.init} vs ${b.init})`);
  const data = a.batch === b.batch;
  notes.push(data ? `data: shared (same batch size; the first ${Math.min(a.steps, b.steps)} batches are identical)` : `data: differ (batch ${a.batch} vs ${b.batch})`);
  return { seeds: true, initialWeights, data, notes };
}

/** Mean and 95% percentile bootstrap interval of xs, resampled with a seeded generator. */
export function bootstrapMean(xs: readonly number[], resamples: number, seed: string): Interval {
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  if (n < 2) return { mean, low: mean, high: mean, n };
  const rng = createRng(seed);
  const means = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += xs[rng.uint32() % n];
    means[r] = s / n;
  }
  means.sort();
  return { mean, low: means[Math.floor(0.025 * (resamples - 1))], high: means[Math.ceil(0.975 * (resamples - 1))], n };
}

function labelOf(cell: FeatureCell | NeuronCell | GeometryCell): string {
  if ('regime' in cell) return cell.regime;
  if ('monosemantic' in cell) return `${cell.monosemantic} monosemantic`;
  return `${cell.represented} represented`;
}

const frobenius = (x: readonly number[]): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));

/** Train both variants (the cells of `shard` only, when given): the raw runs of A and of B. */
export async function trainComparison(a: Variant, b: Variant, options: CompareOptions & { shard?: Shard } = {}): Promise<[SweepRuns, SweepRuns]> {
  sharedBetween(a.config, b.config);
  const train = (v: Variant, which: 'a' | 'b'): Promise<SweepRuns> =>
    trainSweep(v.config, { workers: options.workers, backend: options.backend, shard: options.shard, onProgress: (p) => options.onProgress?.(which, p.runSteps / p.runStepsTotal) });
  return [await train(a, 'a'), await train(b, 'b')];
}

/** Train both variants and pair their runs into a Comparison (2000 bootstrap resamples by default). */
export async function compare(a: Variant, b: Variant, options: CompareOptions = {}): Promise<Comparison> {
  const [runsA, runsB] = await trainComparison(a, b, options);
  return assembleComparison(a, b, runsA, runsB, options.resamples);
}

/** Pair the runs of A and B cell by cell and seed by seed (every cell of the sweep must be present). */
export function assembleComparison(a: Variant, b: Variant, runsA: SweepRuns, runsB: SweepRuns, resamples = 2000): Comparison {
  const shared = sharedBetween(a.config, b.config);
  const resultsA = assembleResults(a.config, runsA, a.thresholds);
  const resultsB = assembleResults(b.config, runsB, b.thresholds);
  const perSeedDiffs: number[][] = Array.from({ length: a.config.seeds }, () => []);
  const cells = cellsOf(a.config).map((cell, i): ComparedCell => {
    const ra = runsA[cell.index];
    const rb = runsB[cell.index];
    const diffs = ra.map((run, k) => rb[k].loss - run.loss);
    diffs.forEach((d, k) => perSeedDiffs[k].push(d));
    const weightDiff = ra.map((run, k) => frobenius(run.W.map((w, j) => rb[k].W[j] - w)));
    const labelA = labelOf(resultsA.cells[i]);
    const labelB = labelOf(resultsB.cells[i]);
    return {
      density: cell.density,
      importance: cell.importance,
      labelA,
      labelB,
      changed: labelA !== labelB,
      lossDiff: bootstrapMean(diffs, resamples, `compare/${cell.index}`),
      weightDiff,
      relativeWeightDiff: weightDiff.map((d, k) => d / frobenius(ra[k].W)),
    };
  });
  // The sweep-wide difference: per seed, the mean over cells; then the bootstrap over seeds (paired design).
  const perSeed = perSeedDiffs.map((ds) => ds.reduce((s, d) => s + d, 0) / ds.length);
  return {
    kind: 'comparison',
    experiment: a.config.experiment,
    a,
    b,
    shared,
    resamples,
    cells,
    summary: { cells: cells.length, changed: cells.filter((c) => c.changed).length, lossDiff: bootstrapMean(perSeed, resamples, 'compare/all') },
    resultsA,
    resultsB,
  };
}
