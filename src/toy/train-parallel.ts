/**
 * One training run over several cores: the run's instances dealt round-robin into groups, each trained by
 * train() in a worker thread started once for the whole run, the results stitched back in instance order; for
 * the small tied models, whose sampling is half a step, each group also draws its batches on a thread of its own
 * (sampler-thread.ts).
 * Every instance's weights, data, loss, gradient and Adam state are its own (the batched kernels never mix
 * instances, and the notebook's initial scale counts the whole run's instances), so the result is the same bytes
 * for any number of threads (tested). Node only (worker_threads); the sweeps split their cells the same way.
 */
import { Worker } from 'node:worker_threads';
import os from 'node:os';
import { ToyModel } from './model.ts';
import { instanceSeeds, train, trainerFor, TrainingDivergedError, type StepCallback, type TrainConfig, type TrainResult } from './train.ts';
import { isSmallTiedModel } from './fused.ts';
import { prefetchingBatches } from './sampler-thread.ts';
import { moduleFile } from '../module-file.ts';
import { runOnBackend } from '../kernels/select.ts';

/**
 * Steps whose losses a worker sends in one message (a message per step cost more than a small model's step):
 * onStep hears of a step up to this many steps after it ran.
 */
export const STEP_BATCH = 32;

/** What a training worker is sent, and what it posts back. */
export interface TrainWorkerRequest {
  config: TrainConfig;
  backend: string;
  /** Post each step's losses (for onStep), or only the result. */
  reportSteps: boolean;
  /** Draw the batches on a thread of the worker's own (sampler-thread.ts). */
  samplerThread: boolean;
}
export type TrainWorkerReply =
  /** The losses of steps first .. first + count - 1, step-major (count x the group's losses). */
  | { kind: 'steps'; first: number; count: number; losses: Float32Array }
  | { kind: 'done'; result: Omit<TrainResult, 'model'> & { parameters: Float32Array[] } }
  | { kind: 'error'; message: string; name: string };

/**
 * Below this much work (steps x instances x batch x features x max(hidden, 4): roughly a second on one core of
 * the README's machine) threads cost more to start (~0.3 s each, loading the TypeScript sources) than they save.
 */
export const PARALLEL_WORK = 5e8;

/** How many threads `trainParallel` uses for a run when asked for `workers`: 1 for small runs and one instance. */
export function threadsFor(config: TrainConfig, workers: number): number {
  const { instances: I, features: n, hidden: m } = config.model;
  const work = config.steps * I * config.batch * n * Math.max(m, 4) * (config.restarts ?? 1);
  return work < PARALLEL_WORK ? 1 : Math.max(1, Math.min(workers, I));
}

/**
 * Below this many drawn values (steps x instances x batch x features: about 0.3 s of drawing, a thread's start-up)
 * a sampler thread costs more than it saves.
 */
export const SAMPLER_THREAD_WORK = 1e8;

/**
 * How a run uses `workers` cores: `threads` training threads (instance groups), each with a sampler thread when
 * `samplerThreads`. The small tied models (tiedReluLoss: sampling is 40-55% of their step on the wasm backend)
 * give half the cores to sampler threads: on 2 cores one training thread and one sampler thread ran A (10 x 5->2)
 * 1.4x and B (1024 x 2->1) 1.8x faster than one thread, where splitting the instances gave 0.93x and 1.7x. Larger
 * models, and runs with correlated feature sets (sampled in TypeScript, most of their step), split their instances
 * (C 20 x 100->20: 1.9x, against 1.3x from a sampler thread), and take a sampler thread only when they cannot split
 * (one instance, or a run too small for training threads).
 */
export function threadPlan(config: TrainConfig, workers: number): { threads: number; samplerThreads: boolean } {
  const { instances: I, features: n } = config.model;
  const drawn = config.steps * I * config.batch * n * (config.restarts ?? 1);
  // Correlated feature sets draw in TypeScript (~25 ns a value, most of a step): splitting halves that, a sampler
  // thread only moves it.
  const small = isSmallTiedModel(config.model) && (config.featureSets ?? []).length === 0;
  const threads = threadsFor(config, small ? Math.floor(workers / 2) || 1 : workers);
  return { threads, samplerThreads: workers >= 2 && drawn >= SAMPLER_THREAD_WORK && (small || threads === 1) };
}

/**
 * The instances of `threads` groups, dealt round-robin: group t has t, t + threads, t + 2 threads, ... Runs order
 * their instances by what they vary (the geometry experiment: density from 1 down to 0.05), and an instance's cost
 * follows it (sparse products skip zeros): contiguous halves of the geometry run at 400 -> 30 took 68.5 and 60.6
 * ms a step, every other instance 64.1 and 63.5.
 */
export function instanceGroups(instances: number, threads: number): number[][] {
  return Array.from({ length: Math.min(threads, instances) }, (_, t) => Array.from({ length: Math.ceil((instances - t) / threads) }, (_, j) => t + j * threads));
}

/** A group's instances for names and errors: all of them, or the first few and the last. */
function describeGroup(group: readonly number[]): string {
  return group.length <= 4 ? group.join(', ') : `${group.slice(0, 3).join(', ')}, ..., ${group[group.length - 1]}`;
}

/**
 * Train `config` with its instances over `workers` threads (os.availableParallelism() by default; fewer for a
 * small run, see threadsFor) on kernel backend `backend`. onStep sees every step's losses of all instances (with
 * restarts, k per instance, as train() reports them), once every thread has reported that step.
 */
export async function trainParallel(
  config: TrainConfig,
  options: {
    workers?: number;
    backend: string;
    /** exactly this many training threads, whatever the run's size (tests, benchmarks) */
    threads?: number;
    /** with `threads`: whether each draws its batches on a sampler thread (default false) */
    samplerThreads?: boolean;
  },
  onStep?: StepCallback,
): Promise<TrainResult & { threads: number; samplerThreads: boolean }> {
  const I = config.model.instances;
  // train()'s own checks, before the split hides a mismatch (a group takes its slice of every array).
  if (config.density.length !== I) throw new RangeError(`train: ${config.density.length} densities for ${I} instances`);
  if (Array.isArray(config.importance[0]) && config.importance.length !== I) throw new RangeError(`train: importance has ${config.importance.length} rows for ${I} instances`);
  if (options.threads !== undefined && !(Number.isInteger(options.threads) && options.threads >= 1)) throw new RangeError(`trainParallel: threads = ${options.threads}, expected an integer >= 1`);
  // The device trainer runs on one device; threads would each open their own.
  const device = trainerFor(config) === 'device';
  const plan = device ? { threads: 1, samplerThreads: false } : options.threads !== undefined ? { threads: Math.max(1, Math.min(options.threads, I)), samplerThreads: options.samplerThreads ?? false } : threadPlan(config, options.workers ?? os.availableParallelism());
  const { threads, samplerThreads } = plan;
  if (threads === 1) {
    // On this thread, on the backend asked for (the workers below start it themselves).
    return runOnBackend(options.backend, () => ({ ...train(config, onStep, samplerThreads ? prefetchingBatches : undefined), threads, samplerThreads }));
  }
  const seeds = instanceSeeds(config);
  const perInstance = Array.isArray(config.importance[0]);
  const restarts = config.restarts ?? 1;
  const groups = instanceGroups(I, threads);
  const pick = <T,>(values: readonly T[], group: readonly number[]): T[] => group.map((i) => values[i]);
  const parts = groups.map((group): TrainConfig => ({
    ...config,
    // The notebook's initial scale counts the whole run, not a group.
    model: { ...config.model, instances: group.length, fanInstances: config.model.fanInstances ?? I },
    density: pick(config.density, group),
    importance: perInstance ? pick(config.importance as readonly (readonly number[])[], group) : config.importance,
    instanceSeeds: pick(seeds, group),
    name: `${config.name ?? `seed ${config.seed}`} (instances ${describeGroup(group)})`,
  }));
  // Steps arrive per thread; a step is complete when every thread has sent it.
  const pending = new Map<number, { losses: Float32Array; count: number }>();
  const complete: number[] = [];
  let nextStep = 0;
  const boot = new URL('../worker-boot.mjs', import.meta.url);
  const entry = moduleFile('./train-worker', import.meta.url).href;
  const pool = parts.map(() => new Worker(boot, { workerData: { entry } }));
  try {
    const results = await Promise.all(
      pool.map(
        (worker, t) =>
          new Promise<Extract<TrainWorkerReply, { kind: 'done' }>['result']>((resolve, reject) => {
            worker.on('message', (msg: TrainWorkerReply) => {
              if (msg.kind === 'error') {
                // A group numbers its instances from 0: name the run's.
                const message = msg.message.replace(/instance (\d+)/, (_, i: string) => `instance ${groups[t][Number(i)]}`);
                return reject(msg.name === 'TrainingDivergedError' ? new TrainingDivergedError(message) : Object.assign(new Error(message), { name: msg.name }));
              }
              if (msg.kind === 'done') return resolve(msg.result);
              // With restarts a step's losses are instance-major, k per instance.
              const width = msg.losses.length / msg.count;
              for (let c = 0; c < msg.count; c++) {
                const step = msg.first + c;
                let entryForStep = pending.get(step);
                if (!entryForStep) pending.set(step, (entryForStep = { losses: new Float32Array(I * restarts), count: 0 }));
                scatterGroup(entryForStep.losses, msg.losses, c * width, groups[t], restarts);
                if (++entryForStep.count === threads) complete.push(step);
              }
              // Steps complete in order across threads; report each once all threads have sent it.
              complete.sort((x, y) => x - y);
              while (complete.length && complete[0] === nextStep) {
                const step = complete.shift()!;
                onStep?.(step, pending.get(step)!.losses);
                pending.delete(step);
                nextStep++;
              }
            });
            worker.on('error', reject);
            worker.on('exit', (code) => reject(new Error(`training worker for instances ${describeGroup(groups[t])} exited (code ${code}) before it finished`)));
            worker.postMessage({ config: parts[t], backend: options.backend, reportSteps: onStep !== undefined, samplerThread: samplerThreads } satisfies TrainWorkerRequest);
          }),
      ),
    );
    const model = new ToyModel(config.model, null);
    // Each thread's instances of every parameter, back at their place.
    const stitch = (slices: (r: (typeof results)[number]) => readonly Float32Array[]): Float32Array[] =>
      model.parameters.map((p, j) => {
        const [out, per] = [new Float32Array(p.size), p.size / I];
        results.forEach((r, t) => scatterGroup(out, slices(r)[j], 0, groups[t], per));
        return out;
      });
    stitch((r) => r.parameters).forEach((data, j) => model.parameters[j].data.set(data));
    const snapshots = results[0].snapshots?.map((s, q) => ({ step: s.step, parameters: stitch((r) => r.snapshots![q].parameters) }));
    // Per-instance results, back in instance order.
    const gather = <T,>(perGroup: (r: (typeof results)[number]) => ArrayLike<T>): T[] => {
      const out = new Array<T>(I);
      results.forEach((r, t) => groups[t].forEach((instance, l) => (out[instance] = perGroup(r)[l])));
      return out;
    };
    return {
      model,
      finalLosses: Float64Array.from(gather((r) => r.finalLosses)),
      tailSteps: results[0].tailSteps,
      evalLosses: results[0].evalLosses ? Float64Array.from(gather((r) => r.evalLosses!)) : null,
      restarts: results[0].restarts ? gather((r) => r.restarts!) : null,
      trainer: results[0].trainer,
      warnings: gather((r) => r.warnings),
      ...(snapshots ? { snapshots } : {}),
      threads,
      samplerThreads,
    };
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/**
 * A group's per-instance slices (`width` values each, in the group's order, from `offset` of `from`) copied to
 * their instances' places in `to`: a thread's step losses and parameters back in the run's instance order.
 */
function scatterGroup(to: Float32Array, from: Float32Array, offset: number, group: readonly number[], width: number): void {
  group.forEach((instance, l) => {
    for (let q = 0; q < width; q++) to[instance * width + q] = from[offset + l * width + q];
  });
}
