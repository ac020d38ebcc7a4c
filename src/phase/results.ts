/**
 * A sweep's results, from raw runs to labelled cells: the planning of runs and chunks, the outputs of finished
 * chunks gathered by cell, and every cell labelled and scored against theory. Nothing here touches Node: the
 * command line (sweep.ts) and the browser explorer share it, so both produce the same results.json.
 */
import type { ChunkRun, RunOutput } from './chunk.ts';
import type { Comparison } from './compare.ts';
import { aggregateRuns, classifyExtraFeature, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, labelNeurons, type FeatureRun, type FeatureThresholds, type NeuronLabel, type NeuronThresholds } from './classify.ts';
import { cellsOf, isFeatureExperiment, runSeed, SHAPES, type Cell, type SweepConfig } from './experiments.ts';
import { theoryRegime, type FeatureExperiment, type FeatureRegime } from './theory.ts';
import { featureMetrics } from '../toy/metrics.ts';
import { pow } from '../math.ts';

/** A cell of a feature phase diagram: the extra feature's empirical and theoretical regime, and its runs. */
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

/** A density cell of a neuron experiment: the best model's neurons labelled, and each run's monosemantic count. */
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
  /** The best model's weights, feature by feature (n x m, row-major): the explorer draws its arrows and W^T W. */
  W: number[];
  runs: Array<{ seed: number; loss: number; represented: number }>;
}

/** How often a feature sweep's empirical regimes match the theory's, as shares in [0, 1]. */
export interface Agreement {
  /** Share of all cells whose empirical regime equals the theory's. */
  all: number;
  /** The same over cells more than one grid step away from a theoretical boundary. */
  awayFromBoundary: number;
  cells: number;
  cellsAway: number;
}

/** A finished sweep: its configuration, labelled cells, agreement with theory (feature sweeps) and warnings. */
export interface SweepResults {
  experiment: SweepConfig['experiment'];
  config: SweepConfig & { thresholds: FeatureThresholds | NeuronThresholds };
  cells: Array<FeatureCell | NeuronCell | GeometryCell>;
  agreement: Agreement | null;
  /** Runs whose training looks wrong (collapsed weights, a loss that rose), when there are any. */
  warnings?: RunWarning[];
}

/** A run whose training looks wrong, located by cell and seed index. */
export interface RunWarning {
  cell: number;
  /** The run's seed index in its cell. */
  k: number;
  density: number;
  importance: number | null;
  message: string;
}


/** The raw outputs of a sweep (or of one shard of it): every run's loss and weights by cell index. */
export type SweepRuns = Record<string, Array<{ k: number; loss: number; W: number[]; W2: number[] | null; b: number[]; warning?: string }>>;
/** The saved outputs of one cell's runs. */
type RunOutputs = SweepRuns[string];

/** Cells cut into chunks: about two per worker, at most maxInstances runs each. */
export function chunksOf(config: SweepConfig, cells: Cell[], workers: number, maxInstances: number): Cell[][] {
  const perCell = config.seeds;
  const cellsPerChunk = Math.max(1, Math.min(Math.floor(maxInstances / perCell), Math.ceil(cells.length / (2 * workers))));
  const chunks: Cell[][] = [];
  for (let i = 0; i < cells.length; i += cellsPerChunk) chunks.push(cells.slice(i, i + cellsPerChunk));
  return chunks;
}

/** Every (cell, seed) run of the cells, with its importance and seed. */
export function runsOf(config: SweepConfig, cells: Cell[]): ChunkRun[] {
  const shape = SHAPES[config.experiment];
  return cells.flatMap((cell) =>
    Array.from({ length: config.seeds }, (_, k) => ({ cell: cell.index, k, density: cell.density, importance: shape.importance(cell.importance ?? 1), seed: runSeed(config, cell, k) })),
  );
}

/** Add a finished chunk's outputs to `runs`, as plain arrays (the form partial.json and shards store). */
export function addOutputs(runs: SweepRuns, outputs: readonly RunOutput[]): void {
  for (const o of outputs) (runs[o.cell] ??= []).push({ k: o.k, loss: o.loss, W: [...o.W], W2: o.W2 ? [...o.W2] : null, b: [...o.b], ...(o.warning ? { warning: o.warning } : {}) });
}

/** The runs of `cells`, each cell's in seed order (chunks may finish in any order). */
export function sortedRuns(runs: SweepRuns, cells: readonly Cell[]): SweepRuns {
  const out: SweepRuns = {};
  for (const c of cells) out[c.index] = [...runs[c.index]].sort((a, b) => a.k - b.k);
  return out;
}

/**
 * Label every cell from the raw runs and score agreement with theory. All cells of the sweep must be present,
 * unless `partial` (a sweep still running): then the finished cells only.
 */
export function assembleResults(config: SweepConfig, runs: SweepRuns, thresholds: { feature?: FeatureThresholds; neuron?: NeuronThresholds } = {}, partial = false): SweepResults {
  const featureThresholds = thresholds.feature ?? DEFAULT_FEATURE_THRESHOLDS;
  const neuronThresholds = thresholds.neuron ?? DEFAULT_NEURON_THRESHOLDS;
  const shape = SHAPES[config.experiment];
  const isFeature = isFeatureExperiment(config.experiment);
  const usesFeatureThresholds = isFeature || config.experiment === 'intro';
  const results: SweepResults = { experiment: config.experiment, config: { ...config, thresholds: usesFeatureThresholds ? featureThresholds : neuronThresholds }, cells: [], agreement: null };
  const warnings: RunWarning[] = [];
  for (const cell of cellsOf(config)) {
    const cellRuns = runs[cell.index];
    if (cellRuns === undefined && partial) continue;
    if (cellRuns === undefined) throw new Error(`assembleResults: no runs for cell ${cell.index} (density ${cell.density}${cell.importance === null ? '' : `, importance ${cell.importance}`})`);
    if (isFeatureExperiment(config.experiment)) results.cells.push(featureCell(config, config.experiment, cell, cellRuns, featureThresholds));
    else if (config.experiment === 'intro') results.cells.push(geometryCell(cell, cellRuns, shape.features, shape.hidden, featureThresholds));
    else results.cells.push(neuronCell(cell, cellRuns, shape.features, shape.hidden, neuronThresholds));
    for (const r of cellRuns) if (r.warning) warnings.push({ cell: cell.index, k: r.k, density: cell.density, importance: cell.importance, message: r.warning });
  }
  if (isFeature) results.agreement = agreementOf(results.cells as FeatureCell[]);
  if (warnings.length) results.warnings = warnings;
  return results;
}

/** The warning lines of a sweep, or of both variants of a comparison (each line prefixed A: or B:). */
export function runWarnings(results: SweepResults | { kind: 'comparison'; resultsA: SweepResults; resultsB: SweepResults }): string[] {
  if ('kind' in results && results.kind === 'comparison') return [...warningLines(results.resultsA).map((l) => `A: ${l}`), ...warningLines(results.resultsB).map((l) => `B: ${l}`)];
  return warningLines(results as SweepResults);
}

/** A sweep's warnings as lines for a terminal: the first `most`, and how many more. */
export function warningLines(results: SweepResults, most = 10): string[] {
  const all = results.warnings ?? [];
  const lines = all.slice(0, most).map((w) => `warning: cell ${w.cell} (density ${Number(w.density.toPrecision(4))}${w.importance === null ? '' : `, importance ${Number(w.importance.toPrecision(4))}`}), seed ${w.k}: ${w.message}`);
  if (all.length > most) lines.push(`warning: and ${all.length - most} more runs (results.json lists them all under "warnings")`);
  return lines;
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
    for (const a of [-1, 0, 1]) for (const b of [-1, 0, 1]) if (theoryRegime(experiment, s * pow(ds, a), r * pow(dr, b)) !== theory) nearBoundary = true;
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
    W: round(Array.from(best.r.W)),
    runs: measured.map(({ r, f }) => ({ seed: r.k, loss: r.loss, represented: count(f.norms) })),
  };
}

export function agreementOf(cells: readonly FeatureCell[]): Agreement {
  const share = (cs: readonly FeatureCell[]) => (cs.length === 0 ? NaN : cs.filter((c) => c.regime === c.theory).length / cs.length);
  const away = cells.filter((c) => !c.nearBoundary);
  return { all: share(cells), awayFromBoundary: share(away), cells: cells.length, cellsAway: away.length };
}

/** A share as a percentage, or "n/a" for a share of no cells (a grid too coarse to have any away from a boundary). */
export const percent = (x: number): string => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');

/** One line with the numbers a run is about: agreement with theory, neuron or feature counts, or a comparison. */
export function headline(results: SweepResults | Comparison): string {
  if ('kind' in results) {
    const d = results.summary.lossDiff;
    return `${results.summary.changed} of ${results.summary.cells} cells change label; mean loss B - A ${d.mean.toExponential(3)} (95% bootstrap interval ${d.low.toExponential(3)} .. ${d.high.toExponential(3)}, ${d.n} seeds)`;
  }
  if (results.agreement) {
    const a = results.agreement;
    return `agreement with theory: ${percent(a.all)} of ${a.cells} cells, ${percent(a.awayFromBoundary)} of the ${a.cellsAway} cells away from a boundary`;
  }
  if (results.experiment === 'intro') return `features represented by density: ${(results.cells as GeometryCell[]).map((c) => `${c.density.toPrecision(3)}: ${c.represented}`).join(', ')}`;
  return `monosemantic neurons by density: ${(results.cells as NeuronCell[]).map((c) => `${c.density}: ${c.monosemantic}`).join(', ')}`;
}
