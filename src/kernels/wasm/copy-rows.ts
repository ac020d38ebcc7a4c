/**
 * Strided row copies inside WebAssembly memory (bulk memory's memory.copy and memory.fill, one call per row), for
 * the products' operands and results whose rows are padded to a multiple of 4 floats: a JavaScript loop makes a
 * subarray per row, which cost ~2 ms a product on [1024 x 30] rows.
 *
 *   copyRows(src, srcStride, dst, dstStride, rows, rowBytes, padBytes)   byte offsets and sizes; each row's
 *                                                                         padding after it zero-filled
 */
import { Code, I32, moduleBytes, op } from './emit.ts';

export function copyRowsModule(shared: boolean): Uint8Array {
  const [src, srcStride, dst, dstStride, rows, rowBytes, padBytes, end] = [0, 1, 2, 3, 4, 5, 6, 7];
  const c = new Code();
  c.get(dst).get(rows).get(dstStride).emit(op.i32Mul, op.i32Add).set(end);
  c.whileBelow(dst, end, 0, () => {
    c.get(dst).get(src).get(rowBytes).emit(...op.memoryCopy);
    c.get(dst).get(rowBytes).emit(op.i32Add).i32(0).get(padBytes).emit(...op.memoryFill);
    c.addLocal(src, srcStride).addLocal(dst, dstStride);
  });
  return moduleBytes([{ name: 'copyRows', params: new Array(7).fill(I32), locals: [I32], body: c }], shared);
}
