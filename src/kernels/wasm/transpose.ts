/**
 * A matrix transposed inside WebAssembly memory, four by four: four rows of four floats loaded as vectors, turned
 * into four columns by eight shuffles, stored as four rows of the output. The products use it for a transposed B
 * (NT, TT), which a JavaScript loop of scalar, strided reads made ~10% of a 256^3 product, and for a dense
 * transposed A whose rows lie a page apart (TN 1024^3: every step of the four-row TN kernel's inner loop read a new
 * cache line of the same cache set).
 *
 *   transpose(src, srcRowBytes, dst, dstRowBytes, rows, cols)   dst[j][i] = src[i][j] for i < rows, j < cols,
 *                                                               rows and cols multiples of 4; byte offsets
 *
 * Moves bits only: a transposed operand gives a product the bits it would have had without.
 */
import { Code, floatLanes, I32, moduleBytes, op, simd, V128 } from './emit.ts';

const ALIGN = 2;

export function transposeModule(shared: boolean): Uint8Array {
  // params: src 0, srcRowBytes 1, dst 2, dstRowBytes 3, rows 4, cols 5; i32 locals: sRow 6, sEnd 7, dCol 8, sp 9,
  // spEnd 10, dp 11, s2 12, d2 13; v128: r0..r3 14..17, t0..t3 18..21
  const [src, srcRowBytes, dst, dstRowBytes, rows, cols] = [0, 1, 2, 3, 4, 5];
  const [sRow, sEnd, dCol, sp, spEnd, dp, s2, d2] = [6, 7, 8, 9, 10, 11, 12, 13];
  const [r0, t0] = [14, 18];
  const c = new Code();
  c.get(srcRowBytes).i32(1).emit(op.i32Shl).set(s2);
  c.get(dstRowBytes).i32(1).emit(op.i32Shl).set(d2);
  c.get(src).set(sRow).get(dst).set(dCol);
  c.get(src).get(rows).get(srcRowBytes).emit(op.i32Mul, op.i32Add).set(sEnd);
  c.whileBelow(sRow, sEnd, 0, () => {
    c.get(sRow).set(sp).get(dCol).set(dp);
    c.get(sRow).get(cols).i32(2).emit(op.i32Shl, op.i32Add).set(spEnd);
    c.whileBelow(sp, spEnd, 16, () => {
      // rows sp, sp + s, sp + 2s, sp + 3s
      c.get(sp).simd(simd.v128Load, ...Code.memarg(ALIGN, 0)).set(r0);
      c.get(sp).get(srcRowBytes).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, 0)).set(r0 + 1);
      c.get(sp).get(s2).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, 0)).set(r0 + 2);
      c.get(sp).get(s2).emit(op.i32Add).get(srcRowBytes).emit(op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN, 0)).set(r0 + 3);
      // [a0 b0 a1 b1], [a2 b2 a3 b3], [c0 d0 c1 d1], [c2 d2 c3 d3]
      c.get(r0).get(r0 + 1).simd(simd.i8x16Shuffle, ...floatLanes(0, 4, 1, 5)).set(t0);
      c.get(r0).get(r0 + 1).simd(simd.i8x16Shuffle, ...floatLanes(2, 6, 3, 7)).set(t0 + 1);
      c.get(r0 + 2).get(r0 + 3).simd(simd.i8x16Shuffle, ...floatLanes(0, 4, 1, 5)).set(t0 + 2);
      c.get(r0 + 2).get(r0 + 3).simd(simd.i8x16Shuffle, ...floatLanes(2, 6, 3, 7)).set(t0 + 3);
      // columns 0-3 of the four rows, each stored as a row of dst
      c.get(dp).get(t0).get(t0 + 2).simd(simd.i8x16Shuffle, ...floatLanes(0, 1, 4, 5)).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
      c.get(dp).get(dstRowBytes).emit(op.i32Add).get(t0).get(t0 + 2).simd(simd.i8x16Shuffle, ...floatLanes(2, 3, 6, 7)).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
      c.get(dp).get(d2).emit(op.i32Add).get(t0 + 1).get(t0 + 3).simd(simd.i8x16Shuffle, ...floatLanes(0, 1, 4, 5)).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
      c.get(dp).get(d2).emit(op.i32Add).get(dstRowBytes).emit(op.i32Add).get(t0 + 1).get(t0 + 3).simd(simd.i8x16Shuffle, ...floatLanes(2, 3, 6, 7)).simd(simd.v128Store, ...Code.memarg(ALIGN, 0));
      c.get(dp).get(d2).get(d2).emit(op.i32Add, op.i32Add).set(dp);
    });
    c.get(sRow).get(s2).get(s2).emit(op.i32Add, op.i32Add).set(sRow);
    c.addConst(dCol, 16);
  });
  return moduleBytes([{ name: 'transpose', params: new Array(6).fill(I32), locals: [...new Array(8).fill(I32), ...new Array(8).fill(V128)], body: c }], shared);
}
