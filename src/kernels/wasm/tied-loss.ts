/**
 * The small tied models' fused loss (src/toy/fused.ts's `tiedReluLoss`, whose generated loops are the
 * specification) as WebAssembly SIMD, generated per (n, m): two instances at a time, one in each float64 lane of
 * an f64x2, so that every instance's arithmetic and its sums over the batch run in the loops' order and precision
 * (float64, rounded to float32 once at the end) and the bytes are the loops' for finite inputs. Where the loops
 * keep each weight in a local, these keep each pair of weights in a v128 local.
 *
 *   forward(x, W, b, imp, impStride, I, B, out)             out[i] = mean over rows and features of imp (x - relu(W^T W x + b))^2
 *   backward(x, W, b, imp, impStride, g, I, B, dW, db)      the gradients of g[i] out[i] with respect to W and b
 *
 * Pointers are byte offsets of float32 arrays: x [I, B, n], W [I, n, m], b [I, n], imp [n] (impStride 0) or
 * [I, n] (impStride n), out and g [I], dW [I, n, m], db [I, n]. With an odd I the last instance fills both lanes.
 */
import { Code, I32, moduleBytes, op, simd, V128, type FunctionDef, type ValType } from './emit.ts';

const ALIGN = 2;

/** Locals handed out in order after the parameters. */
class Locals {
  readonly types: ValType[] = [];
  constructor(private readonly params: number) {}
  add(type: ValType): number {
    this.types.push(type);
    return this.params + this.types.length - 1;
  }
  many(type: ValType, count: number): number[] {
    return Array.from({ length: count }, () => this.add(type));
  }
}

/** [value at a0 + offset, value at a1 + offset] as float64 lanes (two float32 loads, promoted). */
function pair(c: Code, a0: number, a1: number, offset: number): Code {
  c.get(a1).get(a0).simd(simd.v128Load32Zero, ...Code.memarg(ALIGN, offset));
  return c.simd(simd.v128Load32Lane, ...Code.memarg(ALIGN, offset), 1).simd(simd.f64x2PromoteLowF32x4);
}

/** Store lane 0 of the f64x2 local `v` at a0 + offset and lane 1 at a1 + offset (when `second` is set), as float32. */
function storePair(c: Code, v: number, a0: number, a1: number, offset: number, second: number): void {
  c.get(a0).get(v).simd(simd.f64x2ExtractLane, 0).emit(op.f32DemoteF64, op.f32Store, ...Code.memarg(ALIGN, offset));
  c.get(second).emit(op.if, op.void);
  c.get(a1).get(v).simd(simd.f64x2ExtractLane, 1).emit(op.f32DemoteF64, op.f32Store, ...Code.memarg(ALIGN, offset));
  c.emit(op.end);
}

function kernel(n: number, m: number, backward: boolean): FunctionDef {
  const F = Array.from({ length: n }, (_, f) => f);
  const J = Array.from({ length: m }, (_, j) => j);
  const P = backward ? 10 : 8;
  const [x, W, b, imp, impStride] = [0, 1, 2, 3, 4];
  const [g, I, B, out, dW, db] = backward ? [5, 6, 7, -1, 8, 9] : [-1, 5, 6, 7, -1, -1];
  const L = new Locals(P);
  const [i, i1, second, x0, x1, xEnd, w0, w1, b0, b1, m0, m1] = L.many(I32, 12);
  const Wv = F.map(() => L.many(V128, m));
  const [bv, wv, xv, pv] = [L.many(V128, n), L.many(V128, n), L.many(V128, n), L.many(V128, n)];
  const hv = L.many(V128, m);
  const count = L.add(V128); // B n in both lanes
  const acc = L.add(V128);
  const scale = L.add(V128);
  const dv = L.many(V128, n);
  const dhv = L.many(V128, m);
  const dbv = L.many(V128, n);
  const dWv = F.map(() => L.many(V128, m));

  const c = new Code();
  c.get(B).i32(n).emit(op.i32Mul, op.f64ConvertI32S).simd(simd.f64x2Splat).set(count);
  c.i32(0).set(i);
  c.whileBelow(i, I, 2, () => {
    // the second lane's instance: i + 1, or i again at the end of an odd I
    c.get(i).i32(1).emit(op.i32Add).tee(i1).get(I).emit(op.i32LtS).set(second);
    c.get(i1).get(i).get(second).emit(op.select).set(i1);
    const base = (local: number, ptr: number, index: number, bytes: number | null, stride?: number) => {
      c.get(ptr).get(index);
      if (stride !== undefined) c.get(stride).emit(op.i32Mul).i32(2).emit(op.i32Shl);
      else c.i32(bytes!).emit(op.i32Mul);
      c.emit(op.i32Add).set(local);
    };
    base(w0, W, i, n * m * 4);
    base(w1, W, i1, n * m * 4);
    base(b0, b, i, n * 4);
    base(b1, b, i1, n * 4);
    base(m0, imp, i, null, impStride);
    base(m1, imp, i1, null, impStride);
    for (const f of F) {
      for (const j of J) pair(c, w0, w1, (f * m + j) * 4).set(Wv[f][j]);
      pair(c, b0, b1, f * 4).set(bv[f]);
      pair(c, m0, m1, f * 4).set(wv[f]);
    }
    if (backward) {
      // scale = (2 g[i]) / (B n)
      c.get(g).get(i).i32(2).emit(op.i32Shl, op.i32Add).set(x0);
      c.get(g).get(i1).i32(2).emit(op.i32Shl, op.i32Add).set(x1);
      c.f64(2).simd(simd.f64x2Splat);
      pair(c, x0, x1, 0).simd(simd.f64x2Mul).get(count).simd(simd.f64x2Div).set(scale);
      for (const f of F) {
        c.v128Zero().set(dbv[f]);
        for (const j of J) c.v128Zero().set(dWv[f][j]);
      }
    } else c.v128Zero().set(acc);
    // the two instances' rows of x: i * B * n floats in
    c.get(x).get(i).get(B).emit(op.i32Mul).i32(n * 4).emit(op.i32Mul, op.i32Add).set(x0);
    c.get(x0).get(B).i32(n * 4).emit(op.i32Mul, op.i32Add).set(xEnd);
    c.get(x).get(i1).get(B).emit(op.i32Mul).i32(n * 4).emit(op.i32Mul, op.i32Add).set(x1);
    c.whileBelow(x0, xEnd, 0, () => {
      for (const f of F) pair(c, x0, x1, f * 4).set(xv[f]);
      // h_j = sum_f x_f W_fj;  p_f = b_f + sum_j W_fj h_j  (left to right, as the loops)
      for (const j of J) {
        for (const f of F) {
          c.get(xv[f]).get(Wv[f][j]).simd(simd.f64x2Mul);
          if (f > 0) c.simd(simd.f64x2Add);
        }
        c.set(hv[j]);
      }
      for (const f of F) {
        c.get(bv[f]);
        for (const j of J) c.get(Wv[f][j]).get(hv[j]).simd(simd.f64x2Mul).simd(simd.f64x2Add);
        c.set(pv[f]);
      }
      if (!backward) {
        // acc += sum_f imp_f e_f e_f, e_f = x_f - relu(p_f)
        c.get(acc);
        for (const f of F) {
          c.get(xv[f]).get(pv[f]).v128Zero().simd(simd.f64x2Max).simd(simd.f64x2Sub).set(dv[f]);
          c.get(wv[f]).get(dv[f]).simd(simd.f64x2Mul).get(dv[f]).simd(simd.f64x2Mul);
          if (f > 0) c.simd(simd.f64x2Add);
        }
        c.simd(simd.f64x2Add).set(acc);
      } else {
        // d_f = scale imp_f (p_f - x_f) where p_f > 0, else +0
        for (const f of F) {
          c.get(scale).get(wv[f]).simd(simd.f64x2Mul).get(pv[f]).get(xv[f]).simd(simd.f64x2Sub).simd(simd.f64x2Mul);
          c.get(pv[f]).v128Zero().simd(simd.f64x2Gt).simd(simd.v128And).set(dv[f]);
          c.get(dbv[f]).get(dv[f]).simd(simd.f64x2Add).set(dbv[f]);
        }
        for (const j of J) {
          for (const f of F) {
            c.get(dv[f]).get(Wv[f][j]).simd(simd.f64x2Mul);
            if (f > 0) c.simd(simd.f64x2Add);
          }
          c.set(dhv[j]);
        }
        // dW_fj += d_f h_j + x_f dh_j
        for (const f of F)
          for (const j of J) {
            c.get(dWv[f][j]).get(dv[f]).get(hv[j]).simd(simd.f64x2Mul).get(xv[f]).get(dhv[j]).simd(simd.f64x2Mul).simd(simd.f64x2Add);
            c.simd(simd.f64x2Add).set(dWv[f][j]);
          }
      }
      c.addConst(x0, n * 4).addConst(x1, n * 4);
    });
    if (!backward) {
      c.get(acc).get(count).simd(simd.f64x2Div).set(acc);
      c.get(out).get(i).i32(2).emit(op.i32Shl, op.i32Add).set(x0);
      c.get(out).get(i1).i32(2).emit(op.i32Shl, op.i32Add).set(x1);
      storePair(c, acc, x0, x1, 0, second);
    } else {
      base(x0, db, i, n * 4);
      base(x1, db, i1, n * 4);
      for (const f of F) storePair(c, dbv[f], x0, x1, f * 4, second);
      base(x0, dW, i, n * m * 4);
      base(x1, dW, i1, n * m * 4);
      for (const f of F) for (const j of J) storePair(c, dWv[f][j], x0, x1, (f * m + j) * 4, second);
    }
  });
  return { name: backward ? 'backward' : 'forward', params: new Array(P).fill(I32), locals: L.types, body: c };
}

/** The module of both kernels for n features and m hidden units. */
export function tiedLossModule(n: number, m: number, shared: boolean): Uint8Array {
  return moduleBytes([kernel(n, m, false), kernel(n, m, true)], shared);
}
