/**
 * Fused primitives for the toy models' hot path, registered with the autograd engine through customOp: each
 * replaces a chain of elementwise ops (and their backward passes) over the [instances, batch, features] batch
 * with one pass forward and one backward. They compute the same functions as the unfused compositions
 * (ToyModel with fused: false), which the tests check values and gradients against.
 */
import { allocate } from '../autograd/arena.ts';
import { backward, enableGrad, isGradEnabled } from '../autograd/engine.ts';
import { customOp, matmul } from '../autograd/ops.ts';
import { Tensor } from '../autograd/tensor.ts';
import { getBackend } from '../kernels/registry.ts';
import { fmt } from '../kernels/shape.ts';
import { batchedSpec, hasDevice, type DeviceArray, type DeviceKernels, type Kernels, type OutputLossArgs } from '../kernels/types.ts';

/**
 * relu(pre + b[:, None, :]) for pre [I, B, n] and b [I, n]. Gradients: d pre = g * (out > 0) and
 * d b = sum over the batch axis of the same.
 */
export const biasRelu = customOp('biasRelu', {
  shape: ([pre, b]) =>
    pre.length === 3 && b.length === 2 && b[0] === pre[0] && b[1] === pre[2] ? pre : 'expected pre [I, B, n] and bias [I, n]',
  forward(_k, [pre, b]) {
    const [I, B, n] = pre.shape;
    const out = allocate(pre.size);
    const p = pre.data;
    const bias = b.data;
    // One flat loop per instance with a wrapping feature counter: with n = 2 a nested feature loop is mostly
    // loop overhead.
    for (let i = 0; i < I; i++) {
      const end = (i + 1) * B * n;
      for (let o = i * B * n, f = i * n, f0 = i * n, f1 = (i + 1) * n; o < end; o++) {
        const v = Math.fround(p[o] + bias[f]);
        out[o] = v === -Infinity ? 0 : (v + Math.abs(v)) * 0.5; // relu without a sign branch (random signs mispredict)
        if (++f === f1) f = f0;
      }
    }
    return out;
  },
  vjp(g, [pre], out) {
    const [I, B, n] = pre.shape;
    // One pass serves both gradients; each thunk takes its half.
    let dPre: Float32Array | null = null;
    let dB: Float32Array | null = null;
    const both = (): void => {
      if (dPre) return;
      dPre = allocate(pre.size);
      dB = allocate(I * n);
      const gd = g.data;
      const od = out.data;
      // dB sums over the batch in float64, then rounds once.
      const acc = new Float64Array(n);
      for (let i = 0; i < I; i++) {
        acc.fill(0);
        const end = (i + 1) * B * n;
        for (let o = i * B * n, f = 0; o < end; o++) {
          const m = +(od[o] > 0);
          const v = gd[o] * m + (m - 1) * -0; // g or +0, branch-free
          dPre[o] = v;
          acc[f] += v;
          if (++f === n) f = 0;
        }
        for (let f = 0; f < n; f++) dB[i * n + f] = acc[f];
      }
    };
    return [
      () => (both(), new Tensor(dPre!, pre.shape)),
      () => (both(), new Tensor(dB!, [I, n])),
    ];
  },
});

/**
 * Per-instance importance-weighted squared error: loss[i] = mean over batch and features of
 * importance[i, f] * (target - pred)^2, for pred and target [I, B, n] and importance [n] or [I, n].
 * Gradient for pred: g[i] * 2 importance (pred - target) / (B n); for target, its negative.
 */
export const importanceMse = customOp('importanceMse', {
  shape([pred, target, imp]) {
    if (pred.length !== 3 || target.length !== 3 || pred.some((d, i) => d !== target[i])) return 'expected pred and target of one shape [I, B, n]';
    const ok = (imp.length === 1 && imp[0] === pred[2]) || (imp.length === 2 && imp[0] === pred[0] && imp[1] === pred[2]);
    return ok ? [pred[0]] : `importance must be [n] or [I, n] for pred ${fmt(pred)}`;
  },
  forward(_k, [pred, target, imp]) {
    const [I, B, n] = pred.shape;
    const perInstance = imp.rank === 2;
    const out = allocate(I);
    const t = target.data;
    const p = pred.data;
    for (let i = 0; i < I; i++) {
      const w = imp.data.subarray(perInstance ? i * n : 0, perInstance ? (i + 1) * n : n);
      let acc = 0; // float64 accumulation over the batch, as the reference sum kernel does
      const end = (i + 1) * B * n;
      for (let o = i * B * n, f = 0; o < end; o++) {
        const e = t[o] - p[o];
        acc += w[f] * e * e;
        if (++f === n) f = 0;
      }
      out[i] = acc / (B * n);
    }
    return out;
  },
  vjp(g, [pred, target, imp]) {
    const [I, B, n] = pred.shape;
    const perInstance = imp.rank === 2;
    const dPred = (sign: number) => (): Tensor => {
      const d = allocate(pred.size);
      const p = pred.data;
      const t = target.data;
      for (let i = 0; i < I; i++) {
        const scale = (sign * 2 * g.data[i]) / (B * n);
        const w = imp.data.subarray(perInstance ? i * n : 0, perInstance ? (i + 1) * n : n);
        const end = (i + 1) * B * n;
        for (let o = i * B * n, f = 0; o < end; o++) {
          d[o] = scale * w[f] * (p[o] - t[o]);
          if (++f === n) f = 0;
        }
      }
      return new Tensor(d, pred.shape);
    };
    return [
      dPred(1),
      dPred(-1),
      () => {
        throw new Error('importanceMse: importance is a constant (no gradient)');
      },
    ];
  },
});

/**
 * The output layer and the loss in one primitive: loss[i] = mean over batch and features of
 * imp[f] * (target - relu(pre + b))^2 for pre and target [I, B, n], b [I, n], imp [n] or [I, n], the same function
 * and the same bits as importanceMse(biasRelu(pre, b), target, imp). Gradients: d pre = g[i] relu'(pre + b)
 * 2 imp (out - target) / (B n), d b = its sum over the batch, d target = -g[i] 2 imp (out - target) / (B n).
 *
 * The composition makes four passes over the [I, B, n] arrays per step (bias+ReLU, loss, their two backward
 * passes); this makes one: when a backward can follow, the forward pass also writes d pre and d b for g = 1 (what
 * training's summed loss gives), and the backward hands them over, or recomputes for any other g. The arithmetic
 * is the composition's, operation for operation, so the bits are the same (tested).
 */
interface OutputLossSaved {
  dPre: Float32Array;
  dB: Float32Array;
}
const outputLossSaved = new WeakMap<Float32Array, OutputLossSaved>();

export const reluOutputLoss = customOp('reluOutputLoss', {
  shape([pre, b, target, imp]) {
    if (pre.length !== 3 || target.length !== 3 || pre.some((d, i) => d !== target[i])) return 'expected pre and target of one shape [I, B, n]';
    if (b.length !== 2 || b[0] !== pre[0] || b[1] !== pre[2]) return `bias must be [I, n] for pre ${fmt(pre)}`;
    const ok = (imp.length === 1 && imp[0] === pre[2]) || (imp.length === 2 && imp[0] === pre[0] && imp[1] === pre[2]);
    return ok ? [pre[0]] : `importance must be [n] or [I, n] for pre ${fmt(pre)}`;
  },
  forward(k, [pre, b, target, imp]) {
    const [I, B, n] = pre.shape;
    const out = allocate(I);
    // Keep the g = 1 gradients only when a backward can come.
    const keep = isGradEnabled() && (pre.requiresGrad || b.requiresGrad);
    const dPre = keep ? allocate(pre.size) : null;
    const dB = keep ? allocate(I * n) : null;
    const args = { pre: pre.data, bias: b.data, target: target.data, imp: imp.data, impPerInstance: imp.rank === 2, I, B, n, out, dPre, dB };
    outputLoss(k, args);
    if (dPre) outputLossSaved.set(out, { dPre, dB: dB! });
    return out;
  },
  vjp(g, [pre, b, target, imp], out) {
    const [I, B, n] = pre.shape;
    const saved = outputLossSaved.get(out.data);
    outputLossSaved.delete(out.data);
    const unit = saved !== undefined && g.data.every((v) => v === 1);
    // For any other g: the composition's backward passes, recomputed here.
    let general: { dPre: Float32Array; dB: Float32Array; dTarget: Float32Array } | null = null;
    const recompute = () => {
      if (general) return general;
      const dPre = allocate(pre.size);
      const dB = allocate(I * n);
      const dTarget = allocate(pre.size);
      const perInstance = imp.rank === 2;
      const acc = new Float64Array(n);
      for (let i = 0; i < I; i++) {
        const scale = (2 * g.data[i]) / (B * n);
        const w = imp.data.subarray(perInstance ? i * n : 0, perInstance ? (i + 1) * n : n);
        acc.fill(0);
        const end = (i + 1) * B * n;
        for (let o = i * B * n, f = 0; o < end; o++) {
          const v = Math.fround(pre.data[o] + b.data[i * n + f]);
          const y = v > 0 ? v : 0;
          const d = Math.fround(scale * w[f] * (y - target.data[o]));
          dTarget[o] = Math.fround(-scale * w[f] * (y - target.data[o]));
          dPre[o] = v > 0 ? d : 0;
          acc[f] += dPre[o];
          if (++f === n) f = 0;
        }
        for (let f = 0; f < n; f++) dB[i * n + f] = acc[f];
      }
      return (general = { dPre, dB, dTarget });
    };
    return [
      () => new Tensor(unit ? saved!.dPre : recompute().dPre, pre.shape),
      () => new Tensor(unit ? saved!.dB : recompute().dB, b.shape),
      () => new Tensor(recompute().dTarget, target.shape),
      () => {
        throw new Error('reluOutputLoss: importance is a constant (no gradient)');
      },
    ];
  },
});

/**
 * reluOutputLoss's forward: out[i] the loss, and with dPre and dB their values for g = 1; on the backend's own
 * kernel when it has one for these arrays (the wasm backend's SIMD kernel, the same bits), else the loop below.
 */
function outputLoss(k: Kernels, args: Omit<OutputLossArgs, 'dPre' | 'dB'> & { dPre: Float32Array | null; dB: Float32Array | null }): void {
  const { dPre, dB } = args;
  if (dPre && dB && k.reluOutputLoss?.({ ...args, dPre, dB })) return;
  const { pre, bias, target, imp, impPerInstance, I, B, n, out } = args;
  const scale = 2 / (B * n); // importanceMse's (1 * 2 * g) / (B n) at g = 1
  const acc = new Float64Array(n);
  const wf = new Float64Array(n); // imp[f]
  const sw = new Float64Array(n); // scale * imp[f], as the expression below groups it
  const bf = new Float64Array(n); // b[i, f]
  for (let i = 0; i < I; i++) {
    const w0 = impPerInstance ? i * n : 0;
    for (let f = 0; f < n; f++) {
      wf[f] = imp[w0 + f];
      sw[f] = scale * wf[f];
      bf[f] = bias[i * n + f];
    }
    let loss = 0;
    acc.fill(0);
    // No branch on the sign: the sign of pre + b is random, and mispredicted branches tripled the pass's time.
    // For a float32 v, (v + |v|) / 2 is exactly relu(v) (+0 for v <= 0; -Inf, from an overflowed sum, is tested
    // apart: a branch never taken costs nothing), and d * m + (m - 1) * -0 is d (its sign kept, -0 included) for
    // m = 1 and +0 for m = 0, as the ternary gave for every finite d (an infinite masked d, only after a
    // divergence the loss check reports, becomes NaN where the ternary gave 0). Row by row, so that the
    // per-feature constants are indexed by f alone.
    for (let row = i * B * n, rowEnd = (i + 1) * B * n; row < rowEnd; row += n) {
      for (let f = 0; f < n; f++) {
        const o = row + f;
        const v = Math.fround(pre[o] + bf[f]); // biasRelu stores its output as float32
        const y = v === -Infinity ? 0 : (v + Math.abs(v)) * 0.5; // -Inf (an overflowed sum) would give NaN; never taken otherwise
        const e = target[o] - y;
        loss += wf[f] * e * e;
        if (dPre) {
          const m = +(v > 0);
          const d = Math.fround(sw[f] * (y - target[o])) * m + (m - 1) * -0; // + -0 keeps d's sign, + +0 makes +0
          dPre[o] = d;
          acc[f] += d;
        }
      }
    }
    out[i] = loss / (B * n);
    if (dB) for (let f = 0; f < n; f++) dB[i * n + f] = acc[f];
  }
}

/**
 * The gradient of the tied models' W from the output's gradient g [I, B, n] and the hidden activations h = x W
 * [I, B, m], with the products (and flags) that the composition matmul(matmul(x, W), W^T)'s backward runs, so with
 * its bits: dW = x^T (g W) + g^T h, the second term computed into `second` and added as the engine sums the two.
 * gh [I, B, m] and second [I, n, m] are scratch.
 */
function tiedWeightGradient(k: Kernels, x: Float32Array, W: Float32Array, g: Float32Array, h: Float32Array, I: number, B: number, n: number, m: number, dW: Float32Array, gh: Float32Array, second: Float32Array): void {
  const dWSpec = batchedSpec(I, n, B, m, true, false);
  k.matmul(g, W, gh, batchedSpec(I, B, n, m, false, false));
  k.matmul(x, gh, dW, dWSpec);
  k.matmul(g, h, second, dWSpec);
  for (let j = 0; j < dW.length; j++) dW[j] += second[j];
}

/** The shapes of the tied models' loss ops (tiedReluLoss, tiedOutputLoss): [I], or what is wrong. */
function tiedShapes(x: readonly number[], W: readonly number[], b: readonly number[], imp: readonly number[]): number[] | string {
  if (x.length !== 3 || W.length !== 3 || b.length !== 2) return 'expected x [I, B, n], W [I, n, m], b [I, n]';
  const [I, , n] = x;
  if (W[0] !== I || W[1] !== n || b[0] !== I || b[1] !== n) return `W must be [${I}, ${n}, m] and b [${I}, ${n}] for x ${fmt(x)}`;
  const ok = (imp.length === 1 && imp[0] === n) || (imp.length === 2 && imp[0] === I && imp[1] === n);
  return ok ? [I] : `importance must be [n] or [I, n] for x ${fmt(x)}`;
}

/**
 * The tied ReLU-output model's loss, reluOutputLoss((x W) W^T, b, x, imp) for x [I, B, n], W [I, n, m], b [I, n],
 * computed instance by instance: the same products (with the same flags) and the same output loss as the
 * composition, so the same bits (tested), but each instance's [B, n] arrays are made, used and dropped while they
 * are in cache, where the composition streams every op over all instances' arrays (20 x 400->30: 32 MB each).
 * When a backward can follow, the forward pass also runs the backward for g = 1 (what training's summed loss
 * gives) and keeps dW and db; for any other g the backward differentiates the composition itself.
 */
export const tiedOutputLoss = customOp('tiedOutputLoss', {
  shape: ([x, W, b, imp]) => tiedShapes(x, W, b, imp),
  forward(k, [x, W, b, imp]) {
    const [I, B, n] = x.shape;
    const m = W.shape[2];
    const out = allocate(I);
    const keep = isGradEnabled() && (W.requiresGrad || b.requiresGrad);
    // One instance's arrays, reused by every instance; the weight gradient's only when a backward can follow.
    const [h, pre, dPre] = [allocate(B * m), allocate(B * n), allocate(B * n)];
    const grads = keep ? { dh: allocate(B * m), second: allocate(n * m), dW: allocate(W.size) } : null;
    const db = allocate(b.size);
    const perInstance = imp.rank === 2;
    const product = (rows: number, inner: number, cols: number, transA: boolean, transB: boolean) => batchedSpec(1, rows, inner, cols, transA, transB);
    for (let i = 0; i < I; i++) {
      const xi = x.data.subarray(i * B * n, (i + 1) * B * n);
      const Wi = W.data.subarray(i * n * m, (i + 1) * n * m);
      k.matmul(xi, Wi, h, product(B, n, m, false, false));
      k.matmul(h, Wi, pre, product(B, m, n, false, true));
      const dbi = db.subarray(i * n, (i + 1) * n);
      const bias = b.data.subarray(i * n, (i + 1) * n);
      const impi = perInstance ? imp.data.subarray(i * n, (i + 1) * n) : imp.data;
      outputLoss(k, { pre, bias, target: xi, imp: impi, impPerInstance: perInstance, I: 1, B, n, out: out.subarray(i, i + 1), dPre, dB: dbi });
      if (grads) tiedWeightGradient(k, xi, Wi, dPre, h, 1, B, n, m, grads.dW.subarray(i * n * m, (i + 1) * n * m), grads.dh, grads.second);
    }
    if (grads) tiedOutputSaved.set(out, { dW: grads.dW, db });
    return out;
  },
  vjp(g, [x, W, b, imp], out) {
    const saved = tiedOutputSaved.get(out.data);
    tiedOutputSaved.delete(out.data);
    let grads: { dW: Float32Array; db: Float32Array } | null = saved !== undefined && g.data.every((v) => v === 1) ? saved : null;
    const general = () => {
      if (grads) return grads;
      const [Wc, bc] = [new Tensor(W.data, W.shape, true), new Tensor(b.data, b.shape, true)];
      enableGrad(() => backward(reluOutputLoss(matmul(matmul(x, Wc), Wc, { transposeB: true }), bc, x, imp), g));
      return (grads = { dW: Wc.grad!.data, db: bc.grad!.data });
    };
    return [
      () => {
        throw new Error('tiedOutputLoss: x is data (no gradient)');
      },
      () => new Tensor(general().dW, W.shape),
      () => new Tensor(general().db, b.shape),
      () => {
        throw new Error('tiedOutputLoss: importance is a constant (no gradient)');
      },
    ];
  },
});
/** tiedOutputLoss's g = 1 gradients from forward to backward, keyed by the forward's output. */
const tiedOutputSaved = new WeakMap<Float32Array, { dW: Float32Array; db: Float32Array }>();

/** Models with at most this many weights per instance (n * m) train through tiedReluLoss. */
export const SMALL_MODEL_WEIGHTS = 64;

/** Whether a model trains through tiedReluLoss (when fused): the ReLU-output models of at most SMALL_MODEL_WEIGHTS weights. */
export const isSmallTiedModel = ({ kind, features, hidden }: { kind: string; features: number; hidden: number }): boolean =>
  kind === 'relu-output' && features * hidden <= SMALL_MODEL_WEIGHTS;

/**
 * The whole tied ReLU-output model and its loss, one sample at a time, for small models (n * m up to
 * SMALL_MODEL_WEIGHTS: the 2->1 and 3->2 phase sweeps, the 5->2 intro). loss[i] is
 *   mean over batch and features of imp[f] * (x - relu(W^T W x + b))^2,
 * for x [I, B, n], W [I, n, m], b [I, n], imp [n] or [I, n]; gradients
 *   d pre = relu'(pre) * 2 imp (out - x) / (B n),  db = sum d pre,  dW[f, j] = sum d pre_f h_j + x_f (W^T d pre)_j.
 * The composed model makes about a dozen passes over [I, B, n] arrays per step, each a loop of a few flops per
 * element, and with n = 2 the loop overhead is most of the time. Here the loops are generated per (n, m) with
 * every weight, activation and gradient in a local variable (see smallModelKernels): 3-4x fewer nanoseconds per
 * sample. Sums run in float64 and round once.
 */
export const tiedReluLoss = customOp('tiedReluLoss', {
  shape: ([x, W, b, imp]) => tiedShapes(x, W, b, imp),
  forward(k, [x, W, b, imp]) {
    const [I, B, n] = x.shape;
    const out = allocate(I);
    const impStride = imp.rank === 2 ? n : 0;
    // The backend's own version of the loops (the wasm backend's SIMD kernels), when it has one for these arrays.
    if (!k.tiedReluLoss?.({ x: x.data, W: W.data, b: b.data, imp: imp.data, impStride, I, B, n, m: W.shape[2], out })) {
      smallModelKernels(n, W.shape[2]).forward(x.data, W.data, b.data, imp.data, impStride, I, B, out);
    }
    return out;
  },
  vjp(g, [x, W, b, imp]) {
    const [I, B, n] = x.shape;
    let dW: Float32Array | null = null;
    let db: Float32Array | null = null;
    const both = (): void => {
      if (dW) return;
      dW = allocate(W.size);
      db = allocate(b.size);
      const impStride = imp.rank === 2 ? n : 0;
      if (!getBackend().tiedReluLoss?.({ x: x.data, W: W.data, b: b.data, imp: imp.data, impStride, I, B, n, m: W.shape[2], g: g.data, dW, db })) {
        smallModelKernels(n, W.shape[2]).backward(x.data, W.data, b.data, imp.data, impStride, g.data, I, B, dW, db);
      }
    };
    return [
      () => {
        throw new Error('tiedReluLoss: x is data (no gradient)');
      },
      () => (both(), new Tensor(dW!, W.shape)),
      () => (both(), new Tensor(db!, b.shape)),
      () => {
        throw new Error('tiedReluLoss: importance is a constant (no gradient)');
      },
    ];
  },
});

interface Saved {
  /** The backend that made them: a backward on another one recomputes on the host instead. */
  k: DeviceKernels;
  x: DeviceArray;
  W: DeviceArray;
  h: DeviceArray;
}
/**
 * tiedProduct's device arrays from forward to backward, keyed by the forward's output. Backward takes (and frees)
 * them; a forward whose backward never ran leaves them until the next tiedProduct forward on the same output
 * (step arena arrays are reused) or until the output is collected.
 */
const onDevice = new WeakMap<Float32Array, Saved>();
function dropSaved(out: Float32Array): void {
  const stale = onDevice.get(out);
  if (!stale) return;
  onDevice.delete(out);
  release(stale.x, stale.W, stale.h);
}
function release(...arrays: DeviceArray[]): void {
  for (const d of arrays) if (!(d instanceof Float32Array)) d.delete();
}
function readAndFree(k: DeviceKernels, d: DeviceArray): Float32Array {
  const host = k.readBack(d);
  release(d);
  return host;
}

/**
 * pre = (x W) W^T for x [I, B, n] and W [I, n, m]: the tied models' two products, with the hidden activations
 * h = x W kept on the device between forward and backward on a backend that has memory of its own (the gpu.js
 * ones). Gradient for W: x^T (g W) + g^T h. The products are the ones the composition
 * matmul(matmul(x, W), W, {transposeB: true}) and its backward run, with the same flags, so the results are
 * the same bits; what changes is the traffic. Per step the composition uploads ten operands and reads five
 * products back; this uploads x, W and g once each and reads back pre and the two dW terms.
 * On a backend without device memory it runs the same products on the host.
 */
export const tiedProduct = customOp('tiedProduct', {
  shape: ([x, W]) =>
    x.length === 3 && W.length === 3 && W[0] === x[0] && W[1] === x[2] ? x : 'expected x [I, B, n] and W [I, n, m]',
  forward(k, [x, W]) {
    const [I, B, n] = x.shape;
    const m = W.shape[2];
    const out = allocate(x.size);
    dropSaved(out); // whatever an earlier forward left on this (reused) output and no backward took
    if (!hasDevice(k)) {
      const h = allocate(I * B * m);
      k.matmul(x.data, W.data, h, batchedSpec(I, B, n, m, false, false));
      k.matmul(h, W.data, out, batchedSpec(I, B, m, n, false, true));
      return out;
    }
    const held: DeviceArray[] = [];
    const keep = <T extends DeviceArray>(d: T): T => (held.push(d), d);
    // Only a backward needs h: keep it when one can run (grad on and W wants a gradient), else free everything.
    let saved = false;
    try {
      const xd = keep(k.toDevice(x.data));
      const Wd = keep(k.toDevice(W.data));
      const h = keep(k.matmulOnDevice(xd, Wd, batchedSpec(I, B, n, m, false, false), x.size, W.size));
      out.set(readAndFree(k, k.matmulOnDevice(h, Wd, batchedSpec(I, B, m, n, false, true), I * B * m, W.size)));
      if (isGradEnabled() && W.requiresGrad) {
        onDevice.set(out, { k, x: xd, W: Wd, h });
        saved = true;
      }
    } finally {
      if (!saved) release(...held);
    }
    return out;
  },
  vjp(g, [x, W], out) {
    const [I, B, n] = x.shape;
    const m = W.shape[2];
    return [
      () => {
        throw new Error('tiedProduct: x is data (no gradient)');
      },
      () => {
        const k = getBackend();
        const dW = allocate(W.size);
        const dWSpec = batchedSpec(I, n, B, m, true, false);
        const saved = onDevice.get(out.data);
        onDevice.delete(out.data);
        if (!saved || saved.k !== k || !hasDevice(k)) {
          // The host path (no device, or the backend changed since forward): h again, then the composition's
          // three backward products.
          if (saved) release(saved.x, saved.W, saved.h);
          const h = allocate(I * B * m);
          k.matmul(x.data, W.data, h, batchedSpec(I, B, n, m, false, false));
          tiedWeightGradient(k, x.data, W.data, g.data, h, I, B, n, m, dW, allocate(I * B * m), allocate(W.size));
          return new Tensor(dW, W.shape);
        }
        const held: DeviceArray[] = [saved.x, saved.W, saved.h];
        try {
          const gd = k.toDevice(g.data);
          held.push(gd);
          const gh = k.matmulOnDevice(gd, saved.W, batchedSpec(I, B, n, m, false, false), g.size, W.size);
          held.push(gh);
          dW.set(readAndFree(k, k.matmulOnDevice(saved.x, gh, dWSpec, x.size, I * B * m)));
          const second = readAndFree(k, k.matmulOnDevice(gd, saved.h, dWSpec, g.size, I * B * m));
          for (let i = 0; i < dW.length; i++) dW[i] += second[i];
        } finally {
          release(...held);
        }
        return new Tensor(dW, W.shape);
      },
    ];
  },
});

type F32 = Float32Array;
interface SmallModelKernels {
  forward(x: F32, W: F32, b: F32, imp: F32, impStride: number, I: number, B: number, out: F32): void;
  backward(x: F32, W: F32, b: F32, imp: F32, impStride: number, g: F32, I: number, B: number, dW: F32, db: F32): void;
}
const smallModels = new Map<string, SmallModelKernels>();

/**
 * tiedReluLoss's loops for one (n, m), written out as JavaScript source with one local per weight (W{f}_{j}),
 * bias, importance, input (x{f}), hidden unit (h{j}), pre-activation (p{f}) and gradient, then compiled once.
 */
function smallModelKernels(n: number, m: number): SmallModelKernels {
  const key = `${n}x${m}`;
  let k = smallModels.get(key);
  if (k) return k;
  const F = Array.from({ length: n }, (_, f) => f);
  const J = Array.from({ length: m }, (_, j) => j);
  const sumOf = (terms: string[]) => terms.join(' + ');
  const perInstance = [
    `const wo = i * ${n * m}, bo = i * ${n}, io = i * impStride;`,
    ...F.flatMap((f) => J.map((j) => `const W${f}_${j} = W[wo + ${f * m + j}];`)),
    ...F.map((f) => `const b${f} = b[bo + ${f}], w${f} = imp[io + ${f}];`),
  ];
  const perSample = [
    ...F.map((f) => `const x${f} = x[xo + ${f}];`),
    ...J.map((j) => `const h${j} = ${sumOf(F.map((f) => `x${f} * W${f}_${j}`))};`),
    ...F.map((f) => `const p${f} = b${f} + ${sumOf(J.map((j) => `W${f}_${j} * h${j}`))};`),
  ];
  const sampleLoop = (body: string[]) => [`for (let r = 0, xo = i * B * ${n}; r < B; r++, xo += ${n}) {`, ...perSample, ...body, '}'];
  const forward = [
    'for (let i = 0; i < I; i++) {',
    ...perInstance,
    'let acc = 0;',
    // Branch-free, as in reluOutputLoss: (p + |p|) / 2 is relu(p) exactly (the signs are random: mispredicted).
    ...sampleLoop([...F.map((f) => `const e${f} = x${f} - (p${f} === -Infinity ? 0 : (p${f} + Math.abs(p${f})) * 0.5);`), `acc += ${sumOf(F.map((f) => `w${f} * e${f} * e${f}`))};`]),
    `out[i] = acc / (B * ${n});`,
    '}',
  ];
  const backward = [
    'for (let i = 0; i < I; i++) {',
    ...perInstance,
    `const scale = (2 * g[i]) / (B * ${n});`,
    ...F.map((f) => `let db${f} = 0;`),
    ...F.flatMap((f) => J.map((j) => `let dW${f}_${j} = 0;`)),
    ...sampleLoop([
      // d or +0 as the ternary gave: + -0 keeps d's sign when the mask is 1, + +0 makes +0 when it is 0
      ...F.map((f) => `const m${f} = +(p${f} > 0), d${f} = scale * w${f} * (p${f} - x${f}) * m${f} + (m${f} - 1) * -0;`),
      ...F.map((f) => `db${f} += d${f};`),
      ...J.map((j) => `const dh${j} = ${sumOf(F.map((f) => `d${f} * W${f}_${j}`))};`),
      ...F.flatMap((f) => J.map((j) => `dW${f}_${j} += d${f} * h${j} + x${f} * dh${j};`)),
    ]),
    ...F.map((f) => `db[bo + ${f}] = db${f};`),
    ...F.flatMap((f) => J.map((j) => `dW[wo + ${f * m + j}] = dW${f}_${j};`)),
    '}',
  ];
  k = {
    forward: new Function('x', 'W', 'b', 'imp', 'impStride', 'I', 'B', 'out', forward.join('\n')) as SmallModelKernels['forward'],
    backward: new Function('x', 'W', 'b', 'imp', 'impStride', 'g', 'I', 'B', 'dW', 'db', backward.join('\n')) as SmallModelKernels['backward'],
  };
  smallModels.set(key, k);
  return k;
}
