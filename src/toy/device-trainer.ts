/**
 * The device trainer's host side: the same run as the autograd trainer (train.ts), carried out on a backend's
 * device (src/kernels/device/): the initial weights, data streams, importances and the whole learning-rate and
 * Adam schedule are prepared here, uploaded once, and the device runs `stepsPerSubmission` steps per submission
 * while this thread only reads back each step's per-instance losses (for progress, the tail mean and the
 * divergence check) and, at the end, the parameters.
 *
 * The autograd trainer on the js backend is its specification: same batches bit for bit (the counter-based
 * stream), the same model, loss and torch-exact AdamW, in float32 in the device's order (tested against it).
 */
import { adamSettings, adamStepScalars } from './optim.ts';
import type { DeviceRun, DeviceStats, DeviceTraining, DeviceTrainSpec } from '../kernels/device/training.ts';
import { checkDeviceSize } from '../kernels/device/train-step.ts';
import { checkDensities, checkSets, gateThreshold, type FeatureSet } from './data.ts';
import { ToyModel } from './model.ts';
import { dataStreamKeys, importanceTensor, lrFactor, TrainingDivergedError, type TrainConfig } from './train.ts';

/** Steps recorded into one submission by default: the host hears from the device this often. */
export const STEPS_PER_SUBMISSION = 64;

export interface DeviceTrainOutcome {
  model: ToyModel;
  finalLosses: Float64Array;
  tailSteps: number;
  /** What crossed between host and device: at start-up, and in the submissions (per step). */
  stats: { start: DeviceStats; steps: DeviceStats };
}

/** The per-feature set table of the device sampler: [kind, gate feature, chooser feature, member index, size]. */
function setTable(sets: readonly FeatureSet[], features: number): Float32Array {
  checkSets(sets, features); // the host sampler's checks: the table would silently hold overlaps or NaN
  if (sets.length === 0) return new Float32Array(0);
  // The device gates a set at the instance's own threshold; a per-member set needs one per set (not built yet).
  if (sets.some((set) => set.kind === 'anticorrelated' && (set.density ?? 'per-member') === 'per-member')) {
    throw new Error("device trainer: anticorrelated sets with a per-member density (ARENA's rule) are not supported on the device; use density 'per-set' (--set-density per-set) or the autograd trainer");
  }
  const table = new Float32Array(5 * features);
  for (const set of sets) {
    set.features.forEach((f, k) => table.set([set.kind === 'correlated' ? 1 : 2, set.features[0], set.features[1], k, set.features.length], 5 * f));
  }
  return table;
}

/** The run as the device takes it; `model` holds the initial weights (drawn as the autograd trainer draws them). */
export function deviceTrainSpec(config: TrainConfig, model: ToyModel, seeds: readonly string[], stepsPerSubmission: number): DeviceTrainSpec {
  const { instances: I, features: n, hidden: m, kind } = config.model;
  checkDensities(config.density);
  const keys = dataStreamKeys(seeds);
  const halves = new Float32Array(4 * I);
  for (let i = 0; i < 2 * I; i++) halves.set([keys[i] >>> 16, keys[i] & 0xffff], 2 * i);
  const imp = importanceTensor(config.importance, I, n);
  const importance = imp.rank === 2 ? imp.data : new Float32Array(I * n).map((_, q) => imp.data[q % n]);
  // The optimizer the autograd trainer builds for this config (AdamW's default decay when none is given).
  const adam = adamSettings(config.optimizer === 'adamw', config.weightDecay);
  const schedule = new Float32Array(4 * config.steps);
  for (let t = 0; t < config.steps; t++) {
    // As Adam.step at its (t+1)-th call, in float64, rounded once.
    const lr = config.lr * lrFactor(config.schedule ?? 'constant', t, config.steps);
    const { stepSize, bc2Sqrt, decay } = adamStepScalars(adam, lr, t + 1);
    schedule.set([lr, stepSize, bc2Sqrt, decay], 4 * t);
  }
  const params = new Float32Array(model.parameters.reduce((a, p) => a + p.size, 0));
  let at = 0;
  for (const p of model.parameters) {
    params.set(p.data, at);
    at += p.size;
  }
  return {
    kind, instances: I, batch: config.batch, features: n, hidden: m,
    hiddenBias: config.model.hiddenBias ?? false,
    values: kind === 'abs' ? 'signed' : 'unit',
    keys: halves,
    thresholds: Float32Array.from(config.density, gateThreshold),
    importance,
    params,
    schedule,
    betas: adam.betas,
    eps: adam.eps,
    l2: adamStepScalars(adam, config.lr, 1).l2,
    clip: config.clipGradNorm ?? 0,
    sets: setTable(config.featureSets ?? [], n),
    stepsPerSubmission: Math.min(stepsPerSubmission, config.steps),
  };
}

/** Train `model` (initial weights in place) on the device; its parameters hold the trained weights after. */
export function trainOnDevice(config: TrainConfig, model: ToyModel, seeds: readonly string[], training: DeviceTraining, onStep?: (step: number, losses: Float32Array) => void): DeviceTrainOutcome {
  const I = config.model.instances;
  const name = config.name ?? `seed ${config.seed}`;
  const K = config.stepsPerSubmission ?? STEPS_PER_SUBMISSION;
  if (!Number.isInteger(K) || K < 1 || K > 4096) throw new RangeError(`train: stepsPerSubmission = ${K}, expected an integer in 1..4096`);
  const spec = deviceTrainSpec(config, model, seeds, K);
  checkDeviceSize(spec);
  const tailSteps = Math.min(100, config.steps);
  const finalLosses = new Float64Array(I);
  const run: DeviceRun = training.start(spec);
  let last: DeviceStats | null = null;
  try {
    for (let done = 0; done < config.steps; ) {
      const steps = Math.min(spec.stepsPerSubmission, config.steps - done);
      let submitted: ReturnType<DeviceRun['run']>;
      try {
        submitted = run.run(steps);
      } catch (e) {
        // a lost or failing device: say which run and steps it took with it
        throw Object.assign(new Error(`training run '${name}', steps ${done}..${done + steps - 1} on ${training.device}: ${(e as Error).message}`), { name: (e as Error).name });
      }
      const { losses, stats } = submitted;
      last = stats;
      for (let k = 0; k < steps; k++) {
        const step = done + k;
        const row = losses.subarray(k * I, (k + 1) * I);
        for (let i = 0; i < I; i++) {
          if (!Number.isFinite(row[i])) throw new TrainingDivergedError(`training run '${name}': loss of instance ${i} is ${row[i]} at step ${step} (lr ${config.lr}; device trainer on ${training.device})`);
        }
        if (step >= config.steps - tailSteps) for (let i = 0; i < I; i++) finalLosses[i] += row[i] / tailSteps;
        onStep?.(step, row);
      }
      done += steps;
    }
    const params = run.parameters();
    let at = 0;
    for (const p of model.parameters) {
      p.data.set(params.subarray(at, at + p.size));
      at += p.size;
    }
  } finally {
    run.free();
  }
  const start = run.startStats;
  const steps = Object.fromEntries(Object.entries(last ?? start).map(([k, v]) => [k, (v - start[k as keyof DeviceStats]) / config.steps])) as unknown as DeviceStats;
  return { model, finalLosses, tailSteps, stats: { start, steps } };
}
