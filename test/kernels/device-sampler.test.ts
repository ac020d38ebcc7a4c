/**
 * The device trainer's sampler as gpu.js kernel code (train-step.ts's `sample` kernel), on gpu.js's JavaScript
 * backend: the same bits as the host's sampleBatch, as on WebGPU (device-trainer-suite.ts). gpu.js's WebAssembly
 * backend keeps no 32-bit integers, and its bits differ: the CPU trainers sample on the host, never with it.
 */
import { expect, it } from 'vitest';
import { GPU } from 'gpu.js';
import { generalKernels, kernelConstants } from '../../src/kernels/device/train-step.ts';
import { sampleBatch } from '../../src/toy/data.ts';
import { deviceTrainSpec } from '../../src/toy/device-trainer.ts';
import { dataStreamKeys, initialModel, type TrainConfig } from '../../src/toy/train.ts';

const sameBytes = (a: Float32Array, b: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

it.each(['relu-output', 'abs'] as const)("gpu.js's JavaScript backend runs the device sampler with the host's bits (%s data), at steps 0 and 5", (kind) => {
  const [I, B, n] = [3, 16, 5];
  const config: TrainConfig = { model: { kind, instances: I, features: n, hidden: 2 }, importance: new Array(n).fill(1), density: [0.1, 0.5, 1], batch: B, steps: 8, lr: 1e-3, optimizer: 'adamw', seed: 'kernel sampler' };
  const { seeds, model } = initialModel(config);
  const spec = deviceTrainSpec(config, model, seeds, 1);
  const { constants, loopMax } = kernelConstants(spec);
  const gpu = new GPU({ mode: 'cpu' });
  const sample = gpu.createKernel(generalKernels(spec).sample, { output: [I * B * n], constants, loopMaxIterations: loopMax, precision: 'single', tactic: 'precision' } as never) as unknown as (...a: Float32Array[]) => Float32Array;
  for (const step of [0, 5]) {
    const state = new Float32Array(constants.tSlot + 1);
    state[constants.tSlot] = step; // the sampler reads the step count from the state
    const got = Float32Array.from(sample(spec.keys, spec.thresholds, new Float32Array(5), state));
    const want = sampleBatch({ instances: I, batch: B, features: n, density: config.density, values: kind === 'abs' ? 'signed' : 'unit' }, dataStreamKeys(seeds), step);
    expect(want.some((v) => v !== 0)).toBe(true);
    expect(sameBytes(got, want)).toBe(true);
  }
  gpu.destroy();
});
