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

it('wasm: the four-row and the sparse (row-compacting) kernels (NN, NT, TN) all give float32 sums over k in order, bit for bit', async () => {
  const { createWasmKernels } = await import('../../src/kernels/wasm.ts');
  const { batchedSpec } = await import('../../src/kernels/types.ts');
  const k = createWasmKernels();
  let seed = 7;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5;
  // The specification of both kernels: acc = f32(acc + f32(a * b)), k in order, from +0.
  const sequential = (a: Float32Array, b: Float32Array, m: number, kk: number, n: number, transA: boolean, transB: boolean) => {
    const c = new Float32Array(m * n);
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < kk; p++) acc = Math.fround(acc + Math.fround((transA ? a[p * m + i] : a[i * kk + p]) * (transB ? b[j * kk + p] : b[p * n + j])));
        c[i * n + j] = acc;
      }
    return c;
  };
  // M not a multiple of 4 (the last rows on the row kernel), K not a multiple of 4 (zero padding), widths of one and
  // more register blocks; dense A takes the four-row kernel, 30%- and 5%-dense A the sparse kernels.
  for (const [m, kk, n, transA, transB] of [[70, 37, 30, false, false], [33, 64, 13, false, true], [64, 400, 32, false, false], [41, 30, 100, false, true], [70, 37, 30, true, false], [41, 130, 13, true, false]] as const) {
    for (const density of [1, 0.3, 0.05]) {
      const a = Float32Array.from({ length: 2 * m * kk }, () => (Math.abs(rnd()) < density / 2 ? rnd() : 0));
      const b = Float32Array.from({ length: 2 * kk * n }, rnd);
      const out = new Float32Array(2 * m * n);
      k.matmul(a, b, out, batchedSpec(2, m, kk, n, transA, transB));
      for (let q = 0; q < 2; q++) {
        const expected = sequential(a.subarray(q * m * kk), b.subarray(q * kk * n), m, kk, n, transA, transB);
        expect(Buffer.from(out.buffer, q * m * n * 4, m * n * 4).equals(Buffer.from(expected.buffer)), `${m}x${kk}x${n}${transA ? ' TN' : transB ? ' NT' : ''} density ${density}`).toBe(true);
      }
    }
  }
});
