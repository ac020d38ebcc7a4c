/** Forward values against independent float64 index-math references, hand-worked gradients, and shape errors. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { broadcastIndex, broadcastPair, fcParams, leaf, maxAbsDiff, nodeBackends, onBackend, ravel, seedArb, shapeArb, sizeOfShape, unravel } from '../helpers.ts';

// The forward and hand-worked gradient suites run on every backend that starts in Node (see nodeBackends).
const backends = await nodeBackends();

const outShapeOf = (a: readonly number[], b: readonly number[]): number[] => {
  const r = Math.max(a.length, b.length);
  return Array.from({ length: r }, (_, i) => Math.max(a[a.length - r + i] ?? 1, b[b.length - r + i] ?? 1));
};

describe.each(backends)('forward values on %s', (backend) => {
  onBackend(backend);
  const binary: Array<[string, (a: Tensor, b: Tensor) => Tensor, (x: number, y: number) => number]> = [
    ['add', sl.add, (x, y) => x + y],
    ['sub', sl.sub, (x, y) => x - y],
    ['mul', sl.mul, (x, y) => x * y],
    ['div', sl.div, (x, y) => x / y],
    ['maximum', sl.maximum, (x, y) => Math.max(x, y)],
  ];
  it.each(binary)('%s broadcasts like NumPy', (_n, op, ref) => {
    fc.assert(
      fc.property(broadcastPair, seedArb, ([sa, sb], seed) => {
        const a = leaf(sa, seed);
        const b = leaf(sb, seed + 7);
        const out = op(a, b);
        const shape = outShapeOf(sa, sb);
        expect(out.shape).toEqual(shape);
        const want = Array.from({ length: sizeOfShape(shape) }, (_, i) => {
          const idx = unravel(i, shape);
          return Math.fround(ref(a.data[broadcastIndex(idx, sa)], b.data[broadcastIndex(idx, sb)]));
        });
        expect(maxAbsDiff(out.data, want)).toBe(0);
      }),
      fcParams,
    );
  });

  it('matmul equals a float64 triple loop, batch broadcast and transposes included', () => {
    const arb = fc.record({ m: fc.integer({ min: 1, max: 9 }), k: fc.integer({ min: 1, max: 9 }), n: fc.integer({ min: 1, max: 9 }), tA: fc.boolean(), tB: fc.boolean(), seed: seedArb });
    fc.assert(
      fc.property(arb, ({ m, k, n, tA, tB, seed }) => {
        // a has batch [2, 1], b has batch [3]: the output batch is [2, 3].
        const a = leaf([2, 1, ...(tA ? [k, m] : [m, k])], seed);
        const b = leaf([3, ...(tB ? [n, k] : [k, n])], seed + 1);
        const out = sl.matmul(a, b, { transposeA: tA, transposeB: tB });
        expect(out.shape).toEqual([2, 3, m, n]);
        const want: number[] = [];
        for (let p = 0; p < 2; p++)
          for (let q = 0; q < 3; q++)
            for (let i = 0; i < m; i++)
              for (let j = 0; j < n; j++) {
                let s = 0;
                for (let t = 0; t < k; t++) {
                  const av = a.data[p * m * k + (tA ? t * m + i : i * k + t)];
                  const bv = b.data[q * k * n + (tB ? j * k + t : t * n + j)];
                  s += av * bv;
                }
                want.push(s);
              }
        expect(maxAbsDiff(out.data, want)).toBeLessThan(1e-5);
      }),
      fcParams,
    );
  });

  it('sum and mean over any axes equal index-math sums', () => {
    const arb = shapeArb(1, 4).chain((s) => fc.tuple(fc.constant(s), fc.subarray(s.map((_, i) => i), { minLength: 1 }), fc.boolean(), seedArb));
    fc.assert(
      fc.property(arb, ([s, axes, keepdims, seed]) => {
        const x = leaf(s, seed);
        const kept = s.map((d, i) => (axes.includes(i) ? 1 : d));
        const want = new Float64Array(sizeOfShape(kept));
        for (let i = 0; i < x.size; i++) want[ravel(unravel(i, s).map((v, d) => (axes.includes(d) ? 0 : v)), kept)] += x.data[i];
        const got = sl.sum(x, axes, keepdims);
        expect(got.shape).toEqual(keepdims ? kept : s.filter((_, i) => !axes.includes(i)));
        expect(maxAbsDiff(got.data, want)).toBeLessThan(1e-5);
        const count = axes.reduce((c, a) => c * s[a], 1);
        expect(maxAbsDiff(sl.mean(x, axes, keepdims).data, [...want].map((v) => v / count))).toBeLessThan(1e-6);
      }),
      fcParams,
    );
  });

  it('permute moves values to the permuted index', () => {
    const x = sl.tensor([[[1, 2, 3], [4, 5, 6]]]); // [1, 2, 3]
    const y = sl.permute(x, [2, 0, 1]);
    expect(y.shape).toEqual([3, 1, 2]);
    expect(y.toArray()).toEqual([[[1, 4]], [[2, 5]], [[3, 6]]]);
    expect(sl.transpose(sl.tensor([[1, 2], [3, 4]])).toArray()).toEqual([[1, 3], [2, 4]]);
  });

  it('reshape is a view and infers one -1', () => {
    const x = sl.tensor([1, 2, 3, 4, 5, 6]);
    const y = sl.reshape(x, [2, -1]);
    expect(y.shape).toEqual([2, 3]);
    expect(y.data.buffer).toBe(x.data.buffer);
  });

  it('unary ops, and PyTorch conventions at the kinks', () => {
    const x = sl.tensor([-2, -0.5, 0, 0.5, 2], undefined, { requiresGrad: true });
    expect(sl.relu(x).toArray()).toEqual([0, 0, 0, 0.5, 2]);
    expect(sl.abs(x).toArray()).toEqual([2, 0.5, 0, 0.5, 2]);
    expect(sl.neg(x).toArray()).toEqual([2, 0.5, -0, -0.5, -2]);
    expect(sl.exp(sl.tensor([0, 1])).data[1]).toBeCloseTo(Math.E, 6);
    expect(sl.log(sl.tensor([1, Math.E])).data[1]).toBeCloseTo(1, 6);
    expect(sl.pow(sl.tensor([2, 9]), 0.5).data[1]).toBeCloseTo(3, 6);
    sl.sum(sl.relu(x)).backward();
    expect(x.grad!.toArray()).toEqual([0, 0, 0, 1, 1]); // relu'(0) = 0
    x.grad = null;
    sl.sum(sl.abs(x)).backward();
    expect(x.grad!.toArray()).toEqual([-1, -1, 0, 1, 1]); // abs'(0) = 0
  });
});

describe.each(backends)('hand-worked gradients on %s', (backend) => {
  onBackend(backend);
  it('matmul [[1,2],[3,4]] x [[5],[6]]', () => {
    const a = sl.tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    const b = sl.tensor([[5], [6]], undefined, { requiresGrad: true });
    const c = sl.matmul(a, b);
    expect(c.toArray()).toEqual([[17], [39]]);
    sl.sum(c).backward();
    expect(a.grad!.toArray()).toEqual([[5, 6], [5, 6]]); // dC/dA = 1 b^T
    expect(b.grad!.toArray()).toEqual([[4], [6]]); // dC/dB = A^T 1
  });

  it('a broadcast bias gets the sum over the broadcast axis', () => {
    const x = sl.tensor([[1, 2, 3], [4, 5, 6]], undefined, { requiresGrad: true });
    const b = sl.tensor([10, 20, 30], undefined, { requiresGrad: true });
    sl.sum(sl.mul(sl.add(x, b), 2)).backward();
    expect(b.grad!.toArray()).toEqual([4, 4, 4]);
    expect(x.grad!.toArray()).toEqual([[2, 2, 2], [2, 2, 2]]);
  });

  it('fan-out accumulates: d/dx (x*x + x) = 2x + 1', () => {
    const x = sl.tensor([3, -1], undefined, { requiresGrad: true });
    sl.sum(sl.add(sl.mul(x, x), x)).backward();
    expect(x.grad!.toArray()).toEqual([7, -1]);
  });

  it('div: d(a/b) = 1/b, -a/b^2', () => {
    const a = sl.tensor([3], undefined, { requiresGrad: true });
    const b = sl.tensor([2], undefined, { requiresGrad: true });
    sl.div(a, b).backward();
    expect(a.grad!.item()).toBe(0.5);
    expect(b.grad!.item()).toBe(-0.75);
  });

  it('maximum splits the gradient evenly at ties, as PyTorch does', () => {
    const a = sl.tensor([1, 2, 3], undefined, { requiresGrad: true });
    const b = sl.tensor([2, 2, 2], undefined, { requiresGrad: true });
    sl.sum(sl.maximum(a, b)).backward();
    expect(a.grad!.toArray()).toEqual([0, 0.5, 1]);
    expect(b.grad!.toArray()).toEqual([1, 0.5, 0]);
  });

  it('mean of squares: d/dx mean(x^2) = 2x/n', () => {
    const x = sl.tensor([1, 2, 3, 4], undefined, { requiresGrad: true });
    sl.mean(sl.square(x)).backward();
    expect(maxAbsDiff(x.grad!.data, [0.5, 1, 1.5, 2])).toBe(0);
  });

  it('gradients accumulate across backward calls on leaves, like PyTorch', () => {
    const x = sl.tensor([1, 2], undefined, { requiresGrad: true });
    sl.sum(x).backward();
    sl.sum(x).backward();
    expect(x.grad!.toArray()).toEqual([2, 2]);
  });
});

describe('engine', () => {
  it('shape errors name the op and both shapes', () => {
    expect(() => sl.add(sl.zeros([2, 3]), sl.zeros([4]))).toThrow('add: shapes do not broadcast (shapes [2, 3] and [4])');
    expect(() => sl.matmul(sl.zeros([2, 3]), sl.zeros([4, 5]))).toThrow(/^matmul: inner dimensions differ \(3 vs 4\) \(shapes \[2, 3\] and \[4, 5\]\)$/);
    expect(() => sl.matmul(sl.zeros([2, 2, 3]), sl.zeros([3, 3, 5]))).toThrow('matmul: batch dimensions do not broadcast (shapes [2, 2, 3] and [3, 3, 5])');
    expect(() => sl.reshape(sl.zeros([2, 3]), [4])).toThrow('reshape: cannot reshape 6 elements into [4] (shapes [2, 3])');
    expect(() => sl.sum(sl.zeros([2, 3]), 2)).toThrow('sum: axis 2 is out of range for a tensor of rank 2 (allowed -2..1)');
    expect(() => sl.expand(sl.zeros([2]), [3])).toThrow('expand: cannot broadcast to [3] (shapes [2])');
  });

  it('a rule that returns a gradient of the wrong shape is caught, naming the op and input', () => {
    const broken = sl.customOp('broken', { shape: ([x]) => x, forward: (_k, [x]) => x.data.slice(), vjp: () => [() => sl.zeros([5])] });
    const x = sl.zeros([2, 3], { requiresGrad: true });
    expect(() => sl.sum(broken(x)).backward()).toThrow("backward of 'broken': the gradient for input 0 has shape [5], which does not reduce to the input's shape [2, 3]");
  });

  it('inputs that need no gradient are skipped: their rule is never run', () => {
    let evaluated = 0;
    const op = sl.customOp('counting', {
      shape: ([a]) => a,
      forward: (_k, [a, b]) => a.data.map((v, i) => v * b.data[i]),
      vjp: (g, [a, b]) => [() => (evaluated++, sl.mul(g, b)), () => { throw new Error('must not be evaluated'); }],
    });
    const a = sl.ones([3], { requiresGrad: true });
    const b = sl.ones([3]);
    sl.sum(op(a, b)).backward();
    expect(evaluated).toBe(1);
    expect(b.grad).toBeNull();
  });

  it('noGrad records no graph', () => {
    const x = sl.ones([2], { requiresGrad: true });
    const y = sl.noGrad(() => sl.mul(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.node).toBeNull();
  });

  it('backward of a non-scalar needs a gradient of its shape', () => {
    const x = sl.ones([2], { requiresGrad: true });
    expect(() => sl.mul(x, 2).backward()).toThrow('backward: a tensor of shape [2] is not a scalar; pass a gradient of the same shape');
    sl.mul(x, 2).backward(sl.tensor([1, 3]));
    expect(x.grad!.toArray()).toEqual([2, 6]);
  });

  it('check mode names the op that produced a NaN or Inf, forward and backward', () => {
    sl.setCheckNumerics(true);
    try {
      expect(() => sl.log(sl.tensor([1, 0]))).toThrow("op 'log' produced -Infinity at flat index 1 of a tensor of shape [2]");
      const x = sl.tensor([4, 0], undefined, { requiresGrad: true });
      expect(() => sl.sum(sl.pow(x, 0.5)).backward()).toThrow("op 'pow' in the gradient rule of 'pow' produced Infinity at flat index 1 of a tensor of shape [2]");
    } finally {
      sl.setCheckNumerics(false);
    }
    expect(sl.log(sl.tensor([0])).item()).toBe(-Infinity); // off by default
  });

  it('backward is deterministic: the same graph gives the same bytes', () => {
    const run = (): Float32Array => {
      const w = leaf([3, 4, 2], 5);
      w.requiresGrad = true;
      const x = leaf([3, 8, 4], 6);
      sl.sum(sl.relu(sl.matmul(sl.matmul(x, w), w, { transposeB: true }))).backward();
      return w.grad!.data;
    };
    expect(Buffer.from(run().buffer)).toEqual(Buffer.from(run().buffer));
  });

  it('deep graphs do not overflow the stack (iterative topological sort)', () => {
    const x = sl.tensor([1], undefined, { requiresGrad: true });
    let y = x;
    for (let i = 0; i < 20_000; i++) y = sl.add(y, 1e-4);
    sl.sum(y).backward();
    expect(x.grad!.item()).toBe(1);
  });
});
