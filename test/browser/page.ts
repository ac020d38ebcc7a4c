/**
 * The browser page's entry: loads the kernel contract, the op suite and the gradient checks (the same files
 * vitest runs in Node) with gpu.js's WebGL backend as the backend under test, runs them, and reports, with the
 * facts about the WebGL context that make the results meaningful (kernel class, precision, float render
 * targets, renderer). Bundled by test/browser/bundle.ts; gpu-browser.min.js provides the `GPU` global.
 */
import { runCollected, type TestResult } from './vitest-shim.ts';
import { getBackend, setBackend } from '../../src/kernels/registry.ts';
import { useBackend } from '../../src/kernels/select.ts';
import { webglInfo } from '../../src/kernels/webgl-info.ts';
import type { GpujsKernels } from '../../src/kernels/gpujs.ts';
import { measureDeviceChain, type DeviceChainTiming } from '../../src/kernels/device-chain.ts';

export interface PageReport {
  webgl2: boolean;
  floatRenderTargets: boolean;
  renderer: string;
  backend: string;
  kernelClass: string;
  precision: string;
  cachedKernels: number;
  results: TestResult[];
  pipeline: DeviceChainTiming;
  /** Where the device trainer ran (gpujs:gpu's `training.device`), or null without one. */
  deviceTrainer: string | null;
}

async function runSuite(): Promise<PageReport> {
  const { webgl2, floatRenderTargets, renderer } = webglInfo();
  const facts = { webgl2, floatRenderTargets, renderer };
  const gpu = (await useBackend('gpujs:gpu')) as GpujsKernels;
  setBackend('js');
  await import('../kernels/backends.test.ts');
  await import('../autograd/ops.test.ts');
  await import('../autograd/gradcheck.test.ts');
  // The device trainer on WebGL2: the suite gpujs:webgpu runs in Node, less what WebGL2 does not do.
  const { deviceTrainerSuite } = await import('../toy/device-trainer-suite.ts');
  if (gpu.training) deviceTrainerSuite({ ...gpu, training: gpu.training }, { featureSets: false });
  const results = await runCollected(/gpujs:gpu/);
  return {
    ...facts,
    backend: gpu.name,
    kernelClass: gpu.kernelClass,
    precision: gpu.precision,
    cachedKernels: gpu.cachedKernels,
    results,
    pipeline: measureDeviceChain(gpu, { instances: 10, batch: 256, n: 20, m: 5 }),
    deviceTrainer: gpu.training?.device ?? null,
  };
}

(globalThis as { runSuite?: typeof runSuite; activeBackend?: () => string }).runSuite = runSuite;
(globalThis as { activeBackend?: () => string }).activeBackend = () => getBackend().name;
