/**
 * The kernel contract, run on every registered backend against independent float64 references. A new backend
 * (gpu.js) registers itself and runs this same suite; its tolerance is justified where it is registered.
 */
import { describe, expect, it } from 'vitest';
import { listBackends, setBackend, getBackend, withBackend } from '../../src/kernels/registry.ts';
import { broadcastStrides, stridesOf } from '../../src/kernels/shape.ts';
import { valuesFor, maxAbsDiff, sizeOfShape, unravel, broadcastIndex } from '../helpers.ts';

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

describe.each(listBackends())('kernels on backend %s', (name) => {
  const k = withBackend(name, getBackend);

  it.each([
    [1, 1, 1, 1],
    [3, 5, 7, 2],
    [10, 1024, 5, 2], // the intro model's hot shape
    [2, 17, 33, 9],
    [1, 3, 1500, 2], // inner dimension above gpu.js's default loop bound of 1000
  ])('matmul batch=%i m=%i k=%i n=%i, every transpose variant', (batch, m, kk, n) => {
    for (const tA of [false, true])
      for (const tB of [false, true]) {
        const a = valuesFor([batch, m, kk], m * 31 + kk);
        const b = valuesFor([batch, kk, n], n * 17 + kk);
        const out = new Float32Array(batch * m * n).fill(NaN); // the kernel must overwrite, not accumulate
        const offsets = (size: number) => Int32Array.from({ length: batch }, (_, q) => q * size);
        k.matmul(a, b, out, { batch, m, k: kk, n, transA: tA, transB: tB, aOffsets: offsets(m * kk), bOffsets: offsets(kk * n) });
        expect(maxAbsDiff(out, refMatmul(a, b, batch, m, kk, n, tA, tB))).toBeLessThanOrEqual(matmulBound(a, b, kk));
      }
  });

  it('matmul reads shared (broadcast) matrices through repeated offsets', () => {
    const a = valuesFor([4, 3], 1);
    const b = valuesFor([3, 2, 3, 5], 2);
    const out = new Float32Array(6 * 4 * 5);
    k.matmul(a, b, out, { batch: 6, m: 4, k: 3, n: 5, transA: false, transB: false, aOffsets: new Int32Array(6), bOffsets: Int32Array.from({ length: 6 }, (_, q) => q * 15) });
    const want = refMatmul(new Float32Array(6 * 12).map((_, i) => a[i % 12]), b, 6, 4, 3, 5, false, false);
    expect(maxAbsDiff(out, want)).toBeLessThan(1e-5);
  });

  it('binary ops with broadcast strides, and the maximum mask', () => {
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
      expect(maxAbsDiff(out, want), op).toBe(0);
    }
  });

  it('unary ops', () => {
    const x = Float32Array.from([-2, -0.5, 0, 0.25, 3]);
    const run = (op: string, param?: number) => {
      const out = new Float32Array(5);
      k.unary(op as never, x, out, param);
      return [...out];
    };
    expect(run('neg')).toEqual([2, 0.5, -0, -0.25, -3]);
    expect(run('relu')).toEqual([0, 0, 0, 0.25, 3]);
    expect(run('abs')).toEqual([2, 0.5, 0, 0.25, 3]);
    expect(run('step')).toEqual([0, 0, 0, 1, 1]);
    expect(run('sign')).toEqual([-1, -1, 0, 1, 1]);
    expect(run('pow', 2)).toEqual([4, 0.25, 0, 0.0625, 9]);
    expect(maxAbsDiff(run('exp'), [...x].map((v) => Math.fround(Math.exp(v))))).toBe(0);
    expect(run('pow', 3)[4]).toBe(27);
  });

  it('sum over axes accumulates in float64', () => {
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
    expect(maxAbsDiff(out, want)).toBeLessThan(1e-6);
    // A long sum that float32 accumulation would get visibly wrong: 2^24 + 1 ones.
    const ones = new Float32Array(2 ** 24 + 1).fill(1);
    const total = new Float32Array(1);
    k.sum(ones, [ones.length], total, [0]);
    expect(total[0]).toBe(Math.fround(2 ** 24 + 1));
  });

  it('copyStrided serves broadcast and permutation', () => {
    const x = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
    const out = new Float32Array(6);
    k.copyStrided(x, [1, 3], out, [3, 2]); // transpose
    expect([...out]).toEqual([1, 4, 2, 5, 3, 6]);
    const row = Float32Array.from([7, 8]);
    const tiled = new Float32Array(6);
    k.copyStrided(row, broadcastStrides([2], [3, 2]), tiled, [3, 2]);
    expect([...tiled]).toEqual([7, 8, 7, 8, 7, 8]);
    expect(sizeOfShape([3, 2])).toBe(6);
  });
});

describe('registry', () => {
  it('names the backend in use and refuses unknown ones without falling back', () => {
    expect(getBackend().name).toBe('js');
    expect(() => setBackend('cuda')).toThrow("setBackend: no backend named 'cuda' is registered (registered: js)");
    expect(getBackend().name).toBe('js');
  });
});
