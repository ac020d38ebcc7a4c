/**
 * The flags that define a sweep (experiment, grid, training and labelling settings), shared by the scripts that
 * run sweeps (phase-diagram.ts, compare.ts): one declaration, one validation, one way to build the config.
 */
import { parseFlags, type Values } from '../cli.ts';
import type { Schedule } from '../toy/train.ts';
import { AGGREGATIONS, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, type Aggregation, type FeatureThresholds, type NeuronThresholds } from './classify.ts';
import { COMPUTATION_DENSITIES, EXPERIMENTS, INTRO_DENSITIES, isFeatureExperiment, logspace, NEURON_DENSITIES, type ExperimentName, type SweepConfig } from './experiments.ts';

/** Defaults per experiment, chosen so each finishes in minutes on a 2-core machine and matches the paper. */
// The neuron models need the longer cosine-decayed run: at density 1 the ReLU barely privileges the hidden basis
// (any small rotation of the top-5 subspace costs almost nothing), so 3000 constant-lr steps stop before the
// neurons align with features.
export const DEFAULTS: Record<ExperimentName, { grid: number; seeds: number; steps: number; batch: number; lr: number; schedule: Schedule }> = {
  'feature-2x1': { grid: 10, seeds: 5, steps: 2000, batch: 256, lr: 1e-2, schedule: 'constant' },
  'feature-3x2': { grid: 8, seeds: 5, steps: 3000, batch: 256, lr: 1e-2, schedule: 'constant' },
  neuron: { grid: NEURON_DENSITIES.length, seeds: 4, steps: 8000, batch: 128, lr: 1e-2, schedule: 'cosine' },
  computation: { grid: COMPUTATION_DENSITIES.length, seeds: 2, steps: 5000, batch: 128, lr: 1e-2, schedule: 'cosine' },
  intro: { grid: INTRO_DENSITIES.length, seeds: 3, steps: 3000, batch: 1024, lr: 1e-2, schedule: 'constant' },
};

/** The experiment named in argv (its defaults decide the other flags' defaults). */
function experimentIn(argv: readonly string[]): ExperimentName {
  const at = argv.findIndex((a) => a === '--experiment' || a.startsWith('--experiment='));
  const named = at === -1 ? 'feature-2x1' : argv[at].includes('=') ? argv[at].split('=')[1] : argv[at + 1];
  return (EXPERIMENTS as readonly string[]).includes(named) ? (named as ExperimentName) : 'feature-2x1';
}

/** Flag declarations of a sweep, with the defaults of the experiment named in argv. */
export function sweepFlags(argv: readonly string[]) {
  const d = DEFAULTS[experimentIn(argv)];
  return {
    experiment: { kind: 'string', default: 'feature-2x1', choices: EXPERIMENTS, help: 'which sweep' },
    grid: { kind: 'number', default: d.grid, min: 1, max: 200, integer: true, help: 'cells per axis (feature sweeps: grid x grid; density sweeps: densities, log-spaced 1..0.01 when set)' },
    seeds: { kind: 'number', default: d.seeds, min: 1, max: 1000, integer: true, help: 'models trained per cell' },
    steps: { kind: 'number', default: d.steps, min: 1, max: 1e7, integer: true, help: 'training steps' },
    batch: { kind: 'number', default: d.batch, min: 1, max: 1 << 16, integer: true, help: 'batch size' },
    lr: { kind: 'number', default: d.lr, min: 1e-7, max: 10, help: 'learning rate' },
    optimizer: { kind: 'string', default: 'adamw', choices: ['adamw', 'adam'], help: 'AdamW (wd 1e-2, the notebook) or Adam' },
    schedule: { kind: 'string', default: d.schedule, choices: ['constant', 'linear', 'cosine'], help: "learning-rate schedule (the notebook's)" },
    init: { kind: 'string', default: 'per-instance', choices: ['per-instance', 'notebook'], help: "initial W: per-instance Xavier or the notebook's 3-D fan" },
    seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32 - 1, integer: true, help: 'global seed (runs derive theirs from it and their cell)' },
    'eval-batch': { kind: 'number', default: 8192, min: 0, max: 1 << 20, integer: true, help: "size of the fresh batch each final model's loss is measured on (0: mean training loss of the last 100 steps)" },
    'norm-threshold': { kind: 'number', default: DEFAULT_FEATURE_THRESHOLDS.normThreshold, min: 0, max: 10, help: 'a feature is not represented below this ||W_i||' },
    'superposition-threshold': { kind: 'number', default: DEFAULT_FEATURE_THRESHOLDS.superpositionThreshold, min: 0, max: 10, help: 'superposition at or above this sum_j (W^_e.W_j)^2, else dedicated' },
    aggregate: { kind: 'string', default: DEFAULT_FEATURE_THRESHOLDS.aggregation, choices: AGGREGATIONS, help: "a cell's label: the lowest-loss run's, or the majority after dropping the worst" },
    monosemanticity: { kind: 'number', default: DEFAULT_NEURON_THRESHOLDS.monosemanticity, min: 0, max: 1, help: 'a neuron is monosemantic above this max|W_fn|/||W_.n||' },
  } as const;
}

export type SweepFlagValues = Values<ReturnType<typeof sweepFlags>>;

/** The sweep that command-line arguments describe (only sweep flags), as the CLI would parse them. */
export function sweepFromArgs(argv: readonly string[]): ReturnType<typeof sweepFromFlags> {
  return sweepFromFlags(parseFlags(argv, sweepFlags(argv), 'sweep flags (those of phase-diagram.ts)'), argv);
}

/** The sweep configuration and labelling thresholds the flags describe. */
export function sweepFromFlags(flags: SweepFlagValues, argv: readonly string[]): { config: SweepConfig; thresholds: { feature: FeatureThresholds; neuron: NeuronThresholds } } {
  const experiment = flags.experiment as ExperimentName;
  const gridGiven = argv.some((a) => a === '--grid' || a.startsWith('--grid='));
  const fixed: Partial<Record<ExperimentName, number[]>> = { neuron: NEURON_DENSITIES, computation: COMPUTATION_DENSITIES, intro: INTRO_DENSITIES };
  const densities = isFeatureExperiment(experiment) ? logspace(0.01, 1, flags.grid) : gridGiven ? logspace(0.01, 1, flags.grid).reverse() : fixed[experiment]!;
  const config: SweepConfig = {
    experiment,
    densities,
    importances: isFeatureExperiment(experiment) ? logspace(0.1, 10, flags.grid) : [],
    seeds: flags.seeds,
    steps: flags.steps,
    batch: flags.batch,
    lr: flags.lr,
    optimizer: flags.optimizer as 'adamw' | 'adam',
    schedule: flags.schedule as Schedule,
    seed: flags.seed,
    init: flags.init as 'per-instance' | 'notebook',
    evalBatch: flags['eval-batch'],
  };
  const thresholds = {
    feature: { normThreshold: flags['norm-threshold'], superpositionThreshold: flags['superposition-threshold'], aggregation: flags.aggregate as Aggregation },
    neuron: { ...DEFAULT_NEURON_THRESHOLDS, monosemanticity: flags.monosemanticity },
  };
  return { config, thresholds };
}
