/**
 * WebAssembly SIMD matmul micro-kernels, generated per padded output width Np (a multiple of 4) so that each
 * output row's columns sit in v128 registers. Sums run in float32, k in order, so results are deterministic and
 * the same bits whichever kernel runs (not bit-equal to the reference loops, which accumulate in float64).
 *
 *   nn(a, b, c, M, K, vals, addrs, table)    C[M x Np] = A[M x K] . B[K x Np]       sparse A: each row compacted first
 *   tn(a, b, c, M, K, vals, addrs, table)    C[M x Np] += A[K x M]^T . B[K x Np]    sparse A: rank-1 updates per non-zero
 *   nn4(a, b, c, M) / tn4(a, b, c, M, rowB)  the same for dense A, four rows of C at a time (K baked in)
 *
 * Pointers are byte offsets into the imported memory; C's rows are Np floats apart, B's Np or a packed panel's width.
 */
import { Code, floatLanes, I32, moduleBytes, op, simd, V128, type FunctionDef } from './emit.ts';

/** Vectors of 4 floats per column block: accumulators (or B vectors) held in registers at once. */
const BLOCK_VECTORS = 8;
const ALIGN4 = 2;

/** Column blocks of the Np-wide output: [first float, vectors]. */
function columnBlocks(np: number): Array<[number, number]> {
  const blocks: Array<[number, number]> = [];
  for (let j = 0; j < np; j += 4 * BLOCK_VECTORS) blocks.push([j, Math.min(BLOCK_VECTORS, (np - j) / 4)]);
  return blocks;
}

/**
 * The left-packing table of `compactRow`: for each 4-bit mask of non-zero lanes, the i8x16.swizzle indices that
 * move those lanes, in order, to the front (the other bytes are zeroed). 256 bytes; the caller writes it once.
 */
export function leftPackTable(): Uint8Array {
  const table = new Uint8Array(256);
  for (let mask = 0; mask < 16; mask++) {
    const lanes = [0, 1, 2, 3].filter((l) => mask & (1 << l));
    for (let i = 0; i < 16; i++) table[mask * 16 + i] = i < lanes.length * 4 ? lanes[i >> 2] * 4 + (i & 3) : 0x80;
  }
  return table;
}

/** The locals compactRow uses. */
interface CompactLocals {
  p: number;
  end: number;
  vEnd: number;
  aEnd: number;
  mask: number;
  v: number;
  addr: number;
}

/**
 * Without a branch, write the non-zeros of the floats [p, end) (a multiple of 4 apart) to the list at vEnd and,
 * beside each, its address from the arithmetic sequence `addr` (lanes: the addresses of four consecutive floats;
 * advanced by `addrStep4` for each vector) to the list at aEnd, advancing vEnd and aEnd past what was written. Four
 * floats at a time: the lanes' non-zero mask picks a left-packing shuffle from `table`, both vectors are stored
 * whole, and the ends move by the mask's population count (the stores write up to 3 floats of slack past the end).
 */
function compactRow(code: Code, l: CompactLocals, table: number, addrStep4: number): void {
  code.whileBelow(l.p, l.end, 16, () => {
    code.get(l.p).simd(simd.v128Load, ...Code.memarg(ALIGN4, 0)).set(l.v);
    code.get(l.v).v128Zero().simd(simd.f32x4Ne).simd(simd.i32x4Bitmask).set(l.mask);
    // the shuffle, kept on the stack for both stores: table + mask * 16
    code.get(l.vEnd).get(l.v).get(table).get(l.mask).i32(4).emit(op.i32Shl, op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN4, 0));
    code.simd(simd.i8x16Swizzle).simd(simd.v128Store, ...Code.memarg(ALIGN4, 0));
    code.get(l.aEnd).get(l.addr).get(table).get(l.mask).i32(4).emit(op.i32Shl, op.i32Add).simd(simd.v128Load, ...Code.memarg(ALIGN4, 0));
    code.simd(simd.i8x16Swizzle).simd(simd.v128Store, ...Code.memarg(ALIGN4, 0));
    code.get(l.mask).emit(op.i32Popcnt).i32(2).emit(op.i32Shl).tee(l.mask).get(l.vEnd).emit(op.i32Add).set(l.vEnd);
    code.get(l.aEnd).get(l.mask).emit(op.i32Add).set(l.aEnd);
    code.get(l.addr).simd(simd.v128Const, ...i32x4Bytes(addrStep4)).simd(simd.i32x4Add).set(l.addr);
  });
}

/** The 16 bytes of an i32x4 constant with every lane `value`. */
const i32x4Bytes = (...lanes: number[]): number[] => {
  const all = lanes.length === 1 ? [lanes[0], lanes[0], lanes[0], lanes[0]] : lanes;
  return [...new Uint8Array(Int32Array.from(all).buffer)];
};

/** addr = [base, base + step, base + 2 step, base + 3 step] for the i32 local `base`. */
const addressLanes = (code: Code, base: number, step: number, addr: number) =>
  code.get(base).simd(simd.i32x4Splat).simd(simd.v128Const, ...i32x4Bytes(0, step, 2 * step, 3 * step)).simd(simd.i32x4Add).set(addr);

/**
 * nn(a, b, c, M, K, vals, addrs, table): C[M x Np] = A[M x K] . B[K x Np], K a multiple of 4, for sparse A. Each row
 * of A is first compacted (compactRow: its non-zeros and their B rows' addresses, no branch per entry, whose
 * random outcome would be mispredicted), then C's row is summed over that list in registers, block by block of
 * columns. Sums over k in order in float32.
 */
function nn(np: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, K 4, vals 5, addrs 6, table 7; i32 locals: aRow 8, p 9, end 10, cRow 11, cEnd 12,
  // vEnd 13, aEnd 14, vp 15, ap 16, mask 17; v128: v 18, addr 19, s 20, acc 21..
  const [a, b, c, M, K, vals, addrs, table] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [aRow, p, end, cRow, cEnd, vEnd, aEnd, vp, ap, mask, v, addr, s, acc0] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const code = new Code();
  code.get(a).set(aRow).get(c).set(cRow);
  code.get(c).get(M).i32(np * 4).emit(op.i32Mul, op.i32Add).set(cEnd);
  code.whileBelow(cRow, cEnd, np * 4, () => {
    code.get(aRow).set(p).get(aRow).get(K).i32(2).emit(op.i32Shl, op.i32Add).set(end);
    code.get(vals).set(vEnd).get(addrs).set(aEnd);
    addressLanes(code, b, np * 4, addr);
    compactRow(code, { p, end, vEnd, aEnd, mask, v, addr }, table, 4 * np * 4);
    code.get(aRow).get(K).i32(2).emit(op.i32Shl, op.i32Add).set(aRow);
    for (const [j0, vectors] of columnBlocks(np)) {
      for (let w = 0; w < vectors; w++) code.v128Zero().set(acc0 + w);
      code.get(vals).set(vp).get(addrs).set(ap);
      code.whileBelow(vp, vEnd, 4, () => {
        code.get(vp).simd(simd.v128Load32Splat, ...Code.memarg(ALIGN4, 0)).set(s);
        code.get(ap).emit(op.i32Load, ...Code.memarg(ALIGN4, 0)).set(p);
        for (let w = 0; w < vectors; w++) code.get(acc0 + w).get(s).get(p).simd(simd.v128Load, ...Code.memarg(ALIGN4, j0 * 4 + 16 * w)).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc0 + w);
        code.addConst(ap, 4);
      });
      for (let w = 0; w < vectors; w++) code.get(cRow).get(acc0 + w).simd(simd.v128Store, ...Code.memarg(ALIGN4, j0 * 4 + 16 * w));
    }
  });
  const vectors = Math.min(BLOCK_VECTORS, np / 4);
  return { name: 'nn', params: new Array(8).fill(I32), locals: [...new Array(10).fill(I32), V128, V128, V128, ...new Array(vectors).fill(V128)], body: code };
}

/**
 * tn(a, b, c, M, K, vals, addrs, table): C[M x Np] += A[K x M]^T . B[K x Np], M a multiple of 4, for sparse A: for
 * each row k of A, its non-zeros A[k, i] are compacted with C row i's address (compactRow), then each such row of
 * C gets A[k, i] B[k, :] added (rank-1 updates, B's row in registers). Sums over k in order in float32.
 */
function tn(np: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, K 4, vals 5, addrs 6, table 7; i32 locals: aRow 8, p 9, end 10, bRow 11, bEnd 12,
  // vEnd 13, aEnd 14, vp 15, ap 16, mask 17; v128: v 18, addr 19, s 20, bv 21..
  const [a, b, c, M, K, vals, addrs, table] = [0, 1, 2, 3, 4, 5, 6, 7];
  const [aRow, p, end, bRow, bEnd, vEnd, aEnd, vp, ap, mask, v, addr, s, bv0] = [8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21];
  const code = new Code();
  code.get(a).set(aRow).get(b).set(bRow);
  code.get(b).get(K).i32(np * 4).emit(op.i32Mul, op.i32Add).set(bEnd);
  code.whileBelow(bRow, bEnd, np * 4, () => {
    code.get(aRow).set(p).get(aRow).get(M).i32(2).emit(op.i32Shl, op.i32Add).set(end);
    code.get(vals).set(vEnd).get(addrs).set(aEnd);
    addressLanes(code, c, np * 4, addr);
    compactRow(code, { p, end, vEnd, aEnd, mask, v, addr }, table, 4 * np * 4);
    code.get(aRow).get(M).i32(2).emit(op.i32Shl, op.i32Add).set(aRow);
    for (const [j0, vectors] of columnBlocks(np)) {
      for (let w = 0; w < vectors; w++) code.get(bRow).simd(simd.v128Load, ...Code.memarg(ALIGN4, j0 * 4 + 16 * w)).set(bv0 + w);
      code.get(vals).set(vp).get(addrs).set(ap);
      code.whileBelow(vp, vEnd, 4, () => {
        code.get(vp).simd(simd.v128Load32Splat, ...Code.memarg(ALIGN4, 0)).set(s);
        code.get(ap).emit(op.i32Load, ...Code.memarg(ALIGN4, 0)).set(p);
        for (let w = 0; w < vectors; w++) {
          code.get(p); // address for the store
          code.get(p).simd(simd.v128Load, ...Code.memarg(ALIGN4, j0 * 4 + 16 * w));
          code.get(s).get(bv0 + w).simd(simd.f32x4Mul).simd(simd.f32x4Add);
          code.simd(simd.v128Store, ...Code.memarg(ALIGN4, j0 * 4 + 16 * w));
        }
        code.addConst(ap, 4);
      });
    }
  });
  const vectors = Math.min(BLOCK_VECTORS, np / 4);
  return { name: 'tn', params: new Array(8).fill(I32), locals: [...new Array(10).fill(I32), V128, V128, V128, ...new Array(vectors).fill(V128)], body: code };
}

/** The shuffle that fills every lane with float32 lane l. */
const broadcastLane = (l: number): number[] => floatLanes(l, l, l, l);

/**
 * nn4(a, b, c, M): C[M x Np] = A[M x K] . B[K x Np] for M a multiple of 4 and K (a multiple of 4) baked in: four
 * rows of C at a time, in blocks of 8 columns (8 accumulators), A read four columns at a time as one vector whose
 * lanes are broadcast by shuffles (one vector load and a shuffle per four products, where the row kernel above
 * pays a scalar load and a splat per product), the way XNNPACK's WebAssembly kernels do. Every sum still runs
 * over k in order in float32, so the result is the row kernel's bit for bit (a skipped zero adds +-0, which
 * changes no sum): ~2x its speed on dense rows. No zero skip.
 */
function nn4(np: number, K: number, width: number, bStride: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3; locals: aRow 4, aEnd 5, aP 6, bP 7, cRow 8, pEnd 9 (i32); v128: A rows 10..13,
  // s 14, b0 15, b1 16, acc 17..24 (acc 17 + r: columns 0-3 of row r; acc 21 + r: columns 4-7)
  const [a, b, c, M, aRow, aEnd, aP, bP, cRow, pEnd, av0, s, b0, b1, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 15, 16, 17];
  const rowBytes = K * 4;
  const code = new Code();
  code.get(a).set(aRow).get(c).set(cRow);
  code.get(a).get(M).i32(rowBytes).emit(op.i32Mul, op.i32Add).set(aEnd);
  code.whileBelow(aRow, aEnd, 4 * rowBytes, () => {
    for (let j0 = 0; j0 < width; j0 += 8) {
      const V = Math.min(2, (width - j0) / 4);
      for (let v = 0; v < 4 * V; v++) code.v128Zero().set(acc + v);
      code.get(aRow).set(aP).get(aRow).i32(rowBytes).emit(op.i32Add).set(pEnd);
      code.get(b).i32(j0 * 4).emit(op.i32Add).set(bP);
      code.whileBelow(aP, pEnd, 16, () => {
        for (let r = 0; r < 4; r++) code.get(aP).simd(simd.v128Load, ...Code.memarg(ALIGN4, r * rowBytes)).set(av0 + r);
        for (let l = 0; l < 4; l++) {
          code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, l * bStride * 4)).set(b0);
          if (V === 2) code.get(bP).simd(simd.v128Load, ...Code.memarg(ALIGN4, l * bStride * 4 + 16)).set(b1);
          for (let r = 0; r < 4; r++) {
            code.get(av0 + r).get(av0 + r).simd(simd.i8x16Shuffle, ...broadcastLane(l)).set(s);
            code.get(acc + r).get(s).get(b0).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + r);
            if (V === 2) code.get(acc + 4 + r).get(s).get(b1).simd(simd.f32x4Mul).simd(simd.f32x4Add).set(acc + 4 + r);
          }
        }
        code.addConst(bP, 4 * bStride * 4);
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
function tn4(np: number, K: number, width: number, bStride: number): FunctionDef {
  // params: a 0, b 1, c 2, M 3, aRowBytes 4; locals: aCol 5, aColEnd 6, aP 7, bP 8, cRow 9, bEnd 10 (i32); v128:
  // av 11, s 12, b0 13, b1 14, acc 15..22 (acc 15 + r: columns 0-3 of C row r; acc 19 + r: columns 4-7)
  const [a, b, c, M, aRowBytes, aCol, aColEnd, aP, bP, cRow, bEnd, av, s, b0, b1, acc] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const code = new Code();
  code.get(a).set(aCol).get(c).set(cRow);
  code.get(a).get(M).i32(2).emit(op.i32Shl, op.i32Add).set(aColEnd);
  code.whileBelow(aCol, aColEnd, 16, () => {
    for (let j0 = 0; j0 < width; j0 += 8) {
      const V = Math.min(2, (width - j0) / 4);
      for (let v = 0; v < 4 * V; v++) code.v128Zero().set(acc + v);
      code.get(aCol).set(aP);
      code.get(b).i32(j0 * 4).emit(op.i32Add).set(bP);
      code.get(bP).i32(K * bStride * 4).emit(op.i32Add).set(bEnd);
      code.whileBelow(bP, bEnd, bStride * 4, () => {
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

/**
 * Columns of B a four-row kernel call covers: all np when K x np fits in a quarter of a 1 MiB L2 cache, else a
 * panel of them (a multiple of 8) that the caller packs into consecutive rows (bStride = the panel's width), so
 * that the panel stays in cache, in few pages, while every block of rows of A passes over it.
 */
export function panelWidth(np: number, K: number): number {
  return Math.min(np, Math.max(8, Math.floor(65536 / K / 8) * 8));
}

/**
 * The module of the four-row NN kernel for output width np and inner size K (both multiples of 4), covering
 * `width` columns (a multiple of 4 no larger than np; default np) from the column pointers it is given, B's rows
 * `bStride` floats apart (default np; C's are np apart).
 */
export function blockedModule(np: number, K: number, shared = false, width = np, bStride = np): Uint8Array {
  if (np % 4 !== 0 || np < 4 || K % 4 !== 0 || K < 4) throw new RangeError(`blockedModule: width ${np} and inner size ${K} must be positive multiples of 4`);
  if (width % 4 !== 0 || width < 4 || width > np) throw new RangeError(`blockedModule: panel width ${width} must be a positive multiple of 4 up to ${np}`);
  return moduleBytes([nn4(np, K, width, bStride)], shared);
}

/** The module of the four-row TN kernel for output width np (a multiple of 4) and inner size K, over `width` columns of B rows `bStride` apart (see blockedModule). */
export function blockedTransposedModule(np: number, K: number, shared = false, width = np, bStride = np): Uint8Array {
  if (np % 4 !== 0 || np < 4 || !Number.isInteger(K) || K < 1) throw new RangeError(`blockedTransposedModule: width ${np} must be a positive multiple of 4 and inner size ${K} positive`);
  if (width % 4 !== 0 || width < 4 || width > np) throw new RangeError(`blockedTransposedModule: panel width ${width} must be a positive multiple of 4 up to ${np}`);
  return moduleBytes([tn4(np, K, width, bStride)], shared);
}

/** The module bytes of both kernels for output width np (a multiple of 4). */
export function matmulModule(np: number, shared = false): Uint8Array {
  if (np % 4 !== 0 || np < 4) throw new RangeError(`matmulModule: width ${np} is not a positive multiple of 4`);
  return moduleBytes([nn(np), tn(np)], shared);
}

/** Whether this engine runs WebAssembly SIMD (a module using f32x4 validates). */
export function simdSupported(): boolean {
  try {
    return typeof WebAssembly === 'object' && WebAssembly.validate(matmulModule(4));
  } catch {
    return false;
  }
}
