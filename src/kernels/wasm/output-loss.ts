/**
 * The fused output layer and loss of src/toy/fused.ts (`reluOutputLoss`) as a WebAssembly SIMD kernel, for one
 * instance: v = pre + b, y = relu(v), loss = sum of imp[f] (t - y)^2 over the instance's rows and features in order,
 * d pre = relu'(v) * (scale imp[f]) (y - t) rounded to float32, and acc[f] = its sum over the rows. The bits are the
 * TypeScript loop's for finite inputs: the float32 sum as float32, everything else in float64 lanes (f64x2) as the
 * loop computes in doubles, and the loss summed lane by lane in the loop's order (one float64 sum, not partial sums).
 *
 *   outputLoss(pre, bias, target, imp, scaledImp, dPre, acc, rows, n) -> loss
 *
 * Pointers are byte offsets: pre, target and dPre [rows x n] float32, bias [n] float32, imp, scaledImp and acc [n]
 * float64 (acc zeroed by the caller and added to). n is a multiple of 4.
 */
import { Code, F64, HIGH_HALF, I32, LOW_HALVES, moduleBytes, op, simd, V128 } from './emit.ts';

const ALIGN = 2;

export function outputLossModule(shared: boolean): Uint8Array {
  // params: pre 0, bias 1, target 2, imp 3, scaledImp 4, dPre 5, acc 6, rows 7, n 8; i32 locals: o 9, end 10, f 11,
  // rowBytes 12; f64: loss 13; v128: v 14, y 15, t 16, yl 17, tl 18, e 19, dl 20, dh 21, yh 22, th 23
  const [pre, bias, target, imp, scaledImp, dPre, acc, rows, n] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const [o, end, f, rowBytes, loss, v, y, t, yl, tl, e, dl, dh, yh, th] = [9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23];
  const c = new Code();
  const load = (base: number, offset: number, extra = 0) => c.get(base).get(offset).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, extra));
  const loadF64 = (base: number, extra: number) => c.get(base).get(f).i32(1).emit(op.i32Shl, op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, extra));
  c.get(n).i32(2).emit(op.i32Shl).set(rowBytes);
  c.get(rows).get(rowBytes).emit(op.i32Mul).set(end);
  c.whileBelow(o, end, 0, () => {
    c.i32(0).set(f);
    c.whileBelow(f, rowBytes, 16, () => {
      load(pre, o).get(bias).get(f).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, 0)).simd(simd.f32x4Add).set(v);
      c.get(v).v128Zero().simd(simd.f32x4Max).set(y);
      load(target, o).set(t);
      c.get(y).simd(simd.f64x2PromoteLowF32x4).set(yl);
      c.get(t).simd(simd.f64x2PromoteLowF32x4).set(tl);
      c.get(y).get(y).simd(simd.i8x16Shuffle, ...HIGH_HALF).simd(simd.f64x2PromoteLowF32x4).set(yh);
      c.get(t).get(t).simd(simd.i8x16Shuffle, ...HIGH_HALF).simd(simd.f64x2PromoteLowF32x4).set(th);
      for (const [yv, tv, d, extra] of [[yl, tl, dl, 0], [yh, th, dh, 16]]) {
        // loss += imp[f] * e * e, lane 0 then lane 1 (e = t - y)
        c.get(tv).get(yv).simd(simd.f64x2Sub).set(e);
        loadF64(imp, extra).get(e).simd(simd.f64x2Mul).get(e).simd(simd.f64x2Mul).set(e);
        c.get(loss).get(e).simd(simd.f64x2ExtractLane, 0).emit(op.f64Add).get(e).simd(simd.f64x2ExtractLane, 1).emit(op.f64Add).set(loss);
        // d = scaledImp[f] * (y - t)
        loadF64(scaledImp, extra).get(yv).get(tv).simd(simd.f64x2Sub).simd(simd.f64x2Mul).set(d);
      }
      // the four d as float32, zero where v <= 0 (relu'), stored; acc[f] += d in float64
      c.get(dl).simd(simd.f32x4DemoteF64x2Zero).get(dh).simd(simd.f32x4DemoteF64x2Zero).simd(simd.i8x16Shuffle, ...LOW_HALVES);
      c.get(v).v128Zero().simd(simd.f32x4Gt).simd(simd.v128And).set(v);
      c.get(dPre).get(o).emit(op.i32Add).get(v).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
      for (const [extra, lanes] of [[0, null], [16, HIGH_HALF]] as const) {
        c.get(acc).get(f).i32(1).emit(op.i32Shl, op.i32Add);
        loadF64(acc, extra);
        c.get(v);
        if (lanes) c.get(v).simd(simd.i8x16Shuffle, ...lanes);
        c.simd(simd.f64x2PromoteLowF32x4).simd(simd.f64x2Add).simd(simd.v128Store, ...Code.memarg(ALIGN, extra));
      }
      c.addConst(o, 16);
    });
  });
  c.get(loss);
  return moduleBytes([{ name: 'outputLoss', params: new Array(9).fill(I32), locals: [I32, I32, I32, I32, F64, ...new Array(10).fill(V128)], results: [F64], body: c }], shared);
}
