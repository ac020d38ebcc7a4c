/**
 * The device trainer on gpujs:webgpu (device-trainer-suite.ts). Without a GPU the adapter is Mesa's llvmpipe
 * through Dawn's OpenGL ES backend (as in test/kernels/webgpu); without any adapter the tests skip, saying why,
 * unless WEBGPU_TEST=1 (CI) makes that a failure. The WebGL2 device trainer runs the same suite in headless
 * Chromium (test/browser/webgl.test.ts).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { registerBackend, setBackend, withBackend } from '../../src/kernels/registry.ts';
import { createWebgpuKernels } from '../../src/kernels/webgpu-node.ts';
import { train } from '../../src/toy/train.ts';
import { base, deviceTrainerSuite } from './device-trainer-suite.ts';

const webgpu = await createWebgpuKernels({ allowSoftware: true }).catch((e: Error) => {
  if (process.env.WEBGPU_TEST === '1') throw e;
  console.log(`test/toy/device-trainer: skipped (WEBGPU_TEST=1 would make this a failure): ${e.message}`);
  return null;
});
afterAll(() => {
  setBackend('js');
  webgpu?.destroy();
});

if (webgpu) {
  registerBackend(webgpu);
  deviceTrainerSuite(webgpu, { featureSets: true, firstBuilds: 9 });
} else describe.skip('the device trainer on gpujs:webgpu (no WebGPU adapter)', () => it('skipped', () => {}));

it('asking for the device trainer on a backend without one is an error, not a silent fallback', () => {
  expect(() => withBackend('js', () => train(base('relu-output', 1, 2, 1, { trainer: 'device', steps: 1 })))).toThrow('train: the device trainer needs a backend with a device trainer (gpujs:webgpu, or gpujs:gpu in a browser with WebGL2); backend js has none');
});
