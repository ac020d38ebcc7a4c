/**
 * Fused primitives for the toy models' hot path, registered with the autograd engine through customOp: each
 * replaces a chain of elementwise ops (and their backward passes) over the [instances, batch, features] batch
 * with one pass forward and one backward. They compute the same functions as the unfused compositions
 * (ToyModel with fused: false), which the tests check values and gradients against.
 */
import { allocate } from '../autograd/arena.ts';
import { customOp } from '../autograd/ops.ts';
import { Tensor } from '../autograd/tensor.ts';
import { fmt } from '../kernels/shape.ts';

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
        const v = p[o] + bias[f];
        out[o] = v > 0 ? v : 0;
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
          const v = od[o] > 0 ? gd[o] : 0;
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
