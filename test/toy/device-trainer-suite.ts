/**
 * The device trainer's tests, for any backend that has one: gpujs:webgpu in Node (device-trainer.test.ts) and
 * gpujs:gpu on WebGL2 in headless Chromium (test/browser/page.ts). Against its specification, the autograd
 * trainer on the js backend: the same run on the device must give the same gradients, losses and parameters
 * within float32 rounding, at step 1 and after many steps, for every model and option; same seed, same bytes;
 * and the design's counts: nothing uploaded between read-backs, small tied models in at most 4 passes a step.
 */
import { describe, expect, it } from 'vitest';
import { withBackend } from '../../src/kernels/registry.ts';
import type { Kernels } from '../../src/kernels/types.ts';
import type { DeviceTraining } from '../../src/kernels/device/training.ts';
import { featureSets, sampleBatch } from '../../src/toy/data.ts';
import { deviceTrainSpec } from '../../src/toy/device-trainer.ts';
import { dataStreamKeys, importanceTensor, initialModel, train, TrainingDivergedError, type TrainConfig } from '../../src/toy/train.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { maxAbsDiff, sameBytes } from '../helpers.ts';

export interface DeviceSuiteOptions {
  /** Whether the device samples correlated and anticorrelated feature sets (WebGPU), or refuses them (WebGL2). */
  featureSets: boolean;
  /** Kernels the first run of a general-chain shape builds, where that is fixed (WebGPU: 9; WebGL2 also builds upload kernels, shared by length). */
  firstBuilds?: number;
}

export const base = (kind: TrainConfig['model']['kind'], instances: number, features: number, hidden: number, extra: Partial<TrainConfig> = {}): TrainConfig => ({
  model: { kind, instances, features, hidden },
  importance: Array.from({ length: features }, (_, f) => 0.9 ** f),
  density: Array.from({ length: instances }, (_, i) => [0.1, 0.5, 1][i % 3]),
  batch: 64,
  steps: 12,
  lr: 1e-2,
  optimizer: 'adamw',
  seed: 'device',
  stepsPerSubmission: 5, // 12 steps: submissions of 5, 5 and 2
  ...extra,
});

/** Each run of the table, on the device and on js; parameters within `tolerance`, tail losses within 1e-5 relative. */
const runs: [string, TrainConfig][] = [
  ['relu-output 5->2 (small chain)', base('relu-output', 4, 5, 2)],
  ['linear 5->2 (small chain)', base('linear', 3, 5, 2)],
  ['relu-output 20->5 (general chain), Adam with L2 and a cosine schedule', base('relu-output', 3, 20, 5, { optimizer: 'adam', weightDecay: 1e-2, schedule: 'cosine' })],
  ['relu-output 20->5, clipping', base('relu-output', 3, 20, 5, { clipGradNorm: 0.01 })],
  // evaluated after training by the backend's own products, which the device runs before it must leave working
  ['relu-hidden 6->4 with hidden bias, linear schedule, evaluated', base('relu-hidden', 3, 6, 4, { model: { kind: 'relu-hidden', instances: 3, features: 6, hidden: 4, hiddenBias: true }, schedule: 'linear', evalBatch: 256 })],
  ['abs 4->6 (untied, signed data; a batch of 100: the gradient pass\'s rows split unevenly)', base('abs', 3, 4, 6, { batch: 100 })],
  ['relu-output 6->3 with correlated and anticorrelated sets (sampled on the device)', base('relu-output', 3, 6, 3, { featureSets: [...featureSets('correlated', 1, 2), ...featureSets('anticorrelated', 1, 3, 2, 'per-set')] })],
  ['relu-output 2->1 with restarts (the small chain, 2 restarts an instance)', base('relu-output', 3, 2, 1, { restarts: 2, evalBatch: 512 })],
  // the small chain splits a batch of 100 into 3 chunks of 34, 34 and 32 rows (batchChunks)
  ['relu-output 3->2 on a batch of 100 (the small chain\'s rows split unevenly)', base('relu-output', 3, 3, 2, { batch: 100 })],
];

export function deviceTrainerSuite(k: Kernels & { training: DeviceTraining }, options: DeviceSuiteOptions): void {
  describe(`the device trainer on ${k.name} against the autograd trainer on js`, () => deviceTests(k, options));
}

function deviceTests(k: Kernels & { training: DeviceTraining }, { featureSets: withSets, firstBuilds }: DeviceSuiteOptions): void {
  const onDevice = <T>(f: () => T): T => withBackend(k.name, f);
  const trained = runs.filter(([name]) => withSets || !name.includes('sets'));

  it.each(trained)('%s: same losses and parameters within float32 rounding after 12 steps', (_, config) => {
    const device = onDevice(() => train(config));
    const reference = withBackend('js', () => train(config));
    expect(device.trainer).toBe('device');
    expect(reference.trainer).toBe('autograd');
    device.model.parameters.forEach((p, j) => expect(maxAbsDiff(p.data, reference.model.parameters[j].data)).toBeLessThan(2e-6));
    device.finalLosses.forEach((v, i) => expect(Math.abs(v - reference.finalLosses[i])).toBeLessThanOrEqual(1e-5 * reference.finalLosses[i]));
    device.evalLosses?.forEach((v, i) => expect(Math.abs(v - reference.evalLosses![i])).toBeLessThanOrEqual(1e-5 * reference.evalLosses![i]));
    if (config.restarts) expect(device.restarts!.map((r) => r.kept)).toEqual(reference.restarts!.map((r) => r.kept));
  });

  // AdamW without clipping: its first moment after step 1 is exactly (1 - beta1) times the gradient.
  it.each(runs.slice(0, 6))('%s: the first step\'s gradient (AdamW\'s m / (1 - beta1), unclipped) is autograd\'s on the same batch', (_, options) => {
    const config = { ...options, optimizer: 'adamw' as const, weightDecay: undefined, clipGradNorm: undefined };
    const { seeds, model } = initialModel(config);
    const spec = deviceTrainSpec(config, model, seeds, 1);
    const run = k.training.start(spec);
    run.run(1);
    const P = spec.params.length;
    const gradient = run.state().subarray(P, 2 * P).map((m) => m / 0.1);
    run.free();
    // autograd on js, on the batch of step 0 (the counter-based stream: the same bits the device drew)
    const { instances: I, features: n } = config.model;
    const x = sampleBatch({ instances: I, batch: config.batch, features: n, density: config.density, values: config.model.kind === 'abs' ? 'signed' : 'unit' }, dataStreamKeys(seeds), 0);
    withBackend('js', () => model.loss(new Tensor(x, [I, config.batch, n]), importanceTensor(config.importance, I, n)).backward());
    const expected = Float32Array.from(model.parameters.flatMap((p) => Array.from(p.grad!.data)));
    const scale = expected.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    expect(maxAbsDiff(gradient, expected)).toBeLessThan(1e-5 * scale);
  });

  const sampled: [string, TrainConfig][] = [['unit values', base('relu-output', 3, 5, 2)], ['signed values (|x|)', base('abs', 3, 4, 6)], ...(withSets ? [['feature sets', runs[6][1]] as [string, TrainConfig]] : [])];
  it.each(sampled)('the device samples the host\'s batch bit for bit (%s), at step 0 and step 6', (_, config) => {
    const { seeds, model } = initialModel(config);
    const run = k.training.start(deviceTrainSpec(config, model, seeds, 6));
    const { instances: I, features: n } = config.model;
    const spec = { instances: I, batch: config.batch, features: n, density: config.density, values: config.model.kind === 'abs' ? 'signed' : 'unit', sets: config.featureSets } as const;
    const keys = dataStreamKeys(seeds);
    try {
      run.run(1);
      expect(sameBytes(run.batch(), sampleBatch(spec, keys, 0))).toBe(true);
      run.run(6);
      expect(sameBytes(run.batch(), sampleBatch(spec, keys, 6))).toBe(true);
    } finally {
      run.free();
    }
  });

  it('the tied models\' general chain keeps W transposed beside W with the same bits (the output pass reads it); the parameters read alone', () => {
    const config = base('relu-output', 3, 20, 5, { clipGradNorm: 0.05 }); // clipping: the copy takes W's clip coefficient too
    const { seeds, model } = initialModel(config);
    const spec = deviceTrainSpec(config, model, seeds, 4);
    const run = k.training.start(spec);
    try {
      run.run(4);
      const state = run.state();
      const { instances: I, features: n, hidden: m } = config.model;
      const P = spec.params.length;
      expect(state.length).toBe(3 * P + 1 + I * n * m);
      const W = state.subarray(0, I * n * m);
      const transposed = new Float32Array(I * n * m);
      for (let i = 0; i < I; i++) for (let f = 0; f < n; f++) for (let q = 0; q < m; q++) transposed[i * n * m + q * n + f] = W[i * n * m + f * m + q];
      expect(sameBytes(state.subarray(3 * P + 1), transposed)).toBe(true);
      expect(sameBytes(W, spec.params.subarray(0, I * n * m))).toBe(false); // trained: not the initial weights
      // the end of a run reads the parameters alone
      expect(sameBytes(run.parameters(), state.subarray(0, P))).toBe(true);
    } finally {
      run.free();
    }
  });

  it('same seed, same bytes; another seed, other bytes', () => {
    const config = base('relu-output', 3, 20, 5);
    const [a, b, c] = [config, config, { ...config, seed: 'other' }].map((cfg) => onDevice(() => train(cfg)));
    expect(sameBytes(a.model.W.data, b.model.W.data)).toBe(true);
    expect(sameBytes(a.model.W.data, c.model.W.data)).toBe(false);
  });

  it('between read-backs nothing is uploaded; a small tied model takes 4 passes a step (at most 4), the general chain 9', () => {
    for (const [config, passes] of [[base('relu-output', 4, 5, 2, { steps: 20, stepsPerSubmission: 10 }), 4], [base('relu-output', 3, 20, 5, { steps: 20, stepsPerSubmission: 10 }), 9]] as const) {
      const { deviceStats } = onDevice(() => train(config));
      const { start, steps } = deviceStats!;
      expect(start.uploads).toBeGreaterThan(0); // the run's tables and initial state, once
      expect(steps).toEqual({ passes, submissions: 1 / 10, uploads: 0, readbacks: 1 / 10, bytesUp: 0, bytesDown: 4 * config.model.instances, builds: 0 });
    }
  });

  if (!withSets)
    it('refuses correlated and anticorrelated feature sets, saying where to train them', () => {
      expect(() => onDevice(() => train(runs[6][1]))).toThrow('correlated or anticorrelated feature sets are not supported there');
    });

  it('a second run of one shape and settings reuses the first one\'s compiled kernels (a sweep\'s chunks compile once), and gives the same bytes', () => {
    const config = base('relu-output', 3, 21, 5, { steps: 6 }); // a shape no other test builds
    const first = onDevice(() => train(config));
    const second = onDevice(() => train(config));
    // WebGPU: sample, hidden, output, output gradient, hidden gradient, gradients, AdamW, two loss passes
    if (firstBuilds !== undefined) expect(first.deviceStats!.start.builds).toBe(firstBuilds);
    else expect(first.deviceStats!.start.builds).toBeGreaterThan(0);
    expect(second.deviceStats!.start.builds).toBe(0);
    expect(sameBytes(second.model.W.data, first.model.W.data)).toBe(true);
    // another size compiles its own
    expect(onDevice(() => train({ ...config, model: { ...config.model, instances: 2 }, density: [0.5, 0.1] })).deviceStats!.start.builds).toBeGreaterThan(0);
  });

  it('a diverging run names the run, the instance and the step', () => {
    const config = base('relu-output', 2, 5, 2, { lr: 1e30, name: 'too fast' });
    let error: unknown = null;
    try {
      onDevice(() => train(config));
    } catch (e) {
      error = e;
    }
    expect(error instanceof TrainingDivergedError).toBe(true);
    expect(() => onDevice(() => train(config))).toThrow(new RegExp(`^training run 'too fast': loss of instance \\d is (NaN|Infinity) at step \\d+ \\(lr 1e\\+30; device trainer on ${k.training.device.replace(/[()\[\].*+?^$|\\{}]/g, '\\$&')}\\)$`));
  });

  it('refuses the densities and feature sets the host sampler refuses (the device would train on them silently)', () => {
    expect(() => onDevice(() => train(base('relu-output', 2, 5, 2, { density: [0.5, 1.5] })))).toThrow('sampleBatch: density 1.5 of instance 1 is outside [0, 1]');
    expect(() => onDevice(() => train(base('relu-output', 2, 5, 2, { featureSets: [{ kind: 'correlated', features: [0, 1] }, { kind: 'anticorrelated', features: [1, 2] }] })))).toThrow('sampleBatch: feature 1 is in more than one set');
    expect(() => onDevice(() => train(base('relu-output', 2, 5, 2, { featureSets: featureSets('anticorrelated', 1, 2) })))).toThrow('per-member density');
    expect(() => onDevice(() => train(base('relu-output', 2, 5, 2, { featureSets: [{ kind: 'correlated', features: [3] }] })))).toThrow('sampleBatch: feature set 0 has 1 features, expected at least 2');
  });

  it('refuses a run too large for float32 indexing, naming the sizes and what to lower', () => {
    const config = base('relu-output', 5000, 4, 2, { batch: 1024 });
    expect(() => onDevice(() => train(config))).toThrow('device trainer: instances x batch x features = 20480000 floats (5000 instances), over the 16777216 a float32 shader indexes exactly; train fewer instances at once (phase-diagram.ts: a smaller --chunk-size) or a smaller batch');
  });
}
