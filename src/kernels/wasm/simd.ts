/**
 * WebAssembly SIMD matmul micro-kernels, generated per padded output width Np (a multiple of 4) so that each
 * output row's columns sit in v128 registers. Both skip zero entries of A, which are ~90% of the paper's
 * inputs at the densities that matter. Sums run in float32, k in order, so results are deterministic (not
 * bit-equal to the reference loops, which accumulate partial sums in float64).
 *
 *   nn(a, b, c, M, K)   C[M x Np] = A[M x K] . B[K x Np]          row by row, accumulators in registers
 *   tn(a, b, c, M, K)   C[M x Np] += A[K x M]^T . B[K x Np]       rank-1 updates of C for each non-zero A[k, i]
 *
 * Pointers are byte offsets into the imported memory; B and C rows are Np floats apart.
 */
import { Code, F32, I32, moduleBytes, op, simd, V128, type FunctionDef } from './emit.ts';

/** Vectors of 4 floats per column block: accumulators (or B vectors) held in registers at once. */
const BLOCK_VECTORS = 8;
const ALIGN4 = 2;

/** Column blocks of the Np-wide output: [first float, vectors]. */
function columnBlocks(np: number): Array<[number, number]> {
  const blocks: Array<[number, number]> = [];
  for (let j = 0; j < np; j += 4 * BLOCK_VECTORS) blocks.push([j, Math.min(BLOCK_VECTORS, (np - j) / 4)]);
  return blocks;
}

/** x = f32 at local p; open an `if` taken when x != 0 (the zero skip). */
const ifNonZero = (c: Code, p: number, x: number) => c.get(p).emit(op.f32Load, ...Code.memarg(ALIGN4, 0)).tee(x).emit(op.f32Const, 0, 0, 0, 0, op.f32Ne, op.if, op.void);

/** Both kernels' signature and locals: 7 i32 (pointers, ends, a row size), the A value, its splat, the vectors. */
function kernel(name: string, np: number, code: Code): FunctionDef {
  const vectors = Math.min(BLOCK_VECTORS, np / 4);
  return { name, params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32, I32, F32, V128, ...new Array(vectors).fill(V128)], body: code };
}

function nn(np: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, K 4; locals: aRow 5, aEnd 6, aP 7, bP 8, cRow 9, cEnd 10, rowBytes 11, x 12 (f32),
  // s 13 (v128), acc 14.. (v128)
  const [a, b, c, M, K, aRow, aEnd, aP, bP, cRow, cEnd, rowBytes, x, s, acc0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const code = new Code();
  code.get(K).i32(2).emit(op.i32Shl).set(rowBytes); // K * 4: bytes of an A row
  code.get(a).set(aRow).get(c).set(cRow);
  code.get(c).get(M).i32(np * 4).emit(op.i32Mul, op.i32Add).set(cEnd);
  code.whileBelow(cRow, cEnd, np * 4, () => {
    for (const [j0, vectors] of columnBlocks(np)) {
      for (let v = 0; v < vectors; v++) code.simd(simd.v128Const, ...new Array(16).fill(0)).set(acc0 + v);
      code.get(aRow).set(aP).get(aRow).get(rowBytes).emit(op.i32Add).set(aEnd);
      code.get(b).i32(j0 * 4).emit(op.i32Add).set(bP);
      code.whileBelow(aP, aEnd, 4, () => {
        ifNonZero(code, aP, x);
        code.get(x).simd(simd.f32x4Splat).set(s);
        for (let v = 0; v < vectors; v++) {
          code.get(acc0 + v).get(s).get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, 16 * v)).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc0 + v);
        }
        code.emit(op.end);
        code.addConst(bP, np * 4);
      });
      for (let v = 0; v < vectors; v++) code.get(cRow).get(acc0 + v).simd(simd.v128Store, ...Code.memarg(ALIGN4, j0 * 4 + 16 * v));
    }
    code.addLocal(aRow, rowBytes);
  });
  return kernel('nn', np, code);
}

function tn(np: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, K 4; locals: aRow 5, aEnd 6, aP 7, bRow 8, bEnd 9, cP 10, colBytes 11, x 12 (f32),
  // s 13 (v128), bv 14.. (v128)
  const [a, b, c, M, K, aRow, aEnd, aP, bRow, bEnd, cP, colBytes, x, s, bv0] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14];
  const code = new Code();
  code.get(M).i32(2).emit(op.i32Shl).set(colBytes); // M * 4: bytes of an A row (A is K x M)
  code.get(a).set(aRow).get(b).set(bRow);
  code.get(b).get(K).i32(np * 4).emit(op.i32Mul, op.i32Add).set(bEnd);
  code.whileBelow(bRow, bEnd, np * 4, () => {
    for (const [j0, vectors] of columnBlocks(np)) {
      for (let v = 0; v < vectors; v++) code.get(bRow).simd(simd.v128Load, ...Code.memarg(ALIGN4, j0 * 4 + 16 * v)).set(bv0 + v);
      code.get(aRow).set(aP).get(aRow).get(colBytes).emit(op.i32Add).set(aEnd);
      code.get(c).i32(j0 * 4).emit(op.i32Add).set(cP);
      code.whileBelow(aP, aEnd, 4, () => {
        ifNonZero(code, aP, x);
        code.get(x).simd(simd.f32x4Splat).set(s);
        for (let v = 0; v < vectors; v++) {
          code.get(cP); // address for the store
          code.get(cP).simd(simd.v128Load, ...Code.memarg(ALIGN4, 16 * v));
          code.get(s).get(bv0 + v).simd(simd.f32x4Mul).simd(simd.f32x4Add);
          code.simd(simd.v128Store, ...Code.memarg(ALIGN4, 16 * v));
        }
        code.emit(op.end);
        code.addConst(cP, np * 4);
      });
    }
    code.addLocal(aRow, colBytes);
  });
  return kernel('tn', np, code);
}

const broadcastLane = (l: number): number[] => Array.from({ length: 16 }, (_, i) => 4 * l + (i % 4));

/**
 * nn4(a, b, c, M): C[M x Np] = A[M x K] . B[K x Np] for M a multiple of 4 and K (a multiple of 4) baked in: four
 * rows of C at a time, in blocks of 8 columns (8 accumulators), A read four columns at a time as one vector whose
 * lanes are broadcast by shuffles (one vector load and a shuffle per four products, where the row kernel above
 * pays a scalar load and a splat per product), the way XNNPACK's WebAssembly kernels do. Every sum still runs
 * over k in order in float32, so the result is the row kernel's bit for bit (a skipped zero adds +-0, which
 * changes no sum): ~2x its speed on dense rows. No zero skip.
 */
function nn4(np: number, K: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3; locals: aRow 4, aEnd 5, aP 6, bP 7, cRow 8, pEnd 9 (i32); v128: A rows 10..13,
  // s 14, b0 15, b1 16, acc 17..24 (acc 17 + r: columns 0-3 of row r; acc 21 + r: columns 4-7)
  const [a, b, c, M, aRow, aEnd, aP, bP, cRow, pEnd, av0, s, b0, b1, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17];
  const rowBytes = K * 4;
  const code = new Code();
  code.get(a).set(aRow).get(c).set(cRow);
  code.get(a).get(M).i32(rowBytes).emit(op.i32Mul, op.i32Add).set(aEnd);
  code.whileBelow(aRow, aEnd, 4 * rowBytes, () => {
    for (let j0 = 0; j0 < np; j0 += 8) {
      const V = Math.min(2, (np - j0) / 4);
      for (let v = 0; v < 4 * V; v++) code.simd(simd.v128Const, ...new Array(16).fill(0)).set(acc + v);
      code.get(aRow).set(aP).get(aRow).i32(rowBytes).emit(op.i32Add).set(pEnd);
      code.get(b).i32(j0 * 4).emit(op.i32Add).set(bP);
      code.whileBelow(aP, pEnd, 16, () => {
        for (let r = 0; r < 4; r++) code.get(aP).simd(simd.v128Load, ...Code.memarg(ALIGN4, r * rowBytes)).set(av0 + r);
        for (let l = 0; l < 4; l++) {
          code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, l * np * 4)).set(b0);
          if (V === 2) code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, l * np * 4 + 16)).set(b1);
          for (let r = 0; r < 4; r++) {
            code.get(av0 + r).get(av0 + r).simd(simd.i8x16Shuffle, ...broadcastLane(l)).set(s);
            code.get(acc + r).get(s).get(b0).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + r);
            if (V === 2) code.get(acc + 4 + r).get(s).get(b1).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + 4 + r);
          }
        }
        code.addConst(bP, 4 * np * 4);
      });
      for (let r = 0; r < 4; r++) {
        code.get(cRow).get(acc + r).simd(simd.v128Store, ...Code.memarg(ALIGN4, r * np * 4 + j0 * 4));
        if (V === 2) code.get(cRow).get(acc + 4 + r).simd(simd.v128Store, ...Code.memarg(ALIGN4, r * np * 4 + j0 * 4 + 16));
      }
    }
    code.addConst(cRow, 4 * np * 4);
  });
  return { name: 'nn4', params: [I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32, ...new Array(15).fill(V128)], body: code };
}

/**
 * tn4(a, b, c, M, aRowBytes): C[M x Np] = A^T . B for A stored K x M (rows aRowBytes apart) and M a multiple of 4,
 * K baked in: four rows of C (four consecutive columns of A, one vector load a step) in blocks of 8 columns held
 * in registers while k runs, each A lane broadcast by a shuffle. Sums over k in order in float32: the rank-1 kernel
 * (tn above) bit for bit, without its zero skip, ~2x its speed on dense A.
 */
function tn4(np: number, K: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, aRowBytes 4; locals: aCol 5, aColEnd 6, aP 7, bP 8, cRow 9, bEnd 10 (i32); v128:
  // av 11, s 12, b0 13, b1 14, acc 15..22 (acc 15 + r: columns 0-3 of C row r; acc 19 + r: columns 4-7)
  const [a, b, c, M, aRowBytes, aCol, aColEnd, aP, bP, cRow, bEnd, av, s, b0, b1, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const code = new Code();
  code.get(a).set(aCol).get(c).set(cRow);
  code.get(a).get(M).i32(2).emit(op.i32Shl, op.i32Add).set(aColEnd);
  code.whileBelow(aCol, aColEnd, 16, () => {
    for (let j0 = 0; j0 < np; j0 += 8) {
      const V = Math.min(2, (np - j0) / 4);
      for (let v = 0; v < 4 * V; v++) code.simd(simd.v128Const, ...new Array(16).fill(0)).set(acc + v);
      code.get(aCol).set(aP);
      code.get(b).i32(j0 * 4).emit(op.i32Add).set(bP);
      code.get(bP).i32(K * np * 4).emit(op.i32Add).set(bEnd);
      code.whileBelow(bP, bEnd, np * 4, () => {
        code.get(aP).simd(simd.v128Load, ...Code.memarg(ALIGN4, 0)).set(av);
        code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, 0)).set(b0);
        if (V === 2) code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, 16)).set(b1);
        for (let r = 0; r < 4; r++) {
          code.get(av).get(av).simd(simd.i8x16Shuffle, ...broadcastLane(r)).set(s);
          code.get(acc + r).get(s).get(b0).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + r);
          if (V === 2) code.get(acc + 4 + r).get(s).get(b1).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + 4 + r);
        }
        code.addLocal(aP, aRowBytes);
      });
      for (let r = 0; r < 4; r++) {
        code.get(cRow).get(acc + r).simd(simd.v128Store, ...Code.memarg(ALIGN4, r * np * 4 + j0 * 4));
        if (V === 2) code.get(cRow).get(acc + 4 + r).simd(simd.v128Store, ...Code.memarg(ALIGN4, r * np * 4 + j0 * 4 + 16));
      }
    }
    code.addConst(cRow, 4 * np * 4);
  });
  return { name: 'tn4', params: [I32, I32, I32, I32, I32], locals: [I32, I32, I32, I32, I32, I32, ...new Array(12).fill(V128)], body: code };
}

/** The module of the four-row NN kernel for output width np and inner size K (both multiples of 4). */
export function blockedModule(np: number, K: number): Uint8Array {
  if (np % 4 !== 0 || np < 4 || K % 4 !== 0 || K < 4) throw new RangeError(`blockedModule: width ${np} and inner size ${K} must be positive multiples of 4`);
  return moduleBytes([nn4(np, K)]);
}

/** The module of the four-row TN kernel for output width np (a multiple of 4) and inner size K. */
export function blockedTransposedModule(np: number, K: number): Uint8Array {
  if (np % 4 !== 0 || np < 4 || !Number.isInteger(K) || K < 1) throw new RangeError(`blockedTransposedModule: width ${np} must be a positive multiple of 4 and inner size ${K} positive`);
  return moduleBytes([tn4(np, K)]);
}

/** The module bytes of both kernels for output width np (a multiple of 4). */
export function matmulModule(np: number): Uint8Array {
  if (np % 4 !== 0 || np < 4) throw new RangeError(`matmulModule: width ${np} is not a positive multiple of 4`);
  return moduleBytes([nn(np), tn(np)]);
}

/** Whether this engine runs WebAssembly SIMD (a module using f32x4 validates). */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(matmulModule(4));
  } catch {
    return false;
  }
}
