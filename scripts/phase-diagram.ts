/**
 * The main job: train a phase-diagram sweep, label every cell, compare with the closed-form theory, and write
 * results.json, plots and an offline HTML report.
 *
 *   npx tsx scripts/phase-diagram.ts                                   # feature-2x1 on a small default grid (~1 min)
 *   npx tsx scripts/phase-diagram.ts --experiment feature-3x2 --grid 12 --seeds 5
 *   npx tsx scripts/phase-diagram.ts --experiment neuron               # neuron-level phase change (n=10, m=5)
 *   npx tsx scripts/phase-diagram.ts --experiment computation          # the |x| model (n=100, m=40)
 *   npx tsx scripts/phase-diagram.ts --resume --out out/feature-2x1    # continue an interrupted sweep
 *   npx tsx scripts/phase-diagram.ts --shard 0/4 --out shards           # one shard of four (or from Slurm/Kubernetes env)
 *   npx tsx scripts/phase-diagram.ts merge shards --out out/feature-2x1 # the four shards -> what one machine writes
 */
import os from 'node:os';
import { join, resolve } from 'node:path';
import { FlagError, parseFlags } from '../src/cli.ts';
import { getBackend } from '../src/kernels/registry.ts';
import { backendFlag, useBackend } from '../src/kernels/select.ts';
import { AGGREGATIONS, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, type Aggregation } from '../src/phase/classify.ts';
import { COMPUTATION_DENSITIES, EXPERIMENTS, isFeatureExperiment, logspace, NEURON_DENSITIES, type ExperimentName, type SweepConfig } from '../src/phase/experiments.ts';
import { writeReport } from '../src/phase/report.ts';
import { findShardFiles, mergeShards, resolveShard, writeShard } from '../src/phase/shards.ts';
import { assembleResults, configHash, trainSweep, type SweepResults } from '../src/phase/sweep.ts';
import { progress } from '../src/progress.ts';
import type { Schedule } from '../src/toy/train.ts';

/** Defaults per experiment, chosen so each finishes in minutes on a 2-core machine and matches the paper. */
// The neuron models need the longer cosine-decayed run: at density 1 the ReLU barely privileges the hidden basis
// (any small rotation of the top-5 subspace costs almost nothing), so 3000 constant-lr steps stop before the
// neurons align with features.
const DEFAULTS: Record<ExperimentName, { grid: number; seeds: number; steps: number; batch: number; lr: number; schedule: Schedule }> = {
  'feature-2x1': { grid: 10, seeds: 5, steps: 2000, batch: 256, lr: 1e-2, schedule: 'constant' },
  'feature-3x2': { grid: 8, seeds: 5, steps: 3000, batch: 256, lr: 1e-2, schedule: 'constant' },
  neuron: { grid: NEURON_DENSITIES.length, seeds: 4, steps: 8000, batch: 128, lr: 1e-2, schedule: 'cosine' },
  computation: { grid: COMPUTATION_DENSITIES.length, seeds: 2, steps: 5000, batch: 128, lr: 1e-2, schedule: 'cosine' },
};

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'merge') return merge(argv.slice(1));
  const at = argv.findIndex((a) => a === '--experiment' || a.startsWith('--experiment='));
  const named = at === -1 ? 'feature-2x1' : argv[at].includes('=') ? argv[at].split('=')[1] : argv[at + 1];
  const d = DEFAULTS[named as ExperimentName] ?? DEFAULTS['feature-2x1'];
  const flags = parseFlags(argv, {
    experiment: { kind: 'string', default: 'feature-2x1', choices: EXPERIMENTS, help: 'which sweep' },
    grid: { kind: 'number', default: d.grid, min: 1, max: 200, integer: true, help: 'cells per axis (feature sweeps: grid x grid; neuron sweeps: densities, log-spaced 1..0.01 when set)' },
    seeds: { kind: 'number', default: d.seeds, min: 1, max: 1000, integer: true, help: 'models trained per cell' },
    steps: { kind: 'number', default: d.steps, min: 1, max: 1e7, integer: true, help: 'training steps' },
    batch: { kind: 'number', default: d.batch, min: 1, max: 1 << 16, integer: true, help: 'batch size' },
    lr: { kind: 'number', default: d.lr, min: 1e-7, max: 10, help: 'learning rate' },
    optimizer: { kind: 'string', default: 'adamw', choices: ['adamw', 'adam'], help: 'AdamW (wd 1e-2, the notebook) or Adam' },
    schedule: { kind: 'string', default: d.schedule, choices: ['constant', 'linear', 'cosine'], help: "learning-rate schedule (the notebook's)" },
    init: { kind: 'string', default: 'per-instance', choices: ['per-instance', 'notebook'], help: "initial W: per-instance Xavier or the notebook's 3-D fan" },
    backend: backendFlag,
    seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32, integer: true, help: 'global seed (runs derive theirs from it and their cell)' },
    out: { kind: 'string', default: '', help: 'output folder (default out/<experiment>)' },
    workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'worker threads (same bytes for any number)' },
    resume: { kind: 'boolean', default: false, help: 'continue an interrupted sweep in --out' },
    shard: { kind: 'string', default: '', help: 'run only shard K/N (0-based K) of the cells and write shard-K-of-N.json to --out; default from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX' },
    'shard-count': { kind: 'number', default: 0, min: 0, max: 100_000, integer: true, help: 'shard count N for a Kubernetes indexed job (JOB_COMPLETION_INDEX)' },
    'norm-threshold': { kind: 'number', default: DEFAULT_FEATURE_THRESHOLDS.normThreshold, min: 0, max: 10, help: 'extra feature not represented below this ||W_e||' },
    'superposition-threshold': { kind: 'number', default: DEFAULT_FEATURE_THRESHOLDS.superpositionThreshold, min: 0, max: 10, help: 'superposition at or above this sum_j (W^_e.W_j)^2, else dedicated' },
    aggregate: { kind: 'string', default: DEFAULT_FEATURE_THRESHOLDS.aggregation, choices: AGGREGATIONS, help: "a cell's label: the lowest-loss run's, or the majority after dropping the worst" },
    monosemanticity: { kind: 'number', default: DEFAULT_NEURON_THRESHOLDS.monosemanticity, min: 0, max: 1, help: 'a neuron is monosemantic above this max|W_fn|/||W_.n||' },
  });
  const experiment = flags.experiment as ExperimentName;
  await useBackend(flags.backend);
  const gridGiven = argv.some((a) => a === '--grid' || a.startsWith('--grid='));
  const densities = isFeatureExperiment(experiment)
    ? logspace(0.01, 1, flags.grid)
    : gridGiven
      ? logspace(0.01, 1, flags.grid).reverse()
      : experiment === 'neuron'
        ? NEURON_DENSITIES
        : COMPUTATION_DENSITIES;
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
  };
  const out = resolve(flags.out || `out/${experiment}`);
  const thresholds = {
    feature: { normThreshold: flags['norm-threshold'], superpositionThreshold: flags['superposition-threshold'], aggregation: flags.aggregate as Aggregation },
    neuron: { ...DEFAULT_NEURON_THRESHOLDS, monosemanticity: flags.monosemanticity },
  };
  let sharding: ReturnType<typeof resolveShard>;
  try {
    sharding = resolveShard(flags.shard, flags['shard-count']);
  } catch (e) {
    throw new FlagError((e as Error).message);
  }
  const cellCount = isFeatureExperiment(experiment) ? flags.grid ** 2 : densities.length;
  console.log(`phase-diagram: ${experiment}, ${cellCount} cells x ${flags.seeds} seeds, ${flags.steps} steps, batch ${flags.batch}, ${flags.optimizer} lr ${flags.lr} (${flags.schedule}), seed ${flags.seed}, ${flags.workers} worker${flags.workers > 1 ? 's' : ''}, backend ${getBackend().name}`);
  if (sharding) {
    const { index: K, count: N } = sharding.shard;
    console.log(`shard ${K} of ${N} (from ${sharding.source}): the cells whose index is ${K} mod ${N}`);
  }
  const bar = progress('training', 1000, { counts: false });
  const started = performance.now();
  const runs = await trainSweep(config, {
    out: sharding ? join(out, `partial-${sharding.shard.index}-of-${sharding.shard.count}`) : out,
    resume: flags.resume,
    workers: flags.workers,
    shard: sharding?.shard,
    backend: flags.backend,
    onProgress: (p) => bar.update(Math.floor((1000 * p.runSteps) / p.runStepsTotal), `(cells done ${p.cellsDone}/${p.cellsTotal})`),
  });
  bar.finish(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (sharding) {
    const path = writeShard(out, config, sharding.shard, thresholds, runs);
    console.log(`wrote ${path}; once all ${sharding.shard.count} shards are done: npx tsx scripts/phase-diagram.ts merge ${out}`);
    return;
  }
  await report(assembleResults(config, runs, thresholds), out);
}

/** Write results, plots and report, and print where they are and the headline numbers. */
async function report(results: SweepResults, out: string): Promise<void> {
  const files = await writeReport(results, out);
  console.log(`wrote ${files.length} files to ${out}: open ${resolve(out, 'index.html')}`);
  if (results.agreement) {
    const a = results.agreement;
    console.log(`agreement with theory: ${(100 * a.all).toFixed(1)}% of ${a.cells} cells, ${(100 * a.awayFromBoundary).toFixed(1)}% of the ${a.cellsAway} cells away from a boundary`);
  } else {
    const cells = results.cells as Array<{ density: number; monosemantic: number; polysemantic: number }>;
    console.log(`monosemantic neurons by density: ${cells.map((c) => `${c.density}: ${c.monosemantic}`).join(', ')}`);
  }
}

/** `merge DIR... [--out DIR]`: combine the shard files of one sweep into what a single run writes. */
async function merge(argv: string[]): Promise<void> {
  const paths: string[] = [];
  let out = '';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log('usage: npx tsx scripts/phase-diagram.ts merge DIR_OR_SHARD_FILE... [--out DIR]   (default --out: out/<experiment>)');
      return;
    }
    if (a === '--out') out = argv[++i] ?? '';
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a.startsWith('--')) throw new FlagError(`merge: unknown flag ${a} (merge takes shard folders or files, and --out DIR)`);
    else paths.push(a);
  }
  if (paths.length === 0) throw new FlagError('merge: give the folders (or files) holding shard-K-of-N.json');
  const files = findShardFiles(paths);
  const { config, thresholds, runs } = mergeShards(files);
  console.log(`merge: ${files.length} shards of the ${config.experiment} sweep (config hash ${configHash(config)})`);
  await report(assembleResults(config, runs, thresholds), resolve(out || `out/${config.experiment}`));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  if (e instanceof FlagError) {
    console.error(`phase-diagram: ${e.message}`);
    process.exit(2);
  }
  // Expected failures (a missing shard, a resume into another sweep) read best as one line; DEBUG=1 shows where.
  console.error(e instanceof Error ? `phase-diagram: ${process.env.DEBUG ? e.stack : e.message}` : e);
  process.exit(1);
});
