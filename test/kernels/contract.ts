/**
 * The kernel contract: checks every backend must pass, against independent float64 references, as plain
 * functions that throw on failure. vitest runs them in Node (backends.test.ts) and test/browser runs the same
 * functions inside headless Chromium on gpu.js's WebGL backend, so both environments check the same thing.
 *
 * Tolerance: a float32 dot product of length k is within k * 2^-24 * sum|a_i b_i| of the exact value whatever
 * the summation order or FMA contraction (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1), so
 * one bound covers the reference (paired rows, k unrolled by 4), gpu.js webasm and GL (sequential float32) and
 * gpu.js cpu (float64 sums); it is doubled as a safety factor. Elementwise ops, sums and copies are exact.
 */
import { broadcastStrides, stridesOf } from '../../src/kernels/shape.ts';
import type { Kernels, MatmulSpec } from '../../src/kernels/types.ts';
import { valuesFor, maxAbsDiff, sizeOfShape, unravel, broadcastIndex } from '../helpers.ts';

export interface Check {
  name: string;
  run(k: Kernels): void;
}

function fail(what: string, detail: string): never {
  throw new Error(`${what}: ${detail}`);
}
function atMost(what: string, actual: number, bound: number): void {
  if (!(actual <= bound)) fail(what, `${actual} > ${bound}`);
}
function sameValues(what: string, actual: ArrayLike<number>, want: readonly number[]): void {
  const got = Array.from(actual);
  if (got.length !== want.length || got.some((v, i) => !Object.is(v, want[i]))) fail(what, `got [${got.join(', ')}], want [${want.join(', ')}]`);
}

/** float64 reference for a batch of products; A is m x k (k x m when transA), B is k x n (n x k when transB). */
function refMatmul(a: Float32Array, b: Float32Array, batch: number, m: number, k: number, n: number, tA: boolean, tB: boolean): Float64Array {
  const out = new Float64Array(batch * m * n);
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += a[q * m * k + (tA ? p * m + i : i * k + p)] * b[q * k * n + (tB ? j * k + p : p * n + j)];
        out[(q * m + i) * n + j] = s;
      }
  return out;
}

/** Float32 accumulation error bound: |error| <= k * 2^-24 * sum |a_i b_i| (Higham), times a small safety factor. */
function matmulBound(a: Float32Array, b: Float32Array, k: number): number {
  const amax = a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  const bmax = b.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return 2 * k * 2 ** -24 * k * amax * bmax + 1e-7;
}

const offsets = (batch: number, size: number) => Int32Array.from({ length: batch }, (_, q) => q * size);

/** One batched product on `k`, checked against the float64 reference and the float32 bound. */
function checkMatmul(k: Kernels, batch: number, m: number, kk: number, n: number, tA: boolean, tB: boolean, seed = 0): void {
  const a = valuesFor([batch, m, kk], m * 31 + kk + seed);
  const b = valuesFor([batch, kk, n], n * 17 + kk + seed);
  const out = new Float32Array(batch * m * n).fill(NaN); // the kernel must overwrite, not accumulate
  k.matmul(a, b, out, { batch, m, k: kk, n, transA: tA, transB: tB, aOffsets: offsets(batch, m * kk), bOffsets: offsets(batch, kk * n) });
  atMost(`matmul ${batch}x${m}x${kk}x${n} ${tA ? 'T' : 'N'}${tB ? 'T' : 'N'}`, maxAbsDiff(out, refMatmul(a, b, batch, m, kk, n, tA, tB)), matmulBound(a, b, kk));
}

export const matmulShapes: Array<[number, number, number, number]> = [
  [1, 1, 1, 1],
  [3, 5, 7, 2],
  [10, 1024, 5, 2], // the intro model's hot shape
  [2, 17, 33, 9],
  [1, 3, 1500, 2], // inner dimension above gpu.js's default loop bound of 1000
  // Above the wasm backend's size cut-off (WASM_MIN_MACS): its SIMD kernels, with output widths that are a
  // multiple of 4, padded (30 -> 32), and wider than one register block of 32 columns (37 -> 40).
  [2, 64, 100, 20],
  [1, 33, 70, 30],
  [2, 40, 50, 37],
  [1, 1024, 400, 30], // the D configuration's product: 1.6 MB of A, which grows the wasm memory
];

export const kernelContract: Check[] = [
  ...matmulShapes.map(([batch, m, kk, n]): Check => ({
    name: `matmul batch=${batch} m=${m} k=${kk} n=${n}, every transpose variant`,
    run(k) {
      for (const tA of [false, true]) for (const tB of [false, true]) checkMatmul(k, batch, m, kk, n, tA, tB);
    },
  })),
  {
    // The reference skips all-zero blocks of A (most of x at the paper's densities): results must not change.
    name: "matmul of a mostly-zero A (the paper's sparse batches), A plain and transposed",
    run(k) {
      const [batch, m, kk, n] = [3, 137, 41, 5]; // above WASM_MIN_MACS, so the wasm kernels skip the zeros too
      for (const [tA, density] of [[false, 0.1], [true, 0.1], [false, 0.01], [true, 0]] as const) {
        const a = valuesFor([batch, m, kk], 5).map((v, i) => (((i * 2654435761) >>> 0) / 2 ** 32 < density ? v : 0));
        const b = valuesFor([batch, kk, n], 6);
        const out = new Float32Array(batch * m * n).fill(NaN);
        k.matmul(a, b, out, { batch, m, k: kk, n, transA: tA, transB: false, aOffsets: offsets(batch, m * kk), bOffsets: offsets(batch, kk * n) });
        atMost(`sparse matmul density ${density} ${tA ? 'TN' : 'NN'}`, maxAbsDiff(out, refMatmul(a, b, batch, m, kk, n, tA, false)), matmulBound(a, b, kk));
      }
    },
  },
  {
    name: 'matmul reads shared (broadcast) matrices through repeated offsets',
    run(k) {
      const a = valuesFor([4, 3], 1);
      const b = valuesFor([3, 2, 3, 5], 2);
      const out = new Float32Array(6 * 4 * 5);
      k.matmul(a, b, out, { batch: 6, m: 4, k: 3, n: 5, transA: false, transB: false, aOffsets: new Int32Array(6), bOffsets: offsets(6, 15) });
      const want = refMatmul(new Float32Array(6 * 12).map((_, i) => a[i % 12]), b, 6, 4, 3, 5, false, false);
      atMost('broadcast matmul', maxAbsDiff(out, want), 1e-5);
    },
  },
  {
    // gpu.js cuts loops bounded by an argument at loopMaxIterations (default 1000) without a word: sums of ones
    // give the exact count (integers below 2^24 are exact in float32), so a cut loop shows as 1000 or 4096.
    name: 'inner dimensions above 1000 and 4096 are summed in full (gpu.js loop cut-off)',
    run(k) {
      for (const kk of [1001, 1500, 4097, 5000]) {
        const out = new Float32Array(2);
        k.matmul(new Float32Array(kk).fill(1), new Float32Array(2 * kk).fill(1), out, { batch: 1, m: 1, k: kk, n: 2, transA: false, transB: false, aOffsets: new Int32Array(1), bOffsets: new Int32Array(1) });
        sameValues(`ones . ones, k=${kk}`, out, [kk, kk]);
      }
    },
  },
  {
    // gpu.js kernels keep the argument sizes and output of their first call: a changed shape throws (webasm, GL)
    // or silently reads wrong (cpu). Alternate shapes, and operand sizes under one (m, k, n), and come back.
    name: 'changing shapes and operand sizes between calls',
    run(k) {
      for (const [batch, m, kk, n, seed] of [[2, 3, 4, 5, 0], [3, 7, 2, 1, 1], [2, 3, 4, 5, 2], [1, 3, 4, 5, 3], [4, 9, 9, 4, 4], [2, 3, 4, 5, 5]])
        checkMatmul(k, batch, m, kk, n, seed % 2 === 1, seed % 3 === 1, seed);
      // Same (batch, m, k, n), but A shared by every batch element (a shorter operand).
      const a = valuesFor([3, 4], 9);
      const b = valuesFor([2, 4, 5], 10);
      const out = new Float32Array(2 * 3 * 5);
      const spec: MatmulSpec = { batch: 2, m: 3, k: 4, n: 5, transA: false, transB: false, aOffsets: new Int32Array(2), bOffsets: offsets(2, 20) };
      k.matmul(a, b, out, spec);
      atMost('shared A after batched A', maxAbsDiff(out, refMatmul(new Float32Array(24).map((_, i) => a[i % 12]), b, 2, 3, 4, 5, false, false)), matmulBound(a, b, 4));
    },
  },
  {
    name: 'binary ops with broadcast strides, and the maximum mask',
    run(k) {
      const shape = [2, 3, 4];
      const sa = [2, 1, 4];
      const sb = [3, 1];
      const a = valuesFor(sa, 3);
      const b = valuesFor(sb, 4);
      const fns: Record<string, (x: number, y: number) => number> = {
        add: (x, y) => x + y, sub: (x, y) => x - y, mul: (x, y) => x * y, div: (x, y) => x / y,
        maximum: Math.max, maxMask: (x, y) => (x > y ? 1 : x < y ? 0 : 0.5),
      };
      for (const [op, f] of Object.entries(fns)) {
        const out = new Float32Array(24);
        k.binary(op as never, a, broadcastStrides(sa, shape), b, broadcastStrides(sb, shape), out, shape);
        const want = Array.from({ length: 24 }, (_, i) => {
          const idx = unravel(i, shape);
          return Math.fround(f(a[broadcastIndex(idx, sa)], b[broadcastIndex(idx, sb)]));
        });
        atMost(op, maxAbsDiff(out, want), 0);
      }
    },
  },
  {
    name: 'unary ops',
    run(k) {
      const x = Float32Array.from([-2, -0.5, 0, 0.25, 3]);
      const run = (op: string, param?: number) => {
        const out = new Float32Array(5);
        k.unary(op as never, x, out, param);
        return [...out];
      };
      sameValues('neg', run('neg'), [2, 0.5, -0, -0.25, -3]);
      sameValues('relu', run('relu'), [0, 0, 0, 0.25, 3]);
      sameValues('abs', run('abs'), [2, 0.5, 0, 0.25, 3]);
      sameValues('step', run('step'), [0, 0, 0, 1, 1]);
      sameValues('sign', run('sign'), [-1, -1, 0, 1, 1]);
      sameValues('pow 2', run('pow', 2), [4, 0.25, 0, 0.0625, 9]);
      atMost('exp', maxAbsDiff(run('exp'), [...x].map((v) => Math.fround(Math.exp(v)))), 0);
      sameValues('pow 3 of 3', [run('pow', 3)[4]], [27]);
    },
  },
  {
    name: 'sum over axes accumulates in float64',
    run(k) {
      const shape = [3, 4, 5];
      const x = valuesFor(shape, 9);
      const kept = [3, 1, 5];
      const out = new Float32Array(15);
      k.sum(x, shape, out, stridesOf(kept).map((s, i) => (i === 1 ? 0 : s)));
      const want = new Float64Array(15);
      for (let i = 0; i < 60; i++) {
        const [p, , r] = unravel(i, shape);
        want[p * 5 + r] += x[i];
      }
      atMost('sum over axis 1', maxAbsDiff(out, want), 1e-6);
      // A long sum that float32 accumulation would get visibly wrong: 2^24 + 1 ones.
      const ones = new Float32Array(2 ** 24 + 1).fill(1);
      const total = new Float32Array(1);
      k.sum(ones, [ones.length], total, [0]);
      sameValues('2^24 + 1 ones', total, [Math.fround(2 ** 24 + 1)]);
    },
  },
  {
    name: 'copyStrided serves broadcast and permutation',
    run(k) {
      const x = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
      const out = new Float32Array(6);
      k.copyStrided(x, [1, 3], out, [3, 2]); // transpose
      sameValues('transpose', out, [1, 4, 2, 5, 3, 6]);
      const row = Float32Array.from([7, 8]);
      const tiled = new Float32Array(6);
      k.copyStrided(row, broadcastStrides([2], [3, 2]), tiled, [3, 2]);
      sameValues('broadcast', tiled, [7, 8, 7, 8, 7, 8]);
      sameValues('size', [sizeOfShape([3, 2])], [6]);
    },
  },
];
