/**
 * The seeded trainer: every instance of a ToyModel trained at once on fresh batches, through autograd, with
 * Adam/AdamW. Two streams derived from the seed (weights, data) make a run reproducible byte for byte.
 */
import { Arena } from '../autograd/arena.ts';
import { noGrad } from '../autograd/engine.ts';
import { Tensor } from '../autograd/tensor.ts';
import { createRng, deriveSeed } from '../random.ts';
import { sampleBatch, streamKeys, type BatchSpec, type FeatureSet } from './data.ts';
import type { KernelMemory } from '../kernels/types.ts';
import { MAX_STRATIFIED_FEATURES, stratifiedLoss } from './expected.ts';
import { ToyModel, type ModelKind, type ToyModelSpec } from './model.ts';
import { Adam, AdamW, clipGradNormPerInstance } from './optim.ts';
import { getBackend } from '../kernels/registry.ts';
import { hasDeviceTraining, type DeviceStats } from '../kernels/device/training.ts';
import { trainOnDevice } from './device-trainer.ts';
import { cos } from '../math.ts';

/**
 * Keys of the streams derived from an instance seed: 0 initial weights, 1 training data (the counter-based
 * stream: the batch of step t is a function of this key and t), 2 evaluation data, 3 restarts.
 */
export const DATA_KEY = 1;

/** Each instance's batch stream key (Threefry), from its seed: the same on every trainer. */
export const dataStreamKeys = (seeds: readonly string[]): Int32Array => streamKeys(seeds.map((s) => deriveSeed(s, DATA_KEY)));
export const EVAL_KEY = 2;
const RESTART_KEY = 3;

/** The learning-rate schedule: constant, linear decay or cosine decay towards 0 (see lrFactor). */
export type Schedule = 'constant' | 'linear' | 'cosine';

/** A training run: the model, its data (importance, density, batch), the optimiser and the seed. */
export interface TrainConfig {
  model: ToyModelSpec;
  /** Feature importance, [features] shared by all instances or [instances][features]. */
  importance: readonly number[] | readonly (readonly number[])[];
  /** Feature density 1 - S, one per instance. */
  density: readonly number[];
  batch: number;
  steps: number;
  lr: number;
  optimizer: 'adamw' | 'adam';
  /** Default: PyTorch's (AdamW 1e-2, Adam 0). */
  weightDecay?: number;
  schedule?: Schedule;
  /** Clip each instance's gradient to this L2 norm before the update (torch's clip_grad_norm_, per instance). */
  clipGradNorm?: number;
  /** Correlated / anticorrelated feature sets of the data (default: all features independent). */
  featureSets?: readonly FeatureSet[];
  /**
   * Train this many models per instance (restart 0 is the run without restarts; the others get seeds derived
   * from it) and keep the one with the lowest loss (the evaluation loss when `evalBatch` is set, else the final
   * training loss), as the paper does. The restarts train side by side as extra instances.
   */
  restarts?: number;
  seed: number | string;
  /**
   * One seed per instance (a sweep derives them from its cell and seed index). Default: derived from `seed` and
   * the instance index. Each instance draws its weights and data from its own streams, so its result does not
   * depend on which instances are trained beside it.
   */
  instanceSeeds?: readonly string[];
  /** Names the run in errors and logs. */
  name?: string;
  /**
   * When set, each instance's final loss is also measured on this many fresh samples (from its own evaluation
   * stream, so identical for every variant that shares the seed): stratified over activity patterns for models
   * of up to 8 features (see expected.ts), a plain batch otherwise. Far less noisy than training losses at low
   * density, where a training batch holds only a handful of co-active features.
   */
  evalBatch?: number;
  /** Reuse op output buffers from step to step (default true; false allocates afresh, for checking). */
  reuseBuffers?: boolean;
  /**
   * Which trainer runs the steps: 'device' (the whole run on the backend's device, src/toy/device-trainer.ts),
   * 'autograd' (steps through the autograd engine, ops on the backend), or 'auto' (default): the device trainer
   * when the active backend has one (gpujs:webgpu), else autograd. Results say which ran.
   */
  trainer?: 'auto' | Trainer;
  /** Device trainer: steps recorded into one submission (default 64); the host reads losses back this often. */
  stepsPerSubmission?: number;
  /**
   * Keep a copy of every instance's parameters before the first step and after every this many steps (the
   * paper's learning dynamics: D_i over training). Autograd trainer only: the device trainer refuses it.
   */
  snapshotEvery?: number;
}

/** The parameters of every instance after `step` steps, in ToyModel.parameters order (W, b, then W2 / bHidden). */
export interface Snapshot {
  step: number;
  parameters: Float32Array[];
}

/**
 * What onStep hears after each step: its per-instance losses and, on the autograd trainer in this thread, the
 * live parameters (ToyModel.parameters' data, restarts included; read them, do not keep them: the next step
 * overwrites them). The device trainer and train-parallel.ts's threads pass no parameters: ask for snapshots.
 */
export type StepCallback = (step: number, losses: Float32Array, parameters?: readonly Float32Array[]) => void;

/** Which trainer ran the steps: the autograd engine, or the whole run on the backend's device. */
export type Trainer = 'autograd' | 'device';

/** A finished run: the trained model, its per-instance losses, and what happened along the way. */
export interface TrainResult {
  model: ToyModel;
  /** Mean per-instance loss over the last `tailSteps` steps (fresh batches each, so an unbiased estimate). */
  finalLosses: Float64Array;
  tailSteps: number;
  /** Loss of the final model on a fresh batch of `evalBatch` per instance (when asked for). */
  evalLosses: Float64Array | null;
  /** With restarts: per instance, the loss of every restart (the selection criterion) and the one kept. */
  restarts: { losses: number[]; kept: number }[] | null;
  /** The trainer that ran the steps. */
  trainer: Trainer;
  /**
   * Per instance, what looks wrong with its run, or null: its weights collapsed to zero, or its training loss
   * ended above where it started (see instanceWarnings). A warning, not an error: the results are kept.
   */
  warnings: (string | null)[];
  /** Device trainer only: what crossed between host and device at start-up and per step. */
  deviceStats?: { start: DeviceStats; steps: DeviceStats };
  /** With snapshotEvery: the parameters at step 0 and every snapshotEvery steps (the final step included). */
  snapshots?: Snapshot[];
}

/** How scripts print the trainer a default config gets on the active backend. */
export function describeTrainer(): string {
  return trainerFor({}) === 'device' ? 'device (whole steps on the device)' : 'autograd';
}

/** The trainer a config gets on the active backend ('auto' resolved); asking for 'device' where there is none is an error. */
export function trainerFor(config: Pick<TrainConfig, 'trainer'>): Trainer {
  const asked = config.trainer ?? 'auto';
  const device = hasDeviceTraining(getBackend());
  if (asked === 'device' && !device) throw new Error(`train: the device trainer needs a backend with a device trainer (gpujs:webgpu, or gpujs:gpu in a browser with WebGL2); backend ${getBackend().name} has none`);
  return asked === 'autograd' || !device ? 'autograd' : 'device';
}

/** Thrown when an instance's training loss becomes non-finite (NaN or Infinity). */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

/** The notebook's learning-rate schedules, as a factor on lr at `step` of `steps`. */
export function lrFactor(schedule: Schedule, step: number, steps: number): number {
  if (schedule === 'linear') return 1 - step / steps;
  if (schedule === 'cosine') return cos((0.5 * Math.PI * step) / Math.max(1, steps - 1));
  return 1;
}

export function importanceTensor(importance: TrainConfig['importance'], instances: number, features: number): Tensor {
  const rows = Array.isArray(importance[0]) ? (importance as number[][]) : null;
  const flat = rows ? rows.flat() : (importance as number[]);
  const shape = rows ? [instances, features] : [features];
  if (flat.length !== shape.reduce((a, b) => a * b, 1)) {
    throw new RangeError(`train: importance has ${flat.length} values, expected [features]=${features} or [instances, features]=${instances}x${features}`);
  }
  return new Tensor(Float32Array.from(flat), shape);
}

/**
 * Train every instance of the model; with `restarts`, every instance k times and keep the best. onStep sees
 * each step's per-instance losses (restarts included, instance-major: instance i's restart r at i * k + r).
 * `batches`: where the batches come from (default: drawn on this thread; train-parallel.ts passes a sampler
 * thread's); the batches, and so the result, are the same bytes either way.
 */
export function train(config: TrainConfig, onStep?: StepCallback, batches?: BatchSourceFactory): TrainResult {
  const restarts = config.restarts ?? 1;
  if (!Number.isInteger(restarts) || restarts < 1) throw new RangeError(`train: restarts = ${restarts}, expected an integer >= 1`);
  return restarts === 1 ? trainOnce(config, onStep, batches) : trainBestOf(config, restarts, onStep, batches);
}

/** Where a run's batches come from. */
export interface BatchSource {
  /** Step s's batch (sampleBatch's bytes), valid until batch(s + 1) is asked for. */
  batch(step: number): Float32Array;
  /** The run is over (or failed): free what the source holds. */
  close(): void;
}
/**
 * Makes a run's BatchSource (default: sampleBatch on this thread into one buffer). `memory`: the backend's, where
 * the batch should lie for its kernels to read it in place (absent: anywhere). See sampler-thread.ts.
 */
export type BatchSourceFactory = (spec: BatchSpec, keys: Int32Array, steps: number, memory: KernelMemory | undefined) => BatchSource;

/** sampleBatch on this thread, into one buffer (from `memory` when given). */
const localBatches: BatchSourceFactory = (spec, keys, _steps, memory) => {
  const length = spec.instances * spec.batch * spec.features;
  const x = memory ? memory.allocate(length) : new Float32Array(length);
  return { batch: (step) => sampleBatch(spec, keys, step, x), close: () => memory?.release(x) };
};

function trainBestOf(config: TrainConfig, k: number, onStep?: StepCallback, batches?: BatchSourceFactory): TrainResult {
  const { instances: I } = config.model;
  const seeds = instanceSeeds(config);
  const expand = <T>(xs: readonly T[]): T[] => xs.flatMap((x) => Array.from({ length: k }, () => x));
  const perInstanceImportance = Array.isArray(config.importance[0]);
  const all = trainOnce(
    {
      ...config,
      // The notebook fan counts the configured instances, so restarts do not change the initial scale.
      model: { ...config.model, instances: I * k, fanInstances: config.model.fanInstances ?? I },
      density: expand(config.density),
      importance: perInstanceImportance ? expand(config.importance as readonly (readonly number[])[]) : config.importance,
      instanceSeeds: seeds.flatMap((s) => Array.from({ length: k }, (_, r) => (r === 0 ? s : deriveSeed(s, RESTART_KEY, r)))),
      restarts: 1,
    },
    onStep,
    batches,
  );
  const criterion = all.evalLosses ?? all.finalLosses;
  const picks = Array.from({ length: I }, (_, i) => {
    const losses = Array.from(criterion.subarray(i * k, (i + 1) * k));
    // The lowest loss wins, ties to the earlier restart; a NaN never wins (unless every restart is NaN).
    const kept = losses.reduce((best, v, r) => (v < losses[best] || (Number.isNaN(losses[best]) && !Number.isNaN(v)) ? r : best), 0);
    return { losses, kept };
  });
  const chosen = picks.map((p, i) => i * k + p.kept);
  const model = new ToyModel(config.model, null);
  const keep = (sources: readonly Float32Array[]): Float32Array[] =>
    model.parameters.map((p, j) => {
      const [out, per] = [new Float32Array(p.size), p.size / I];
      chosen.forEach((c, i) => out.set(sources[j].subarray(c * per, (c + 1) * per), i * per));
      return out;
    });
  keep(all.model.parameters.map((p) => p.data)).forEach((data, j) => model.parameters[j].data.set(data));
  const pick = (xs: Float64Array) => Float64Array.from(chosen, (c) => xs[c]);
  const snapshots = all.snapshots?.map((s) => ({ step: s.step, parameters: keep(s.parameters) }));
  return { ...all, model, finalLosses: pick(all.finalLosses), evalLosses: all.evalLosses && pick(all.evalLosses), restarts: picks, warnings: chosen.map((c) => all.warnings[c]), ...(snapshots ? { snapshots } : {}) };
}

/** A run's instance seeds and its model with the initial weights train() starts from (drawn from those seeds). */
export function initialModel(config: TrainConfig): { seeds: readonly string[]; model: ToyModel } {
  const seeds = instanceSeeds(config);
  return { seeds, model: new ToyModel(config.model, seeds.map((s) => createRng(deriveSeed(s, 0)))) };
}

/** The seed of each instance: the config's own, or derived from its seed (a run's bytes do not depend on which thread trains it). */
export function instanceSeeds(config: TrainConfig): readonly string[] {
  const I = config.model.instances;
  const seeds = config.instanceSeeds ?? Array.from({ length: I }, (_, i) => deriveSeed(config.seed, i));
  if (seeds.length !== I) throw new RangeError(`train: ${seeds.length} instance seeds for ${I} instances`);
  return seeds;
}

function trainOnce(config: TrainConfig, onStep?: StepCallback, batches: BatchSourceFactory = localBatches): TrainResult {
  const { instances: I, features: n } = config.model;
  const name = config.name ?? `seed ${config.seed}`;
  if (config.density.length !== I) throw new RangeError(`train: ${config.density.length} densities for ${I} instances`);
  for (const [flag, v] of Object.entries({ batch: config.batch, steps: config.steps })) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`train: ${flag} = ${v}, expected an integer >= 1`);
  }
  if (config.clipGradNorm !== undefined && !(config.clipGradNorm > 0)) throw new RangeError(`train: clipGradNorm = ${config.clipGradNorm}, expected a number > 0`);
  const every = config.snapshotEvery;
  if (every !== undefined && !(Number.isInteger(every) && every >= 1)) throw new RangeError(`train: snapshotEvery = ${every}, expected an integer >= 1`);
  const { seeds, model } = initialModel(config);
  const importance = importanceTensor(config.importance, I, n);
  // The losses at the start (the first steps, before the model has moved much) and at the end, for the run's
  // health check.
  const tailSteps = Math.min(100, config.steps);
  const head = new LossWindow(I, 0, Math.min(HEAD_STEPS, config.steps));
  const tail = new LossWindow(I, config.steps - tailSteps, config.steps);
  const watch = (step: number, losses: Float32Array, parameters?: readonly Float32Array[]): void => {
    head.add(step, losses);
    tail.add(step, losses);
    onStep?.(step, losses, parameters);
  };
  const backend = getBackend();
  if (trainerFor(config) === 'device' && hasDeviceTraining(backend)) {
    if (every !== undefined) throw new Error(`training run '${name}': snapshots (snapshotEvery, --snapshots) need the autograd trainer; the device trainer keeps the parameters on the device until the end`);
    const device = trainOnDevice(config, model, seeds, backend.training, watch);
    const warnings = instanceWarnings(model, head, tail);
    return { model, finalLosses: device.finalLosses, tailSteps: device.tailSteps, evalLosses: evaluate(config, model, seeds, importance), restarts: null, trainer: 'device', deviceStats: device.stats, warnings };
  }
  const dataKeys = dataStreamKeys(seeds);
  const options = { lr: config.lr, ...(config.weightDecay === undefined ? {} : { weightDecay: config.weightDecay }) };
  const opt = config.optimizer === 'adamw' ? new AdamW(model.parameters, options) : new Adam(model.parameters, options);
  const spec = batchSpec(config, config.batch);
  const finalLosses = new Float64Array(I);

  // Every step builds the same graph: an arena hands each op last step's buffer instead of fresh memory, from the
  // backend's own memory where it has one (the wasm kernels then work in place), as is the batch.
  const arena = config.reuseBuffers === false ? null : new Arena(backend.memory);
  const ones = new Tensor(new Float32Array(I).fill(1), [I]);
  const gradNorms = new Float64Array(I);
  const snapshots: Snapshot[] | undefined = every === undefined ? undefined : [];
  const snapshot = (step: number): void => {
    if (snapshots && (step % every! === 0 || step === config.steps)) snapshots.push({ step, parameters: model.parameters.map((p) => p.data.slice()) });
  };
  snapshot(0);
  const parameterViews = model.parameters.map((p) => p.data);
  const trainStep = (step: number): void => {
    const x = new Tensor(source.batch(step), [I, config.batch, n]);
    const losses = model.instanceLosses(x, importance);
    for (let i = 0; i < I; i++) {
      if (!Number.isFinite(losses.data[i])) {
        throw new TrainingDivergedError(`training run '${name}': loss of instance ${i} is ${losses.data[i]} at step ${step} (lr ${config.lr})`);
      }
    }
    opt.zeroGrad();
    losses.backward(ones);
    if (config.clipGradNorm !== undefined) clipGradNormPerInstance(model.parameters, config.clipGradNorm, gradNorms);
    noGrad(() => opt.step(lrFactor(config.schedule ?? 'constant', step, config.steps)));
    if (step >= config.steps - tailSteps) for (let i = 0; i < I; i++) finalLosses[i] += losses.data[i] / tailSteps;
    watch(step, losses.data, parameterViews); // inside the step: the arena reuses losses.data afterwards
  };
  const source = batches(spec, dataKeys, config.steps, arena ? backend.memory : undefined);
  try {
    for (let step = 0; step < config.steps; step++) {
      if (arena) arena.run(() => trainStep(step));
      else trainStep(step);
      snapshot(step + 1);
    }
  } finally {
    arena?.dispose();
    source.close();
  }

  return { model, finalLosses, tailSteps, evalLosses: evaluate(config, model, seeds, importance), restarts: null, trainer: 'autograd', warnings: instanceWarnings(model, head, tail), ...(snapshots ? { snapshots } : {}) };
}

/** A run's weights count as collapsed when none is larger than this in magnitude. */
const COLLAPSED = 1e-4;
/** The steps whose losses are a run's starting loss (one batch is too noisy at low density). */
const HEAD_STEPS = 20;
/** A rise counts when it is this many standard errors above the noise of the two windows' means... */
const ROSE_SIGMAS = 4;
/** ...and at least this factor. */
const ROSE = 1.25;

/** Per instance, the mean and variance of the training losses of steps [from, to). */
class LossWindow {
  readonly sum: Float64Array;
  readonly squares: Float64Array;
  constructor(instances: number, readonly from: number, readonly to: number) {
    this.sum = new Float64Array(instances);
    this.squares = new Float64Array(instances);
  }
  get steps(): number {
    return this.to - this.from;
  }
  add(step: number, losses: Float32Array): void {
    if (step < this.from || step >= this.to) return;
    for (let i = 0; i < this.sum.length; i++) {
      this.sum[i] += losses[i];
      this.squares[i] += losses[i] * losses[i];
    }
  }
  mean(i: number): number {
    return this.sum[i] / this.steps;
  }
  /** The squared standard error of the mean. */
  meanVariance(i: number): number {
    const n = this.steps;
    return n > 1 ? Math.max(0, (this.squares[i] - (this.sum[i] * this.sum[i]) / n) / (n - 1)) / n : 0;
  }
}

/**
 * Per instance: a warning when its weights collapsed to zero (every |W| below COLLAPSED: a learning rate too
 * high for the model, e.g. --lr 10, drives every model there), or when its training loss rose: the mean of the
 * last steps above the mean of the first ones by ROSE times and by ROSE_SIGMAS standard errors (at low density a
 * batch holds a handful of active features, and a few noisy batches must not read as a rise); null otherwise.
 */
function instanceWarnings(model: ToyModel, head: LossWindow, tail: LossWindow): (string | null)[] {
  const { instances: I } = model.spec;
  const weights = [model.W, ...(model.W2 ? [model.W2] : [])];
  return Array.from({ length: I }, (_, i) => {
    let largest = 0;
    for (const w of weights) {
      const per = w.size / I;
      for (let q = i * per; q < (i + 1) * per; q++) largest = Math.max(largest, Math.abs(w.data[q]));
    }
    const problems: string[] = [];
    if (largest < COLLAPSED) problems.push(`weights collapsed to zero (largest |W| ${largest.toExponential(1)})`);
    const [start, end] = [head.mean(i), tail.mean(i)];
    const noise = Math.sqrt(head.meanVariance(i) + tail.meanVariance(i));
    if (end > ROSE * start && end - start > ROSE_SIGMAS * noise) {
      problems.push(`training loss rose from ${start.toPrecision(4)} (mean of the first ${head.steps} steps) to ${end.toPrecision(4)} (mean of the last ${tail.steps})`);
    }
    return problems.length ? problems.join('; ') : null;
  });
}

/** Evaluation batches larger than this are drawn and run in slices of it (steps 0, 1, ... of the evaluation stream). */
export const EVAL_SLICE = 8192;

/**
 * The rows of [instances, rows, features] arrays the evaluation holds at once: a stratified evaluation (up to 8
 * independent features, not |x|) draws its whole batch, rounded up to a multiple of 2^features; a plain one runs
 * in slices of EVAL_SLICE.
 */
export function evaluationRows(evalBatch: number, features: number, kind: ModelKind, featureSets = false): number {
  if (!evalBatch) return 0;
  const perPattern = stratifiedPerPattern(evalBatch, features, kind, featureSets);
  return perPattern !== null ? 2 ** features * perPattern : Math.min(evalBatch, EVAL_SLICE);
}

/**
 * Samples per activity pattern when the evaluation is stratified (few features, a tied model, independent
 * features: the stratified estimate assumes them), else null for a plain batch from the real data.
 */
function stratifiedPerPattern(evalBatch: number, features: number, kind: ModelKind, featureSets: boolean): number | null {
  return features <= MAX_STRATIFIED_FEATURES && kind !== 'abs' && !featureSets ? Math.max(1, Math.ceil(evalBatch / 2 ** features)) : null;
}

/** How a config's batches are drawn, at `batch` rows (training and evaluation differ only in that). */
function batchSpec(config: TrainConfig, batch: number) {
  const { instances, features } = config.model;
  return { instances, batch, features, density: config.density, values: config.model.kind === 'abs' ? 'signed' : 'unit', sets: config.featureSets } as const;
}

/**
 * Each instance's loss on `evalBatch` fresh samples from its evaluation stream (when asked for), else null. A
 * plain evaluation batch runs in slices of EVAL_SLICE samples, slice k drawn at step k of the stream, and the
 * slices' losses are averaged by their sizes, so memory stays bounded however large the batch.
 */
function evaluate(config: TrainConfig, model: ToyModel, seeds: readonly string[], importance: Tensor): Float64Array | null {
  if (!config.evalBatch) return null;
  const { instances: I, features: n } = config.model;
  const perPattern = stratifiedPerPattern(config.evalBatch, n, config.model.kind, Boolean(config.featureSets?.length));
  if (perPattern !== null) {
    const evalRng = seeds.map((s) => createRng(deriveSeed(s, EVAL_KEY)));
    // The same samples, spread evenly over activity patterns and weighted by their probability.
    return stratifiedLoss(model, config.density, importance, perPattern, evalRng);
  }
  const keys = streamKeys(seeds.map((s) => deriveSeed(s, EVAL_KEY)));
  const losses = new Float64Array(I);
  for (let start = 0, slice = 0; start < config.evalBatch; start += EVAL_SLICE, slice++) {
    const rows = Math.min(EVAL_SLICE, config.evalBatch - start);
    const x = new Tensor(sampleBatch(batchSpec(config, rows), keys, slice), [I, rows, n]);
    const part = noGrad(() => model.instanceLosses(x, importance)).data;
    // One slice: its loss as it is (the same bytes as an unsliced batch); more: weighted by their sizes.
    for (let i = 0; i < I; i++) losses[i] += rows === config.evalBatch ? part[i] : (part[i] * rows) / config.evalBatch;
  }
  return losses;
}
