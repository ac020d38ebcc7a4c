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

it('wasm: the four-row and the sparse (row-compacting) kernels (NN, NT, TN, TT) all give float32 sums over k in order, bit for bit', async () => {
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
  // more register blocks, transposed B with edges (N, K not multiples of 4); dense A takes the four-row kernels
  // (a wide TN product: transposed, then the NN kernel), 30%- and 5%-dense A the sparse kernels. Operands as
  // plain arrays (copied in) and in the backend's memory (used where they lie).
  const cases = [[70, 37, 30, false, false], [33, 64, 13, false, true], [64, 400, 32, false, false], [41, 30, 100, false, true], [70, 37, 30, true, false], [41, 130, 13, true, false], [514, 8, 257, true, false], [514, 12, 257, true, true]] as const;
  const inMemory = (x: Float32Array) => k.memory!.allocate(x.length).fill(0).map((_, i) => x[i]);
  for (const [m, kk, n, transA, transB] of cases) {
    for (const density of [1, 0.3, 0.05]) {
      const a = Float32Array.from({ length: 2 * m * kk }, () => (Math.abs(rnd()) < density / 2 ? rnd() : 0));
      const b = Float32Array.from({ length: 2 * kk * n }, rnd);
      const expected = [0, 1].map((q) => sequential(a.subarray(q * m * kk), b.subarray(q * kk * n), m, kk, n, transA, transB));
      for (const where of ['copied', 'in place'] as const) {
        const [aw, bw] = where === 'copied' ? [a, b] : [inMemory(a), inMemory(b)];
        const out = where === 'copied' ? new Float32Array(2 * m * n) : k.memory!.allocate(2 * m * n);
        k.matmul(aw, bw, out, batchedSpec(2, m, kk, n, transA, transB));
        for (let q = 0; q < 2; q++) {
          const label = `${m}x${kk}x${n}${transA ? ' T' : ' N'}${transB ? 'T' : 'N'} density ${density}, ${where}`;
          expect(Buffer.from(out.buffer, out.byteOffset + q * m * n * 4, m * n * 4).equals(Buffer.from(expected[q].buffer)), label).toBe(true);
        }
      }
    }
  }
});

it("wasm: the SIMD Adam kernel gives the bytes of the optimizer's loop (Adam with L2 and AdamW, zeros, -0, tiny and large values, in and out of the backend's memory)", async () => {
  const { createWasmKernels } = await import('../../src/kernels/wasm.ts');
  const { registerBackend, withBackend } = await import('../../src/kernels/registry.ts');
  const { Adam, AdamW } = await import('../../src/toy/optim.ts');
  const { Tensor } = await import('../../src/autograd/tensor.ts');
  const wasm = createWasmKernels();
  let calls = 0;
  registerBackend({ ...wasm, name: 'wasm-adam', adamUpdate: (args) => (wasm.adamUpdate!(args) ? (calls++, true) : false) });
  const special = [0, -0, 1e-30, -1e-30, 3e38, -3e38, 1e-45];
  const values = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => (i < special.length ? special[(i + f) % special.length] : Math.sin(i * f) * 10 ** ((i % 9) - 6)));
  for (const length of [4, 40, 1000, 1002]) {
    for (const make of [(p: InstanceType<typeof Tensor>) => new AdamW([p], { lr: 1e-2 }), (p: InstanceType<typeof Tensor>) => new Adam([p], { lr: 3e-3, weightDecay: 0.05 })]) {
      for (const inMemory of [false, true]) {
        const run = (backend: string) =>
          withBackend(backend, () => {
            const data = inMemory && backend !== 'js' ? wasm.memory!.allocate(length) : new Float32Array(length);
            data.set(values(length, 0.7));
            const p = new Tensor(data, [length], true);
            const opt = make(p);
            for (let step = 0; step < 4; step++) {
              p.grad = new Tensor(values(length, 1.3 + step), [length]);
              opt.step(step === 2 ? 0.5 : 1);
            }
            const state = opt as unknown as { m: Float32Array[]; v: Float32Array[] };
            return [p.data, state.m[0], state.v[0]].map((a) => Buffer.from(a.slice().buffer));
          });
        const [loop, kernel] = [run('js'), run('wasm-adam')];
        kernel.forEach((bytes, j) => expect(bytes.equals(loop[j]), `${['w', 'm', 'v'][j]}, ${length} parameters, ${make.toString().includes('AdamW') ? 'AdamW' : 'Adam + L2'}, ${inMemory ? 'in' : 'out of'} the memory`).toBe(true));
      }
    }
  }
  expect(calls).toBe(3 * 2 * 2 * 4); // every length that is a multiple of 4 went through the kernel (1002 did not)
});

it("wasm: the SIMD output-loss kernel gives the bytes of reluOutputLoss's loop, zeros and ties included", async () => {
  const { createWasmKernels } = await import('../../src/kernels/wasm.ts');
  const { reluOutputLoss } = await import('../../src/toy/fused.ts');
  const { Tensor } = await import('../../src/autograd/tensor.ts');
  const k = createWasmKernels();
  const [I, B, n] = [3, 50, 12];
  let seed = 11;
  const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
  // pre + b exactly 0 (relu's kink), -0, zero targets, per-instance importances
  const bias = Float32Array.from({ length: I * n }, (_, j) => (j % 5 === 0 ? 0.25 : rnd() - 0.5));
  const preValues = Float32Array.from({ length: I * B * n }, (_, o) => (o % 7 === 0 ? -bias[Math.floor(o / (B * n)) * n + (o % n)] : o % 11 === 0 ? -0 : 2 * rnd() - 1));
  const targetValues = Float32Array.from({ length: I * B * n }, () => (rnd() < 0.3 ? rnd() : 0));
  const imp = Float32Array.from({ length: I * n }, () => rnd());
  const inMemory = (values: Float32Array) => {
    const a = k.memory!.allocate(values.length);
    a.set(values);
    return a;
  };
  const [pre, target, dPre] = [inMemory(preValues), inMemory(targetValues), k.memory!.allocate(I * B * n)];
  for (const a of [pre, target]) expect(a.buffer).toBe(dPre.buffer);
  const out = new Float32Array(I);
  const dB = new Float32Array(I * n);
  expect(k.reluOutputLoss!({ pre, bias, target, imp, impPerInstance: true, I, B, n, out, dPre, dB })).toBe(true);
  // the specification: the op's loop on the reference backend (plain arrays)
  const preT = new Tensor(preValues, [I, B, n], true);
  const bT = new Tensor(bias.slice(), [I, n], true);
  const loss = reluOutputLoss(preT, bT, new Tensor(targetValues, [I, B, n]), new Tensor(imp, [I, n]));
  loss.backward(new Tensor(new Float32Array(I).fill(1), [I]));
  expect(Buffer.from(out.buffer).equals(Buffer.from(loss.data.buffer))).toBe(true);
  expect(Buffer.from(dPre.buffer, dPre.byteOffset, dPre.byteLength).equals(Buffer.from(preT.grad!.data.buffer))).toBe(true);
  expect(Buffer.from(dB.buffer).equals(Buffer.from(bT.grad!.data.buffer))).toBe(true);
  // arrays outside its memory: the kernel declines, and the op runs its loop
  expect(k.reluOutputLoss!({ pre: preValues, bias, target, imp, impPerInstance: true, I, B, n, out, dPre, dB })).toBe(false);
});

it.each([[2, 1, 5, false], [5, 2, 4, true], [3, 2, 3, false], [8, 8, 2, true]] as const)(
  "wasm: the SIMD small-model kernels (%i -> %i, %i instances) give the bytes of tiedReluLoss's loops",
  async (n, m, I, perInstance) => {
    const { createWasmKernels } = await import('../../src/kernels/wasm.ts');
    const { tiedReluLoss } = await import('../../src/toy/fused.ts');
    const { Tensor } = await import('../../src/autograd/tensor.ts');
    const k = createWasmKernels();
    const B = 37;
    let seed = 5;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const xValues = Float32Array.from({ length: I * B * n }, () => (rnd() < 0.4 ? rnd() : 0));
    const W = Float32Array.from({ length: I * n * m }, () => 2 * rnd() - 1);
    const b = Float32Array.from({ length: I * n }, () => (rnd() < 0.2 ? 0 : 0.4 * rnd() - 0.2));
    const imp = Float32Array.from({ length: perInstance ? I * n : n }, () => rnd());
    const g = Float32Array.from({ length: I }, () => rnd() + 0.5);
    const x = k.memory!.allocate(xValues.length);
    x.set(xValues);
    const impStride = perInstance ? n : 0;
    const out = new Float32Array(I);
    const [dW, db] = [new Float32Array(W.length), new Float32Array(b.length)];
    expect(k.tiedReluLoss!({ x, W, b, imp, impStride, I, B, n, m, out })).toBe(true);
    expect(k.tiedReluLoss!({ x, W, b, imp, impStride, I, B, n, m, g, dW, db })).toBe(true);
    // the specification: the op's loops on the reference backend (plain arrays)
    const [WT, bT] = [new Tensor(W.slice(), [I, n, m], true), new Tensor(b.slice(), [I, n], true)];
    const loss = tiedReluLoss(new Tensor(xValues, [I, B, n]), WT, bT, new Tensor(imp, perInstance ? [I, n] : [n]));
    loss.backward(new Tensor(g, [I]));
    expect(Buffer.from(out.buffer).equals(Buffer.from(loss.data.buffer))).toBe(true);
    expect(Buffer.from(dW.buffer).equals(Buffer.from(WT.grad!.data.buffer))).toBe(true);
    expect(Buffer.from(db.buffer).equals(Buffer.from(bT.grad!.data.buffer))).toBe(true);
    expect(k.tiedReluLoss!({ x: xValues, W, b, imp, impStride, I, B, n, m, out }), 'a batch outside its memory').toBe(false);
  },
);
