/**
 * The kernel contract (contract.ts), run on every backend that starts in Node: the reference, wasm, gpu.js webasm
 * and gpu.js cpu. test/browser runs the same contract on gpu.js's WebGL backend in headless Chromium.
 */
import { describe, expect, it } from 'vitest';
import { getBackend, withBackend } from '../../src/kernels/registry.ts';
import { nodeBackends } from '../helpers.ts';
import { kernelContract } from './contract.ts';

describe.each(await nodeBackends())('kernels on backend %s', (name) => {
  const k = withBackend(name, getBackend);
  it.each(kernelContract.map((c) => [c.name, c] as const))('%s', (_name, check) => check.run(k));
});


it('the contract exercises the wasm SIMD kernels, not only its small-product path', async () => {
  const { WASM_MIN_MACS } = await import('../../src/kernels/wasm.ts');
  const { matmulShapes } = await import('./contract.ts');
  const large = matmulShapes.filter(([, m, k, n]) => m * k * n >= WASM_MIN_MACS);
  expect(large.map(([, , , n]) => n % 4 === 0)).toEqual(expect.arrayContaining([true, false])); // exact and padded widths
  expect(large.some(([, , , n]) => n > 32)).toBe(true); // more than one register block
});
