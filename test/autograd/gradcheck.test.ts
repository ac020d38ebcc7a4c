/**
 * Property-based gradient checks: one line per differentiable op (HIPS's systematic table), over random shapes
 * with broadcast and size-1 axes, inputs kept off the kinks, fixed fast-check seed. Plus proof that the check
 * fails on a wrong rule, and a two-layer model against PyTorch.
 */
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import * as sl from '../../src/index.ts';
import { Tensor } from '../../src/autograd/tensor.ts';
import { broadcastableTo, broadcastPair, dim, fcParams, leaf, maxAbsDiff, nodeBackends, onBackend, seedArb, shapeArb, valuesFor } from '../helpers.ts';

// The property-based checks and the PyTorch model run on every backend that starts in Node (see nodeBackends).
const backends = await nodeBackends();

function expectGrads(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], seed: number): void {
  const report = sl.gradcheck(f, inputs, { seed });
  if (!report.ok) throw new Error(`gradcheck failed for shapes ${inputs.map((x) => JSON.stringify(x.shape)).join(', ')}: ${JSON.stringify(report.inputs)}`);
}

/** Unary ops: name, function, input domain. */
const unaryCases: Array<[string, (x: Tensor) => Tensor, 'signed' | 'positive']> = [
  ['neg', sl.neg, 'signed'],
  ['relu', sl.relu, 'signed'],
  ['abs', sl.abs, 'signed'],
  ['exp', sl.exp, 'signed'],
  ['log', sl.log, 'positive'],
  ['square', sl.square, 'signed'],
  ['pow 3', (x) => sl.pow(x, 3), 'signed'],
  ['pow 0.5', (x) => sl.pow(x, 0.5), 'positive'],
  ['pow -1.5', (x) => sl.pow(x, -1.5), 'positive'],
  ['pow 0', (x) => sl.pow(x, 0), 'signed'],
];

/** Binary broadcasting ops: name, function, domain of b. */
const binaryCases: Array<[string, (a: Tensor, b: Tensor) => Tensor, 'signed' | 'positive']> = [
  ['add', sl.add, 'signed'],
  ['sub', sl.sub, 'signed'],
  ['mul', sl.mul, 'signed'],
  ['div', sl.div, 'positive'],
];

describe.each(backends)('gradcheck: every differentiable op, random shapes, on %s', (backend) => {
  onBackend(backend);
  it.each(unaryCases)('%s', (_name, f, domain) => {
    fc.assert(fc.property(shapeArb(0, 3), seedArb, (s, seed) => expectGrads(f, [leaf(s, seed, domain)], seed)), fcParams);
  });

  it.each(binaryCases)('%s with broadcasting', (_name, f, domain) => {
    fc.assert(
      fc.property(broadcastPair, seedArb, ([sa, sb], seed) => expectGrads(f, [leaf(sa, seed), leaf(sb, seed + 1, domain)], seed)),
      fcParams,
    );
  });

  it('maximum with broadcasting (values on disjoint grids, so no ties)', () => {
    const grid = (s: number[], seed: number, offset: number): Tensor => {
      const v = valuesFor(s, seed);
      return new Tensor(v.map((x) => Math.round(x * 4) / 4 + offset), s);
    };
    fc.assert(fc.property(broadcastPair, seedArb, ([sa, sb], seed) => expectGrads(sl.maximum, [grid(sa, seed, 0), grid(sb, seed + 1, 0.125)], seed)), fcParams);
  });

  it('matmul with batch broadcasting and both transpose flags', () => {
    const arb = fc.record({
      batch: shapeArb(0, 2).chain((s) => fc.tuple(broadcastableTo(s), broadcastableTo(s))),
      m: dim,
      k: dim,
      n: dim,
      transposeA: fc.boolean(),
      transposeB: fc.boolean(),
      seed: seedArb,
    });
    fc.assert(
      fc.property(arb, ({ batch: [ba, bb], m, k, n, transposeA, transposeB, seed }) => {
        const a = leaf([...ba, ...(transposeA ? [k, m] : [m, k])], seed);
        const b = leaf([...bb, ...(transposeB ? [n, k] : [k, n])], seed + 1);
        expectGrads((x, y) => sl.matmul(x, y, { transposeA, transposeB }), [a, b], seed);
      }),
      fcParams,
    );
  });

  it.each([
    ['sum', sl.sum],
    ['mean', sl.mean],
  ] as const)('%s over random axes, with and without keepdims', (_name, f) => {
    const arb = shapeArb(0, 3).chain((s) => fc.tuple(fc.constant(s), fc.subarray(s.map((_, i) => i)), fc.boolean(), fc.boolean(), seedArb));
    fc.assert(
      fc.property(arb, ([s, axes, all, keepdims, seed]) => expectGrads((x) => f(x, all ? undefined : axes, keepdims), [leaf(s, seed)], seed)),
      fcParams,
    );
  });

  it('reshape, permute, transpose, expand', () => {
    const arb = shapeArb(1, 3).chain((s) => fc.tuple(fc.constant(s), fc.shuffledSubarray(s.map((_, i) => i), { minLength: s.length, maxLength: s.length }), broadcastableTo(s), seedArb));
    fc.assert(
      fc.property(arb, ([s, perm, small, seed]) => {
        const x = leaf(s, seed);
        expectGrads((t) => sl.reshape(t, [...s].reverse()), [x], seed);
        expectGrads((t) => sl.reshape(t, [-1]), [x], seed);
        expectGrads((t) => sl.permute(t, perm), [x], seed);
        expectGrads((t) => sl.transpose(t, 0, -1), [x], seed);
        expectGrads((t) => sl.expand(t, s), [leaf(small, seed + 1)], seed);
      }),
      fcParams,
    );
  });

  it('a composite with fan-out: x reused through several paths', () => {
    fc.assert(
      fc.property(shapeArb(1, 3), seedArb, (s, seed) =>
        expectGrads((x) => sl.sum(sl.mul(sl.add(sl.square(x), sl.relu(x)), sl.exp(sl.neg(sl.abs(x))))), [leaf(s, seed)], seed),
      ),
      fcParams,
    );
  });
});

describe('gradcheck catches wrong rules', () => {
  const reluLike = (vjp: sl.OpDef<null>['vjp']) =>
    sl.customOp('customRelu', {
      shape: ([x]) => x,
      forward: (_k, [x]) => x.data.map((v) => (v > 0 ? v : 0)),
      vjp,
    });
  const x = new Tensor(Float32Array.from([-1.5, 0.7, -0.3, 2.0, 1.1, -0.9]), [2, 3]);

  it('passes a correct custom rule (control)', () => {
    const good = reluLike((g, [x]) => [() => sl.mul(g, new Tensor(x.data.map((v) => (v > 0 ? 1 : 0)), x.shape))]);
    expect(sl.gradcheck(good, [x]).ok).toBe(true);
  });

  it('fails a rule that forgets the mask', () => {
    const bad = reluLike((g) => [() => g]);
    const report = sl.gradcheck(bad, [x]);
    expect(report.ok).toBe(false);
    expect(report.inputs[0].error).toBeGreaterThan(report.inputs[0].tolerance);
  });

  it('fails a rule off by a constant factor, and names the input', () => {
    const badSquare = sl.customOp('badSquare', {
      shape: ([a, b]) => a,
      forward: (_k, [a, b]) => a.data.map((v, i) => v * v + b.data[i]),
      vjp: (g, [a]) => [() => sl.mul(g, a) /* should be 2 a */, () => g],
    });
    const report = sl.gradcheck(badSquare, [x, x]);
    expect(report.ok).toBe(false);
    expect(report.inputs.map((r) => r.ok)).toEqual([false, true]);
  });
});

describe.each(backends)('a two-layer model against PyTorch (torch_golden.json) on %s', (backend) => {
  onBackend(backend);
  // The official notebook's tied ReLU-output model: out = relu((x W) W^T + b), loss = mean over batch and
  // features of importance * (x - out)^2, summed over instances. Values computed by PyTorch 1.13 in float32.
  const golden = JSON.parse(readFileSync(new URL('../fixtures/torch_golden.json', import.meta.url), 'utf8')).tied_relu_output;
  const [I, , n] = golden.shapes.x;
  const model = (W: Tensor, b: Tensor, x: Tensor): Tensor => {
    const h = sl.matmul(x, W);
    return sl.relu(sl.add(sl.matmul(h, W, { transposeB: true }), sl.reshape(b, [I, 1, n])));
  };
  const lossOf = (W: Tensor, b: Tensor, x: Tensor): Tensor =>
    sl.sum(sl.mean(sl.mul(sl.tensor(golden.importance), sl.square(sl.sub(x, model(W, b, x)))), [1, 2]));

  it('matches the forward output, loss and both gradients', () => {
    const W = sl.tensor(golden.W, golden.shapes.W, { requiresGrad: true });
    const b = sl.tensor(golden.b, golden.shapes.b, { requiresGrad: true });
    const x = sl.tensor(golden.x, golden.shapes.x);
    const loss = lossOf(W, b, x);
    loss.backward();
    expect(maxAbsDiff(model(W, b, x).data, golden.out)).toBeLessThan(1e-6);
    expect(loss.item()).toBeCloseTo(golden.loss, 6);
    expect(maxAbsDiff(W.grad!.data, golden.dW)).toBeLessThan(1e-6);
    expect(maxAbsDiff(b.grad!.data, golden.db)).toBeLessThan(1e-6);
  });

  it('passes the numerical check', () => {
    const x = sl.tensor(golden.x, golden.shapes.x);
    const report = sl.gradcheck((W, b) => lossOf(W, b, x), [sl.tensor(golden.W, golden.shapes.W), sl.tensor(golden.b, golden.shapes.b)], { seed: 3 });
    expect(report.ok).toBe(true);
  });
});
