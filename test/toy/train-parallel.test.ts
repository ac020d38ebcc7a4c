/** One run over several threads (train-parallel.ts): the same bytes as one thread, for any split. */
import { expect, it } from 'vitest';
import { instanceGroups, threadPlan, threadsFor, trainParallel } from '../../src/toy/train-parallel.ts';
import { prefetchingBatches } from '../../src/toy/sampler-thread.ts';
import { sampleBatch, streamKeys } from '../../src/toy/data.ts';
import { train, TrainingDivergedError, type TrainConfig } from '../../src/toy/train.ts';

const config: TrainConfig = {
  model: { kind: 'relu-hidden', instances: 5, features: 6, hidden: 3, init: 'notebook' },
  importance: [1, 0.9, 0.8, 0.7, 0.6, 0.5].map((v, f) => v + 0.01 * f),
  density: [1, 0.5, 0.2, 0.1, 0.05],
  batch: 32,
  steps: 30,
  lr: 1e-2,
  optimizer: 'adamw',
  seed: 'parallel',
  restarts: 2,
  evalBatch: 300,
};
const bytes = (r: Awaited<ReturnType<typeof trainParallel>>) =>
  JSON.stringify({ p: r.model.parameters.map((p) => Array.from(p.data)), f: Array.from(r.finalLosses), e: Array.from(r.evalLosses!), r: r.restarts });

it('1, 2 and 3 threads give the same parameters, losses, evaluation and restarts as train(), and the same step losses', async () => {
  const steps: Float32Array[] = [];
  const one = train(config, (_, losses) => steps.push(losses.slice()));
  const reference = bytes({ ...one, threads: 1, samplerThreads: false });
  for (const threads of [2, 3]) {
    const seen: Float32Array[] = [];
    const r = await trainParallel(config, { backend: 'js', threads }, (step, losses) => (seen[step] = losses.slice()));
    expect(r.threads).toBe(threads);
    expect(bytes(r)).toBe(reference);
    expect(seen.map((l) => Array.from(l))).toEqual(steps.map((l) => Array.from(l)));
  }
}, 60_000);

it('a diverging instance is reported as on one thread, with its index in the whole run', async () => {
  // Whichever group reports first, the instance it names is one of that group's instances of the whole run.
  const error = await trainParallel({ ...config, lr: 1e30, restarts: 1, name: 'too fast' }, { backend: 'js', threads: 2 }).catch((e: Error) => e);
  expect(error).toBeInstanceOf(TrainingDivergedError);
  const group = /training run 'too fast \(instances ([\d, ]+)\)': loss of instance (\d+) is/.exec((error as Error).message)!;
  expect(['0, 2, 4', '1, 3']).toContain(group[1]);
  expect(group[1].split(', ')).toContain(group[2]);
});

it('refuses what train() refuses before splitting, and a thread count that is not a positive integer', async () => {
  await expect(trainParallel({ ...config, density: [...config.density, 0.5] }, { backend: 'js', threads: 2 })).rejects.toThrow('train: 6 densities for 5 instances');
  await expect(trainParallel(config, { backend: 'js', threads: Number.NaN })).rejects.toThrow('trainParallel: threads = NaN, expected an integer >= 1');
});

it('deals the instances round-robin, and only runs that gain from it', () => {
  expect(instanceGroups(5, 2)).toEqual([[0, 2, 4], [1, 3]]);
  expect(instanceGroups(2, 3)).toEqual([[0], [1]]);
  expect(instanceGroups(7, 3)).toEqual([[0, 3, 6], [1, 4], [2, 5]]);
  expect(threadsFor({ ...config, steps: 30 }, 2)).toBe(1); // a few million multiply-adds: threads would cost more
  expect(threadsFor({ ...config, model: { kind: 'relu-output', instances: 8, features: 400, hidden: 30 }, batch: 1024, steps: 20 }, 2)).toBe(2); // D
  expect(threadsFor({ ...config, model: { kind: 'relu-output', instances: 1, features: 400, hidden: 30 }, batch: 1024, steps: 2000 }, 2)).toBe(1); // one instance
});

it('snapshots: the parameters at step K are those of a K-step run, the last is the final model, on any thread count', async () => {
  const base = { ...config, restarts: 2, steps: 30, snapshotEvery: 12 };
  const full = train(base);
  expect(full.snapshots!.map((s) => s.step)).toEqual([0, 12, 24, 30]);
  const params = (ps: readonly Float32Array[]) => ps.map((p) => Array.from(p));
  expect(params(full.snapshots!.at(-1)!.parameters)).toEqual(params(full.model.parameters.map((p) => p.data)));
  // the restart kept is the one the full run kept: compare with a 12-step run at the same restarts' choice
  const short = train({ ...base, steps: 12, snapshotEvery: undefined, restarts: 1, evalBatch: undefined });
  const fullOne = train({ ...base, restarts: 1, evalBatch: undefined });
  expect(params(fullOne.snapshots![1].parameters)).toEqual(params(short.model.parameters.map((p) => p.data)));
  expect(params(fullOne.snapshots![0].parameters)).toEqual(params(train({ ...base, steps: 1, restarts: 1, snapshotEvery: 1 }).snapshots![0].parameters));
  const threaded = await trainParallel(base, { backend: 'js', threads: 2 });
  expect(threaded.snapshots!.map((s) => params(s.parameters))).toEqual(full.snapshots!.map((s) => params(s.parameters)));
}, 60_000);

it('the step callback sees the live parameters on the autograd trainer', () => {
  const seen: number[] = [];
  const r = train({ ...config, restarts: 1, steps: 3 }, (step, _losses, parameters) => seen.push(parameters![0][0]));
  expect(seen).toHaveLength(3);
  expect(seen[2]).toBe(r.model.W.data[0]);
  expect(seen[0]).not.toBe(seen[2]);
});

it('the sampler thread hands out sampleBatch\'s batches, in the backend\'s memory or its own, whichever thread drew them', async () => {
  const { useBackend } = await import('../../src/kernels/select.ts');
  const wasm = await useBackend('wasm');
  const spec = { instances: 3, batch: 64, features: 7, density: [1, 0.3, 0.05] };
  const keys = streamKeys(['a', 'b', 'c']);
  for (const memory of [undefined, wasm.memory]) {
    const source = prefetchingBatches(spec, keys, 40, memory);
    // the first batches while the thread starts (the training thread draws them), the rest once it has
    for (let step = 0; step < 40; step++) {
      if (step === 5) await new Promise((resolve) => setTimeout(resolve, 1500));
      const batch = source.batch(step);
      expect(batch.buffer).toBeInstanceOf(SharedArrayBuffer);
      expect(Array.from(batch)).toEqual(Array.from(sampleBatch(spec, keys, step)));
      if (step > 5) await new Promise((resolve) => setTimeout(resolve, 2)); // the thread draws the next meanwhile
    }
    expect(source.drawnByThread()).toBeGreaterThan(20);
    source.close();
  }
}, 30_000);

it('a sampler thread that fails hands its batch back: the training thread draws it and the rest, the same bytes, and says so', async () => {
  const spec = { instances: 3, batch: 64, features: 7, density: [1, 0.3, 0.05] };
  const keys = streamKeys(['a', 'b', 'c']);
  const warnings: string[] = [];
  const onWarning = (w: Error) => void (w.name === 'SamplerThreadWarning' && warnings.push(w.message));
  process.on('warning', onWarning);
  process.env.SUPERPOSITION_SAMPLER_FAIL_AT_STEP = '12';
  try {
    const source = prefetchingBatches(spec, keys, 30, undefined);
    await new Promise((resolve) => setTimeout(resolve, 1500)); // the thread is up before step 1 is asked for
    for (let step = 0; step < 30; step++) {
      expect(Array.from(source.batch(step)), `step ${step}`).toEqual(Array.from(sampleBatch(spec, keys, step)));
      await new Promise((resolve) => setTimeout(resolve, 5)); // the thread draws the next meanwhile
    }
    expect(source.failed()).toBe(true);
    // it drew (at most) steps 1-11, then failed on 12: the training thread drew 0 and 12-29
    const drawn = source.drawnByThread();
    expect(drawn).toBeGreaterThan(0);
    expect(drawn).toBeLessThanOrEqual(11);
    source.close();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    expect(warnings).toEqual([`the sampler thread failed after drawing ${drawn} of 30 batches; the training thread drew the rest (the same bytes, more slowly)`]);
  } finally {
    delete process.env.SUPERPOSITION_SAMPLER_FAIL_AT_STEP;
    process.off('warning', onWarning);
  }
}, 30_000);

it('a sampler thread per training thread gives the bytes of train()', async () => {
  const one = train(config);
  for (const threads of [1, 2]) {
    const r = await trainParallel(config, { backend: 'wasm', threads, samplerThreads: true });
    expect(r.samplerThreads).toBe(true);
    expect(bytes(r)).toBe(bytes({ ...one, threads, samplerThreads: true }));
  }
}, 60_000);

it('gives small tied models a sampler thread and splits the instances of larger ones', () => {
  const run = (instances: number, features: number, hidden: number, steps: number) => ({ ...config, restarts: 1, model: { kind: 'relu-output' as const, instances, features, hidden }, batch: 1024, steps });
  expect(threadPlan(run(10, 5, 2, 10_000), 2)).toEqual({ threads: 1, samplerThreads: true }); // A: sampling is 40% of a step
  expect(threadPlan(run(1024, 2, 1, 5000), 4)).toEqual({ threads: 2, samplerThreads: true }); // B on 4 cores: two of each
  expect(threadPlan(run(20, 100, 20, 5000), 2)).toEqual({ threads: 2, samplerThreads: false }); // C: split the instances
  expect(threadPlan(run(1, 400, 30, 5000), 2)).toEqual({ threads: 1, samplerThreads: true }); // one instance: cannot split
  expect(threadPlan(run(10, 5, 2, 100), 2)).toEqual({ threads: 1, samplerThreads: false }); // too short to start a thread
  const correlated = { ...run(10, 6, 2, 10_000), featureSets: [{ kind: 'correlated' as const, features: [0, 1] }] };
  expect(threadPlan(correlated, 2)).toEqual({ threads: 2, samplerThreads: false }); // sampled in TypeScript: split it
  expect(threadPlan(run(10, 5, 2, 10_000), 1)).toEqual({ threads: 1, samplerThreads: false }); // one core
});
