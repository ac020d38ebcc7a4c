/**
 * A test Web Worker: starts gpujs:webgpu (software adapters allowed: headless Chromium has SwiftShader's),
 * runs the kernel contract, the op suite, the gradient checks and the device-trainer suite on it (the files
 * vitest runs in Node), measures the device chain, and posts the report to the page.
 * Bundled by test/browser/bundle.ts.
 */
import { runCollected, type TestResult } from './vitest-shim.ts';
import { measureDeviceChain, type DeviceChainTiming } from '../../src/kernels/device-chain.ts';
import { setBackend } from '../../src/kernels/registry.ts';
import { useBackend } from '../../src/kernels/select.ts';
import type { WebgpuKernels } from '../../src/kernels/webgpu-bridge.ts';

export type WebgpuSuiteReport =
  | { ok: true; backend: string; device: string; software: boolean; results: TestResult[]; chain: DeviceChainTiming; live: number }
  | { ok: false; error: string };

const scope = globalThis as unknown as { onmessage: (() => void) | null; postMessage(m: unknown): void; suiteBackend?: string };

scope.onmessage = async () => {
  try {
    const k = (await useBackend('gpujs:webgpu', { allowSoftwareGpu: true })) as WebgpuKernels;
    setBackend('js');
    scope.suiteBackend = 'gpujs:webgpu';
    await import('../kernels/backends.test.ts');
    await import('../autograd/ops.test.ts');
    await import('../autograd/gradcheck.test.ts');
    // The device-trainer suite Node runs on llvmpipe, here on the browser's WebGPU (SwiftShader), feature sets included.
    const { deviceTrainerSuite } = await import('../toy/device-trainer-suite.ts');
    deviceTrainerSuite(k as WebgpuKernels & { training: NonNullable<WebgpuKernels['training']> }, { featureSets: true });
    const results = await runCollected(/gpujs:webgpu/);
    const chain = measureDeviceChain(k, { instances: 10, batch: 256, n: 20, m: 5 });
    scope.postMessage({ ok: true, backend: k.name, device: k.device!, software: k.adapter.software, results, chain, live: k.liveDeviceArrays } satisfies WebgpuSuiteReport);
  } catch (e) {
    scope.postMessage({ ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) } satisfies WebgpuSuiteReport);
  }
};
