/**
 * Adam's update (src/toy/optim.ts's loop, the specification) as a WebAssembly SIMD kernel with that loop's bits:
 * every expression in float64 lanes (f64x2) in the loop's order, and each array rounded to float32 where the loop
 * stores it (w after the decay, m, v, then w again), then read back as stored.
 *
 *   adam(w, g, m, v, count, scalars)
 *
 * Pointers are byte offsets: w, g, m, v [count] float32 (count a multiple of 4; w, m, v updated in place),
 * scalars [9] float64: l2, decay, b1, 1 - b1, b2, 1 - b2, stepSize, bc2Sqrt, eps.
 */
import { Code, HIGH_HALF, I32, LOW_HALVES, moduleBytes, op, simd, V128 } from './emit.ts';

const ALIGN = 2;

export function adamModule(shared: boolean): Uint8Array {
  // params: w 0, g 1, m 2, v 3, count 4, scalars 5; i32 locals: o 6, end 7; v128: the nine scalars 8..16, then
  // per half (lo, hi): W, G, M, V, gi 17..21 / 22..26; results w1 27, m1 28, v1 29 (float32x4), tmp 30, 31
  const [w, g, m, v, count, scalars, o, end] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [l2, decay, b1, c1, b2, c2, stepSize, bc2, eps] = [8, 9, 10, 11, 12, 13, 14, 15, 16];
  const half = (h: number) => ({ W: 17 + 5 * h, G: 18 + 5 * h, M: 19 + 5 * h, V: 20 + 5 * h, gi: 21 + 5 * h });
  const [w1, m1, v1, tA, tB] = [27, 28, 29, 30, 31];
  const c = new Code();
  [l2, decay, b1, c1, b2, c2, stepSize, bc2, eps].forEach((local, j) => c.get(scalars).simd(simd.v128Load64Splat, ...Code.memarg(3, 8 * j)).set(local));
  c.get(count).i32(2).emit(op.i32Shl).set(end);
  const load = (base: number) => c.get(base).get(o).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, 0));
  /** Push the float64 pair of `vector`'s half h (a float32x4 local, or the top of the stack when null). */
  const promote = (vector: number, h: number) => {
    c.get(vector);
    if (h === 1) c.get(vector).simd(simd.i8x16Shuffle, ...HIGH_HALF);
    c.simd(simd.f64x2PromoteLowF32x4);
  };
  /** Two float64 pairs computed by `pair(h)` as one float32x4 (rounded as the loop's stores round). */
  const demoteBoth = (pair: (h: number) => void, into: number) => {
    pair(0);
    c.simd(simd.f32x4DemoteF64x2Zero);
    pair(1);
    c.simd(simd.f32x4DemoteF64x2Zero).simd(simd.i8x16Shuffle, ...LOW_HALVES).set(into);
  };
  c.whileBelow(o, end, 16, () => {
    for (const [base, name] of [[w, 'W'], [g, 'G'], [m, 'M'], [v, 'V']] as const) {
      load(base).set(tA);
      for (const h of [0, 1]) {
        promote(tA, h);
        c.set(half(h)[name]);
      }
    }
    for (const h of [0, 1]) {
      const { W, G, gi } = half(h);
      c.get(G).get(l2).get(W).simd(simd.f64x2Mul).simd(simd.f64x2Add).set(gi); // g + l2 w
    }
    demoteBoth((h) => c.get(half(h).W).get(decay).simd(simd.f64x2Mul), w1); // w * decay
    demoteBoth((h) => c.get(b1).get(half(h).M).simd(simd.f64x2Mul).get(c1).get(half(h).gi).simd(simd.f64x2Mul).simd(simd.f64x2Add), m1); // b1 m + (1 - b1) gi
    demoteBoth((h) => c.get(b2).get(half(h).V).simd(simd.f64x2Mul).get(c2).get(half(h).gi).simd(simd.f64x2Mul).get(half(h).gi).simd(simd.f64x2Mul).simd(simd.f64x2Add), v1); // b2 v + (1 - b2) gi gi
    c.get(m).get(o).emit(op.i32Add).get(m1).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
    c.get(v).get(o).emit(op.i32Add).get(v1).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
    // w = w1 - (stepSize m1) / (sqrt(v1) / bc2Sqrt + eps), from the stored (float32) w1, m1, v1
    c.get(w).get(o).emit(op.i32Add);
    demoteBoth((h) => {
      promote(w1, h);
      c.get(stepSize);
      promote(m1, h);
      c.simd(simd.f64x2Mul);
      promote(v1, h);
      c.simd(simd.f64x2Sqrt).get(bc2).simd(simd.f64x2Div).get(eps).simd(simd.f64x2Add);
      c.simd(simd.f64x2Div).simd(simd.f64x2Sub);
    }, tB);
    c.get(tB).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
  });
  return moduleBytes([{ name: 'adam', params: new Array(6).fill(I32), locals: [I32, I32, ...new Array(24).fill(V128)], body: c }], shared);
}
