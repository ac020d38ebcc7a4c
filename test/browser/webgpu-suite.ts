/**
 * A test Web Worker: starts gpujs:webgpu (software adapters allowed: headless Chromium has SwiftShader's),
 * runs the kernel contract, the op suite and the gradient checks on it (the files vitest runs in Node), measures
 * the device chain, trains with the device trainer beside js autograd, and posts the report to the page.
 * Bundled by test/browser/bundle.ts.
 */
import { runCollected, type TestResult } from './vitest-shim.ts';
import { measureDeviceChain, type DeviceChainTiming } from '../../src/kernels/device-chain.ts';
import { setBackend } from '../../src/kernels/registry.ts';
import { useBackend } from '../../src/kernels/select.ts';
import type { WebgpuKernels } from '../../src/kernels/webgpu-bridge.ts';
import { withBackend } from '../../src/kernels/registry.ts';
import { train, type TrainConfig } from '../../src/toy/train.ts';

/** The device trainer in the browser against the autograd trainer on js, in the same worker. */
export interface DeviceTrainerCheck {
  label: string;
  trainer: string;
  maxParamDiff: number;
  passesPerStep: number;
  uploadsPerStep: number;
}

export type WebgpuSuiteReport =
  | { ok: true; backend: string; device: string; software: boolean; results: TestResult[]; chain: DeviceChainTiming; live: number; trainers: DeviceTrainerCheck[] }
  | { ok: false; error: string };

function deviceTrainerChecks(k: WebgpuKernels): DeviceTrainerCheck[] {
  const configs: Array<[string, TrainConfig]> = [
    ['relu-output 5->2 (small chain)', { model: { kind: 'relu-output', instances: 3, features: 5, hidden: 2 }, importance: [1, 0.9, 0.81, 0.73, 0.66], density: [0.1, 0.5, 1], batch: 64, steps: 10, lr: 1e-2, optimizer: 'adamw', seed: 'browser', stepsPerSubmission: 4 }],
    ['relu-hidden 6->4 (general chain)', { model: { kind: 'relu-hidden', instances: 2, features: 6, hidden: 4 }, importance: new Array(6).fill(1), density: [0.2, 0.6], batch: 64, steps: 10, lr: 1e-2, optimizer: 'adamw', seed: 'browser', stepsPerSubmission: 4 }],
  ];
  return configs.map(([label, config]) => {
    const device = withBackend(k.name, () => train(config));
    const reference = withBackend('js', () => train(config));
    let maxParamDiff = 0;
    device.model.parameters.forEach((p, j) => p.data.forEach((v, q) => (maxParamDiff = Math.max(maxParamDiff, Math.abs(v - reference.model.parameters[j].data[q])))));
    return { label, trainer: device.trainer, maxParamDiff, passesPerStep: device.deviceStats?.steps.passes ?? -1, uploadsPerStep: device.deviceStats?.steps.uploads ?? -1 };
  });
}

const scope = globalThis as unknown as { onmessage: (() => void) | null; postMessage(m: unknown): void; suiteBackend?: string };

scope.onmessage = async () => {
  try {
    const k = (await useBackend('gpujs:webgpu', { allowSoftwareGpu: true })) as WebgpuKernels;
    setBackend('js');
    scope.suiteBackend = 'gpujs:webgpu';
    await import('../kernels/backends.test.ts');
    await import('../autograd/ops.test.ts');
    await import('../autograd/gradcheck.test.ts');
    const results = await runCollected(/gpujs:webgpu/);
    const chain = measureDeviceChain(k, { instances: 10, batch: 256, n: 20, m: 5 });
    const trainers = deviceTrainerChecks(k);
    scope.postMessage({ ok: true, backend: k.name, device: k.device!, software: k.adapter.software, results, chain, live: k.liveDeviceArrays, trainers } satisfies WebgpuSuiteReport);
  } catch (e) {
    scope.postMessage({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies WebgpuSuiteReport);
  }
};
