/**
 * Train one of the paper's toy-model experiments (one model per density, side by side) and print what each
 * model learned: represented features, dimensions per feature, superposition, monosemantic neurons. The
 * defaults are the official notebook's (10,000 AdamW steps at lr 1e-3, batch 1024).
 *
 *   npx tsx scripts/train.ts --experiment intro                          # the paper's first figure
 *   npx tsx scripts/train.ts --experiment intro --density 1,0.3,0.05 --restarts 4 --json out/intro.json
 *   npx tsx scripts/train.ts --experiment neuron --steps 3000 --lr 1e-2
 *
 * Experiments: intro (5 -> 2), sparsity (100 -> 20), geometry (200 -> 20), neuron (10 -> 5, ReLU hidden
 * layer), computation (100 -> 40, |x|). --json writes every model's weights (the paper's orientation: W is
 * m x n), bias, loss and metrics; the same seed writes the same bytes.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { FlagError, parseFlags, runScript } from '../src/cli.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { describeTrainer } from '../src/toy/train.ts';
import { backendFlag, useBackend } from '../src/kernels/select.ts';
import { manifestOf } from '../src/manifest.ts';
import { writeAtomic } from '../src/phase/sweep.ts';
import { progress } from '../src/progress.ts';
import { featureSets, SET_DENSITIES, type FeatureSet, type SetDensity } from '../src/toy/data.ts';
import { describePreset, parseImportance, PRESET_NAMES, PRESETS, presetConfig, type ImportanceRule, type PresetName, type TrainDocument } from '../src/toy/presets.ts';
import { trainParallel } from '../src/toy/train-parallel.ts';
import os from 'node:os';
import type { Schedule } from '../src/toy/train.ts';
import { MONOSEMANTIC } from '../src/toy/metrics.ts';

const SYNOPSIS = `usage: npx tsx scripts/train.ts --experiment ${PRESET_NAMES.join('|')} [--features N --hidden M] [--importance uniform|decay:R] [--density P[,P...]] [--steps N] [--restarts R] [--snapshots K] [--json FILE]
train one of the paper's toy models (one model per density) and print what each learned

${PRESET_NAMES.map((name) => `  ${name.padEnd(12)} ${PRESETS[name].description}`).join('\n')}`;

const SPECS = {
  experiment: { kind: 'string', default: 'intro', choices: PRESET_NAMES, help: 'which toy model and densities' },
  density: { kind: 'string', default: '', help: "feature densities 1 - S, comma-separated, each in (0, 1] (default: the experiment's)" },
  features: { kind: 'number', default: 0, min: 0, max: 1e4, integer: true, help: "features n (0: the experiment's)" },
  hidden: { kind: 'number', default: 0, min: 0, max: 1e4, integer: true, help: "hidden dimensions m (0: the experiment's)" },
  importance: { kind: 'string', default: 'preset', help: "feature importance: preset (the experiment's rule at --features), uniform, or decay:R (R^i, R in (0, 1])" },
  steps: { kind: 'number', default: 10_000, min: 1, max: 1e7, integer: true, help: 'training steps' },
  batch: { kind: 'number', default: 1024, min: 1, max: 1 << 16, integer: true, help: 'batch size' },
  lr: { kind: 'number', default: 1e-3, min: 1e-7, max: 10, help: 'learning rate' },
  optimizer: { kind: 'string', default: 'adamw', choices: ['adamw', 'adam'], help: 'AdamW (weight decay 1e-2, the notebook) or Adam' },
  schedule: { kind: 'string', default: 'constant', choices: ['constant', 'linear', 'cosine'], help: "learning-rate schedule (the notebook's)" },
  init: { kind: 'string', default: 'per-instance', choices: ['per-instance', 'notebook'], help: "initial W: per-instance Xavier or the notebook's 3-D fan" },
  clip: { kind: 'number', default: 0, min: 0, max: 1e6, help: "clip each model's gradient norm to this (0: off)" },
  'hidden-bias': { kind: 'boolean', default: false, help: 'neuron only: give the hidden layer a bias' },
  correlated: { kind: 'number', default: 0, min: 0, max: 1e4, integer: true, help: 'sets of correlated features (the first features)' },
  anticorrelated: { kind: 'number', default: 0, min: 0, max: 1e4, integer: true, help: 'sets of anticorrelated features (after the correlated ones)' },
  'set-size': { kind: 'number', default: 2, min: 2, max: 1e4, integer: true, help: 'features per correlated / anticorrelated set' },
  'set-density': { kind: 'string', default: 'per-member', choices: SET_DENSITIES, help: "whether the density is each anticorrelated member's (the set on with probability size x p, ARENA's rule) or the set's (each member p / size)" },
  restarts: { kind: 'number', default: 0, min: 0, max: 1000, integer: true, help: "models trained per density, the lowest loss kept (0: the experiment's: 4 for intro, whose best of 4 is the paper's pentagon; 1 otherwise)" },
  snapshots: { kind: 'number', default: 0, min: 0, max: 1e7, integer: true, help: 'keep every model\'s weights at step 0 and every this many steps, in --json (0: off)' },
  monosemanticity: { kind: 'number', default: MONOSEMANTIC, min: 0, max: 1, help: "a neuron counts as monosemantic above this max|W_fn|/||W_.n|| (phase-diagram.ts's flag and default)" },
  'eval-batch': { kind: 'number', default: 8192, min: 0, max: 1 << 20, integer: true, help: "fresh samples each final model's loss is measured on (0: mean training loss of the last 100 steps)" },
  seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32 - 1, integer: true, help: 'seed for weights and data' },
  json: { kind: 'string', default: '', help: 'write the models, losses and metrics to this JSON file' },
  backend: backendFlag,
  'fail-on-divergence': { kind: 'boolean', default: false, help: 'exit with status 1 when a model collapsed to zero weights or ended with a higher loss than it started with (a warning otherwise)' },
  workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: "threads to split the models over (a run too small to gain from threads uses one; the same bytes for any number)" },
} as const;

function parseDensities(raw: string): number[] | undefined {
  if (raw === '') return undefined;
  return raw.split(',').map((text) => {
    const p = Number(text);
    if (text.trim() === '' || !(p > 0 && p <= 1)) throw new FlagError(`--density ${raw}: '${text}' is not a density; expected numbers in (0, 1], comma-separated`);
    return p;
  });
}

function parseSets(correlated: number, anticorrelated: number, size: number, features: number, density: SetDensity): FeatureSet[] | undefined {
  const used = (correlated + anticorrelated) * size;
  if (used > features) throw new FlagError(`--correlated ${correlated} --anticorrelated ${anticorrelated} --set-size ${size}: ${used} features in sets, the model has ${features}`);
  if (used === 0) return undefined;
  return [...featureSets('correlated', correlated, size), ...featureSets('anticorrelated', anticorrelated, size, correlated * size, density)];
}

function parseImportanceFlag(text: string): ImportanceRule {
  try {
    return parseImportance(text);
  } catch (e) {
    throw new FlagError(`--importance ${text}: ${(e as Error).message.replace(/^importance '.*?': /, '')}`);
  }
}

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, SPECS, SYNOPSIS);
  const experiment = flags.experiment as PresetName;
  if (flags['hidden-bias'] && PRESETS[experiment].kind !== 'relu-hidden') throw new FlagError(`--hidden-bias: only the neuron experiment has a hidden layer with a ReLU, not ${experiment}`);
  await useBackend(flags.backend);
  const features = flags.features || PRESETS[experiment].features;
  const run = {
    experiment,
    densities: parseDensities(flags.density),
    features,
    hidden: flags.hidden || PRESETS[experiment].hidden,
    importance: parseImportanceFlag(flags.importance),
    ...(flags.snapshots ? { snapshotEvery: flags.snapshots } : {}),
    steps: flags.steps,
    batch: flags.batch,
    lr: flags.lr,
    optimizer: flags.optimizer as 'adamw' | 'adam',
    schedule: flags.schedule as Schedule,
    init: flags.init as 'per-instance' | 'notebook',
    hiddenBias: flags['hidden-bias'],
    clipGradNorm: flags.clip > 0 ? flags.clip : undefined,
    featureSets: parseSets(flags.correlated, flags.anticorrelated, flags['set-size'], features, flags['set-density'] as SetDensity),
    restarts: flags.restarts || PRESETS[experiment].restarts,
    evalBatch: flags['eval-batch'],
    monosemanticity: flags.monosemanticity,
    seed: flags.seed,
  };
  const config = presetConfig(run);
  const { model } = config;
  if (flags.workers > os.availableParallelism()) console.log(`train: --workers ${flags.workers} is more than this machine's ${os.availableParallelism()} cores (allowed; the threads will share them)`);
  console.log(
    `${experiment}: ${model.instances} models of ${model.features} features -> ${model.hidden} (${model.kind})${run.restarts > 1 ? `, best of ${run.restarts} each` : ''}, ` +
      `${run.steps} steps, batch ${run.batch}, ${run.optimizer} lr ${run.lr} ${run.schedule}, seed ${run.seed}, backend ${describeBackend()}, trainer ${describeTrainer()}`,
  );
  const bar = progress('training', run.steps);
  const started = performance.now();
  const result = await trainParallel(config, { workers: flags.workers, backend: flags.backend }, (step, losses) => bar.update(step + 1, `loss/model ${(losses.reduce((a, b) => a + b, 0) / losses.length).toExponential(3)}`));
  const document = describePreset(experiment, config, result, flags.monosemanticity);
  bar.finish(`${(run.steps / ((performance.now() - started) / 1000)).toFixed(1)} steps/s${result.threads > 1 ? `, instances over ${result.threads} threads` : ''}${result.samplerThreads ? `, batches drawn on ${result.threads > 1 ? 'a sampler thread each' : 'a sampler thread'}` : ''}`);
  console.log(`\n${summary(document)}`);
  const warned = result.warnings.flatMap((w, i) => (w ? [`warning: model ${i} (density ${Number(config.density[i].toPrecision(4))}): ${w}`] : []));
  for (const line of warned) console.log(line);
  if (warned.length && flags['fail-on-divergence']) {
    console.error(`train: ${warned.length} model(s) collapsed or diverged (--fail-on-divergence)`);
    process.exitCode = 1;
  }
  if (flags.json) {
    mkdirSync(dirname(flags.json), { recursive: true });
    writeAtomic(flags.json, `${JSON.stringify({ ...document, manifest: manifestOf(document.instances, document.config) }, null, 1)}\n`);
    console.log(`\nwrote ${flags.json}`);
  }
}

/** One row per model: what it learned, in the paper's terms. */
function summary(doc: TrainDocument): string {
  const { features: n, hidden: m, kind } = doc.config.model;
  const neurons = kind === 'relu-hidden' || kind === 'abs';
  const small = n <= 10;
  const header = ['density', 'loss', 'represented', 'D* = m/||W||^2', 'mean superposition', ...(neurons ? ['monosemantic neurons'] : []), ...(small ? ['||W_i|| by importance'] : [])];
  const rows = doc.instances.map((inst) => {
    const f = inst.metrics;
    const kept = f.norms.flatMap((v, i) => (v >= 0.5 ? [f.superposition[i]] : []));
    return [
      inst.density.toPrecision(3),
      inst.loss.toExponential(3),
      `${f.represented} of ${n}`,
      f.dimensionsPerFeature === null ? '-' : f.dimensionsPerFeature.toFixed(3),
      kept.length ? (kept.reduce((a, b) => a + b, 0) / kept.length).toFixed(3) : '-',
      ...(neurons ? [`${f.monosemanticNeurons} of ${m}`] : []),
      ...(small ? [f.norms.map((v) => v.toFixed(2)).join(' ')] : []),
    ];
  });
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

runScript('train', main);
