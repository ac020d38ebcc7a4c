/**
 * The primitive ops: one table, each entry declaring its output shape, forward kernel and vector-Jacobian product
 * side by side. The table is typed by `OpAttrs`, so an op without a rule does not compile. Gradient rules are
 * written with the same ops (run by the engine without recording), and return gradients in the output-side
 * shape where broadcasting happened: the engine sums them back once, for every op.
 *
 * Derived ops (mean, square, transpose) are compositions and need no rule of their own.
 */
import { broadcastShapes, broadcastStrides, fmt, isPermutation, normAxes, sizeOf, stridesOf, type Shape } from '../kernels/shape.ts';
import type { BinaryOp, UnaryOp } from '../kernels/types.ts';
import { getBackend } from '../kernels/registry.ts';
import { allocate } from './arena.ts';
import { apply, installEngineOps, type OpDef } from './engine.ts';
import { asTensor, Tensor } from './tensor.ts';

/** An op operand: a tensor, or a number taken as a rank-0 constant. */
export type TensorLike = Tensor | number;

/** Each primitive op's name mapped to the type of its attributes (null when it has none). */
export interface OpAttrs {
  add: null;
  sub: null;
  mul: null;
  div: null;
  maximum: null;
  neg: null;
  relu: null;
  abs: null;
  exp: null;
  log: null;
  pow: { exponent: number };
  matmul: { transposeA: boolean; transposeB: boolean };
  sum: { axes: number[]; keepdims: boolean };
  reshape: { shape: number[] };
  permute: { perm: number[] };
  expand: { shape: number[] };
}
/** The name of a primitive op. */
export type OpName = keyof OpAttrs;

// --- constant masks used by gradient rules (not differentiated) -------------------------------------------

function unaryMask(op: UnaryOp, x: Tensor): Tensor {
  const out = allocate(x.size);
  getBackend().unary(op, x.data, out);
  return new Tensor(out, x.shape);
}

function binaryMask(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const shape = broadcastShapes(a.shape, b.shape)!;
  const out = allocate(sizeOf(shape));
  getBackend().binary(op, a.data, broadcastStrides(a.shape, shape), b.data, broadcastStrides(b.shape, shape), out, shape);
  return new Tensor(out, shape);
}

// --- families of definitions ----------------------------------------------------------------------------------

function elementwise(op: BinaryOp, vjp: OpDef<null>['vjp']): OpDef<null> {
  return {
    shape: ([a, b]) => broadcastShapes(a, b) ?? 'shapes do not broadcast',
    forward(k, [a, b], s) {
      const out = allocate(sizeOf(s));
      k.binary(op, a.data, broadcastStrides(a.shape, s), b.data, broadcastStrides(b.shape, s), out, s);
      return out;
    },
    vjp,
  };
}

function unary<A>(op: UnaryOp, param: (attrs: A) => number, vjp: OpDef<A>['vjp']): OpDef<A> {
  return {
    shape: ([x]) => x,
    forward(k, [x], _s, attrs) {
      const out = allocate(x.size);
      k.unary(op, x.data, out, param(attrs));
      return out;
    },
    vjp,
  };
}

const noParam = (): number => 0;

/** Shape of x after summing `axes` away but keeping them as size 1. */
function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

const OPS: { [K in OpName]: OpDef<OpAttrs[K]> } = {
  add: elementwise('add', (g) => [() => g, () => g]),
  sub: elementwise('sub', (g) => [() => g, () => neg(g)]),
  mul: elementwise('mul', (g, [a, b]) => [() => mul(g, b), () => mul(g, a)]),
  // d(a/b)/db = -a/b^2 = -out/b
  div: elementwise('div', (g, [a, b], out) => [() => div(g, b), () => neg(div(mul(g, out), b))]),
  maximum: elementwise('maximum', (g, [a, b]) => [() => mul(g, binaryMask('maxMask', a, b)), () => mul(g, binaryMask('maxMask', b, a))]),

  neg: unary('neg', noParam, (g) => [() => neg(g)]),
  // PyTorch's conventions at the kinks: relu'(0) = 0 and abs'(0) = sign(0) = 0.
  relu: unary('relu', noParam, (g, [x]) => [() => mul(g, unaryMask('step', x))]),
  abs: unary('abs', noParam, (g, [x]) => [() => mul(g, unaryMask('sign', x))]),
  exp: unary('exp', noParam, (g, _x, out) => [() => mul(g, out)]),
  log: unary('log', noParam, (g, [x]) => [() => div(g, x)]),
  pow: unary(
    'pow',
    (a) => a.exponent,
    (g, [x], _out, { exponent: p }) => [() => (p === 0 ? mul(g, 0) : mul(g, mul(pow(x, p - 1), p)))],
  ),

  matmul: {
    shape([a, b], { transposeA, transposeB }) {
      if (a.length < 2 || b.length < 2) return 'both operands need at least 2 dimensions (reshape a vector to [1, n] or [n, 1])';
      const [m, ka] = transposeA ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
      const [kb, n] = transposeB ? [b[b.length - 1], b[b.length - 2]] : [b[b.length - 2], b[b.length - 1]];
      if (ka !== kb) return `inner dimensions differ (${ka} vs ${kb}${transposeA || transposeB ? `, transposeA=${transposeA}, transposeB=${transposeB}` : ''})`;
      const batch = broadcastShapes(a.slice(0, -2), b.slice(0, -2));
      if (batch === null) return 'batch dimensions do not broadcast';
      return [...batch, m, n];
    },
    forward(k, [a, b], s, { transposeA, transposeB }) {
      const batchShape = s.slice(0, -2);
      const batch = sizeOf(batchShape);
      const [m, n] = [s[s.length - 2], s[s.length - 1]];
      const kk = transposeA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
      // Offsets of each batch's matrices; a broadcast batch axis has stride 0.
      const aStrides = broadcastStrides(a.shape.slice(0, -2), batchShape);
      const bStrides = broadcastStrides(b.shape.slice(0, -2), batchShape);
      const aOffsets = new Int32Array(batch);
      const bOffsets = new Int32Array(batch);
      const batchIndexStrides = stridesOf(batchShape);
      for (let q = 0; q < batch; q++) {
        let rest = q;
        let ao = 0;
        let bo = 0;
        for (let d = 0; d < batchShape.length; d++) {
          const i = Math.floor(rest / batchIndexStrides[d]);
          rest -= i * batchIndexStrides[d];
          ao += i * aStrides[d];
          bo += i * bStrides[d];
        }
        aOffsets[q] = ao * m * kk;
        bOffsets[q] = bo * kk * n;
      }
      const out = allocate(sizeOf(s));
      k.matmul(a.data, b.data, out, { batch, m, k: kk, n, transA: transposeA, transB: transposeB, aOffsets, bOffsets });
      return out;
    },
    // For C = op(A) op(B), each gradient is again one matmul with flags (as in tfjs), never a materialised transpose.
    vjp(g, [a, b], _out, { transposeA: tA, transposeB: tB }) {
      const mm = (x: Tensor, y: Tensor, transposeA: boolean, transposeB: boolean) => (): Tensor => matmul(x, y, { transposeA, transposeB });
      if (!tA && !tB) return [mm(g, b, false, true), mm(a, g, true, false)];
      if (!tA && tB) return [mm(g, b, false, false), mm(g, a, true, false)];
      if (tA && !tB) return [mm(b, g, false, true), mm(a, g, false, false)];
      return [mm(b, g, true, true), mm(g, a, true, true)];
    },
  },

  sum: {
    shape: (([x], { axes, keepdims }) => (keepdims ? keptShape(x, axes) : x.filter((_, i) => !axes.includes(i)))),
    forward(k, [x], s, { axes }) {
      const outStrides = stridesOf(keptShape(x.shape, axes)).map((st, i) => (axes.includes(i) ? 0 : st));
      const out = allocate(sizeOf(s));
      k.sum(x.data, x.shape, out, outStrides);
      return out;
    },
    vjp: (g, [x], _out, { axes, keepdims }) => [() => expand(keepdims ? g : reshape(g, keptShape(x.shape, axes)), x.shape)],
  },

  reshape: {
    shape: ([x], { shape }) => (sizeOf(x) === sizeOf(shape) ? shape : `cannot reshape ${sizeOf(x)} elements into ${fmt(shape)}`),
    forward: (_k, [x]) => x.data, // a view: same storage
    vjp: (g, [x]) => [() => reshape(g, x.shape)],
  },

  permute: {
    shape: ([x], { perm }) => (isPermutation(perm, x.length) ? perm.map((p) => x[p]) : `[${perm.join(', ')}] is not a permutation of ${x.length} axes`),
    forward(k, [x], s, { perm }) {
      const xs = stridesOf(x.shape);
      const out = allocate(x.size);
      k.copyStrided(x.data, perm.map((p) => xs[p]), out, s);
      return out;
    },
    vjp(g, _x, _out, { perm }) {
      const inverse = new Array<number>(perm.length);
      perm.forEach((p, i) => (inverse[p] = i));
      return [() => permute(g, inverse)];
    },
  },

  expand: {
    shape([x], { shape }) {
      const joint = broadcastShapes(x, shape);
      return joint !== null && joint.length === shape.length && joint.every((d, i) => d === shape[i]) ? shape : `cannot broadcast to ${fmt(shape)}`;
    },
    forward(k, [x], s) {
      const out = allocate(sizeOf(s));
      k.copyStrided(x.data, broadcastStrides(x.shape, s), out, s);
      return out;
    },
    vjp: (g) => [() => g], // the engine sums the broadcast axes back
  },
};

// --- public functions -------------------------------------------------------------------------------------------

const t = asTensor;

/** a + b with NumPy broadcasting. @example add(x, 1) */
export const add = (a: TensorLike, b: TensorLike): Tensor => apply('add', OPS.add, [t(a), t(b)], null);
/** a - b with broadcasting. */
export const sub = (a: TensorLike, b: TensorLike): Tensor => apply('sub', OPS.sub, [t(a), t(b)], null);
/** a * b elementwise with broadcasting. */
export const mul = (a: TensorLike, b: TensorLike): Tensor => apply('mul', OPS.mul, [t(a), t(b)], null);
/** a / b elementwise with broadcasting. */
export const div = (a: TensorLike, b: TensorLike): Tensor => apply('div', OPS.div, [t(a), t(b)], null);
/** Elementwise maximum with broadcasting; at ties the gradient is split evenly (as in PyTorch). */
export const maximum = (a: TensorLike, b: TensorLike): Tensor => apply('maximum', OPS.maximum, [t(a), t(b)], null);
/** -x elementwise. */
export const neg = (x: TensorLike): Tensor => apply('neg', OPS.neg, [t(x)], null);
/** max(x, 0) elementwise; its gradient at 0 is 0. */
export const relu = (x: TensorLike): Tensor => apply('relu', OPS.relu, [t(x)], null);
/** |x| elementwise; its gradient at 0 is 0. */
export const abs = (x: TensorLike): Tensor => apply('abs', OPS.abs, [t(x)], null);
/** e ** x elementwise. */
export const exp = (x: TensorLike): Tensor => apply('exp', OPS.exp, [t(x)], null);
/** Natural logarithm elementwise. */
export const log = (x: TensorLike): Tensor => apply('log', OPS.log, [t(x)], null);
/** x ** exponent for a constant exponent. @example pow(x, 3) */
export const pow = (x: TensorLike, exponent: number): Tensor => apply('pow', OPS.pow, [t(x)], { exponent });
/** x * x. */
export const square = (x: TensorLike): Tensor => pow(x, 2);

/**
 * Matrix product over the last two axes, broadcasting the leading (batch) axes. The flags transpose an
 * operand's last two axes without copying it.
 * @example matmul(x, w)  // [I, B, n] x [I, n, m] -> [I, B, m]
 */
export function matmul(a: Tensor, b: Tensor, { transposeA = false, transposeB = false } = {}): Tensor {
  return apply('matmul', OPS.matmul, [a, b], { transposeA, transposeB });
}

function axesOf(x: Tensor, axes: number | readonly number[] | undefined, op: string): number[] {
  if (axes === undefined) return x.shape.map((_, i) => i);
  return normAxes(typeof axes === 'number' ? [axes] : axes, x.rank, op).sort((p, q) => p - q);
}

/** Sum over `axes` (all by default; negative axes count from the end). @example sum(x, [1, 2]) */
export function sum(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  return apply('sum', OPS.sum, [x], { axes: axesOf(x, axes, 'sum'), keepdims });
}

/** Mean over `axes` (all by default). */
export function mean(x: Tensor, axes?: number | readonly number[], keepdims = false): Tensor {
  const ax = axesOf(x, axes, 'mean');
  const count = ax.reduce((c, a) => c * x.shape[a], 1);
  return mul(sum(x, ax, keepdims), 1 / count);
}

/** Same values, new shape; one dimension may be -1 (inferred). Shares storage. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const known = shape.filter((d) => d !== -1);
  if (shape.length - known.length > 1) throw new RangeError(`reshape: at most one -1 allowed in ${fmt(shape)}`);
  const inferred = shape.map((d) => (d === -1 ? x.size / Math.max(1, sizeOf(known)) : d));
  if (!inferred.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`reshape: cannot reshape ${fmt(x.shape)} (${x.size} elements) into ${fmt(shape)}`);
  }
  return apply('reshape', OPS.reshape, [x], { shape: inferred });
}

/** Reorder axes: output axis i is input axis perm[i]. @example permute(x, [2, 0, 1]) */
export function permute(x: Tensor, perm: readonly number[]): Tensor {
  return apply('permute', OPS.permute, [x], { perm: normAxes(perm, x.rank, 'permute') });
}

/** Swap two axes (the last two by default). */
export function transpose(x: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const [a] = normAxes([dim0], x.rank, 'transpose');
  const [b] = normAxes([dim1], x.rank, 'transpose');
  const perm = x.shape.map((_, i) => (i === a ? b : i === b ? a : i));
  return permute(x, perm);
}

/** Broadcast to a larger shape (NumPy's broadcast_to). */
export function expand(x: Tensor, shape: readonly number[]): Tensor {
  return apply('expand', OPS.expand, [x], { shape: [...shape] });
}

/**
 * A user-defined primitive with its own forward and VJP, run by the same engine (shape errors, unbroadcast,
 * numerics check, gradcheck). Useful for fused kernels.
 */
export function customOp(name: string, def: OpDef<null>): (...inputs: Tensor[]) => Tensor {
  return (...inputs) => apply(name, def, inputs, null);
}

installEngineOps({ sum: (x, axes) => sum(x, axes), reshape, add });
