/**
 * The sweeps the toolkit knows: which model, which importances, which densities, and how a cell's runs are
 * seeded. A run's seed is derived from (global seed, the cell's own coordinates, seed index), never from its
 * position in the grid or in a batch, so a cell's result does not depend on grid order, batching or workers.
 */
import { presetImportance } from '../toy/presets.ts';
import { deriveSeed } from '../random.ts';
import type { ModelKind } from '../toy/model.ts';
import type { Schedule } from '../toy/train.ts';
import type { FeatureExperiment } from './theory.ts';
import { exp, log } from '../math.ts';

/** A sweep the toolkit runs: a feature phase diagram, the neuron or computation model, or the intro model. */
export type ExperimentName = FeatureExperiment | 'neuron' | 'computation' | 'intro';
/** Every experiment name (the choices of the --experiment flag). */
export const EXPERIMENTS: readonly ExperimentName[] = ['feature-2x1', 'feature-3x2', 'neuron', 'computation', 'intro'];

/** Everything that defines a sweep: the experiment, its grid of cells, the seeds and the training settings. */
export interface SweepConfig {
  experiment: ExperimentName;
  /** Feature density (1 - S) values: the diagram's rows (feature experiments) or its x axis (neuron experiments). */
  densities: number[];
  /** Relative importance of the extra feature: the diagram's columns (feature experiments only). */
  importances: number[];
  seeds: number;
  steps: number;
  batch: number;
  lr: number;
  optimizer: 'adamw' | 'adam';
  /** Learning-rate schedule (the notebook's constant, linear or cosine decay). */
  schedule: Schedule;
  seed: number;
  /** Initial W: per-instance Xavier (default) or the notebook's 3-D fan. */
  init: 'per-instance' | 'notebook';
  /**
   * Each run's loss (which picks a cell's best run and feeds comparisons) is measured on a fresh batch of this
   * size; 0 uses the mean training loss of the last 100 steps instead.
   */
  evalBatch: number;
}

/** The model an experiment trains: its kind, sizes and feature importances. */
export interface ExperimentShape {
  kind: ModelKind;
  features: number;
  hidden: number;
  /** Importance of each feature in a cell with extra-feature importance r (ignored by neuron experiments). */
  importance(r: number): number[];
}

/** The model of each experiment; e.g. feature-2x1 is 2 features in 1 hidden dimension with importances [1, r]. */
export const SHAPES: Record<ExperimentName, ExperimentShape> = {
  'feature-2x1': { kind: 'relu-output', features: 2, hidden: 1, importance: (r) => [1, r] },
  'feature-3x2': { kind: 'relu-output', features: 3, hidden: 2, importance: (r) => [1, 1, r] },
  neuron: { kind: 'relu-hidden', features: 10, hidden: 5, importance: () => presetImportance('neuron') },
  computation: { kind: 'abs', features: 100, hidden: 40, importance: () => presetImportance('computation') },
  intro: { kind: 'relu-output', features: 5, hidden: 2, importance: () => presetImportance('intro') },
};

export const isFeatureExperiment = (e: ExperimentName): e is FeatureExperiment => e === 'feature-2x1' || e === 'feature-3x2';

/**
 * count values from lo to hi, evenly spaced in log scale, the ends exact. Built from src/math.ts's exp and log,
 * which give the same bits in every engine (Math's do not), so a grid is the same in Node and a browser.
 */
export function logspace(lo: number, hi: number, count: number): number[] {
  if (count === 1) return [Math.sqrt(lo * hi)];
  const [a, b] = [log(lo), log(hi)];
  return Array.from({ length: count }, (_, i) => (i === 0 ? lo : i === count - 1 ? hi : exp(a + ((b - a) * i) / (count - 1))));
}

export { COMPUTATION_DENSITIES, INTRO_DENSITIES, NEURON_DENSITIES } from '../toy/presets.ts';

/** One grid point of a sweep, with its index in the grid (density-major for feature experiments). */
export interface Cell {
  index: number;
  density: number;
  /** Extra-feature importance (feature experiments), else null. */
  importance: number | null;
}

/** The cells of a sweep: densities x importances (density-major) for feature experiments, densities alone otherwise. */
export function cellsOf(config: SweepConfig): Cell[] {
  if (!isFeatureExperiment(config.experiment)) return config.densities.map((density, index) => ({ index, density, importance: null }));
  return config.densities.flatMap((density, di) => config.importances.map((importance, ri) => ({ index: di * config.importances.length + ri, density, importance })));
}

/** The seed of run k of a cell, from the cell's coordinates (not its index). */
export function runSeed(config: SweepConfig, cell: Cell, k: number): string {
  return deriveSeed(`${config.seed}/${config.experiment}`, cell.density, cell.importance ?? -1, k);
}
