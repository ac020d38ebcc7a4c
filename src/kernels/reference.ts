/**
 * The reference backend: plain TypeScript loops over flat Float32Arrays. It is the specification every other
 * backend is tested against, so clarity comes first; the loops that dominate training (matmul, same-shape
 * elementwise) are still written to run near what scalar JavaScript can do (see scripts/bench-kernels.ts).
 */
import { sizeOf, type Shape } from './shape.ts';
import type { BinaryOp, Kernels, MatmulSpec, UnaryOp } from './types.ts';
import { exp, log } from '../math.ts';

/**
 * Visit `shape` in 2-D blocks made of its two innermost axes (so short rows, such as the 2 features of a 2->1
 * model, do not cost a call each). fn gets the block's offset in a contiguous array of that shape (rows of
 * `len`), its offsets in two strided arrays, the block's rows and row length, and the two arrays' strides along
 * those rows (ra, rb) and within them (ia, ib).
 */
export function forEachBlock(
  shape: Shape,
  sa: readonly number[],
  sb: readonly number[],
  fn: (o: number, a: number, b: number, rows: number, len: number, ra: number, ia: number, rb: number, ib: number) => void,
): void {
  const r = shape.length;
  if (r === 0) return fn(0, 0, 0, 1, 1, 0, 0, 0, 0);
  if (sizeOf(shape) === 0) return;
  const len = shape[r - 1];
  const rows = r >= 2 ? shape[r - 2] : 1;
  const [ra, rb] = r >= 2 ? [sa[r - 2], sb[r - 2]] : [0, 0];
  const outer = r - 2; // axes walked by the counter below
  const blocks = sizeOf(shape) / (rows * len);
  const idx = new Array<number>(Math.max(0, outer)).fill(0);
  let a = 0;
  let b = 0;
  for (let k = 0, o = 0; k < blocks; k++, o += rows * len) {
    fn(o, a, b, rows, len, ra, sa[r - 1], rb, sb[r - 1]);
    for (let d = outer - 1; d >= 0; d--) {
      idx[d]++;
      a += sa[d];
      b += sb[d];
      if (idx[d] < shape[d]) break;
      a -= sa[d] * shape[d];
      b -= sb[d] * shape[d];
      idx[d] = 0;
    }
  }
}

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}

/**
 * If reading with `strides` visits a contiguous block that repeats (stride 0 on some leading axes, row-major
 * strides on the trailing ones), the block's size; otherwise 0.
 */
function trailingPeriod(shape: Shape, strides: readonly number[]): number {
  let d = shape.length;
  let block = 1;
  while (d > 0 && (shape[d - 1] === 1 || strides[d - 1] === block)) block *= shape[--d];
  for (let e = 0; e < d; e++) if (shape[e] !== 1 && strides[e] !== 0) return 0;
  return block;
}

/** One row of a binary op; the switch sits outside the loop so each loop stays monomorphic. */
function binaryRow(op: BinaryOp, a: Float32Array, ao: number, ia: number, b: Float32Array, bo: number, ib: number, out: Float32Array, oo: number, len: number): void {
  switch (op) {
    case 'add':
      for (let t = 0; t < len; t++) out[oo + t] = a[ao + t * ia] + b[bo + t * ib];
      return;
    case 'sub':
      for (let t = 0; t < len; t++) out[oo + t] = a[ao + t * ia] - b[bo + t * ib];
      return;
    case 'mul':
      for (let t = 0; t < len; t++) out[oo + t] = a[ao + t * ia] * b[bo + t * ib];
      return;
    case 'div':
      for (let t = 0; t < len; t++) out[oo + t] = a[ao + t * ia] / b[bo + t * ib];
      return;
    case 'maximum':
      // NaN propagates, as in PyTorch's maximum.
      for (let t = 0; t < len; t++) {
        const x = a[ao + t * ia];
        const y = b[bo + t * ib];
        out[oo + t] = x > y || x !== x ? x : y;
      }
      return;
    case 'maxMask':
      for (let t = 0; t < len; t++) {
        const x = a[ao + t * ia];
        const y = b[bo + t * ib];
        out[oo + t] = x > y ? 1 : x < y ? 0 : 0.5;
      }
      return;
  }
}

/**
 * C[m x n] = op(A) · B for one batch element, i-k-j order. Two rows of C are updated per pass and the k loop is
 * unrolled 4 times, so each load of B feeds two rows and each load/store of C carries four multiply-adds (about
 * 2x the plain i-k-j loop in V8; see scripts/bench-kernels.ts). Every element of C is summed in the same order
 * whatever the blocking, so results do not depend on m's parity. A's element (i, p) is a[aOff + i*sai + p*sap],
 * so the same loop serves A and A^T; B is k x n row-major.
 *
 * Blocks of A that are all zero are skipped: the paper's inputs are mostly zeros at the densities that matter
 * (x W and x^T dh both read x as A). For finite B this changes no bit (adding 0 * b leaves a sum unchanged);
 * an Inf or NaN in B meeting a zero of A no longer turns the output into NaN, which the trainer's NaN check
 * catches earlier anyway, at the loss.
 */
function gemm(a: Float32Array, aOff: number, sai: number, sap: number, b: Float32Array, bOff: number, out: Float32Array, oOff: number, m: number, k: number, n: number): void {
  // The toy models' skinny products (a 2->1 model's x W has n = 1, h W^T has k = 1) spend their time in loop
  // set-up in the blocked loop below: a dot product per row, or an outer product, does them directly.
  if (n === 1) {
    for (let i = 0; i < m; i++) {
      let acc = 0;
      for (let p = 0, r = aOff + i * sai; p < k; p++, r += sap) acc += a[r] * b[bOff + p];
      out[oOff + i] = acc;
    }
    return;
  }
  if (k === 1) {
    for (let i = 0; i < m; i++) {
      const av = a[aOff + i * sai];
      for (let j = 0; j < n; j++) out[oOff + i * n + j] = av * b[bOff + j];
    }
    return;
  }
  out.fill(0, oOff, oOff + m * n);
  let i = 0;
  for (; i + 2 <= m; i += 2) {
    const o0 = oOff + i * n;
    const o1 = o0 + n;
    let r0 = aOff + i * sai;
    let r1 = r0 + sai;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const a0 = a[r0], a1 = a[r0 + sap], a2 = a[r0 + 2 * sap], a3 = a[r0 + 3 * sap];
      const e0 = a[r1], e1 = a[r1 + sap], e2 = a[r1 + 2 * sap], e3 = a[r1 + 3 * sap];
      r0 += 4 * sap;
      r1 += 4 * sap;
      if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0 && e0 === 0 && e1 === 0 && e2 === 0 && e3 === 0) continue;
      const b0 = bOff + p * n;
      const b1 = b0 + n;
      const b2 = b1 + n;
      const b3 = b2 + n;
      for (let j = 0; j < n; j++) {
        const x0 = b[b0 + j], x1 = b[b1 + j], x2 = b[b2 + j], x3 = b[b3 + j];
        out[o0 + j] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3;
        out[o1 + j] += e0 * x0 + e1 * x1 + e2 * x2 + e3 * x3;
      }
    }
    for (; p < k; p++) {
      const a0 = a[r0];
      const e0 = a[r1];
      r0 += sap;
      r1 += sap;
      if (a0 === 0 && e0 === 0) continue;
      const bp = bOff + p * n;
      for (let j = 0; j < n; j++) {
        out[o0 + j] += a0 * b[bp + j];
        out[o1 + j] += e0 * b[bp + j];
      }
    }
  }
  if (i < m) gemmRow(a, aOff + i * sai, sap, b, bOff, out, oOff + i * n, k, n);
}

/** The last row when m is odd: the same summation order as gemm's paired rows. */
function gemmRow(a: Float32Array, r: number, sap: number, b: Float32Array, bOff: number, out: Float32Array, o: number, k: number, n: number): void {
  let p = 0;
  for (; p + 4 <= k; p += 4) {
    const a0 = a[r], a1 = a[r + sap], a2 = a[r + 2 * sap], a3 = a[r + 3 * sap];
    r += 4 * sap;
    if (a0 === 0 && a1 === 0 && a2 === 0 && a3 === 0) continue;
    const b0 = bOff + p * n;
    const b1 = b0 + n;
    const b2 = b1 + n;
    const b3 = b2 + n;
    for (let j = 0; j < n; j++) out[o + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
  }
  for (; p < k; p++) {
    const av = a[r];
    r += sap;
    if (av === 0) continue;
    const bp = bOff + p * n;
    for (let j = 0; j < n; j++) out[o + j] += av * b[bp + j];
  }
}

let transposeScratch = new Float32Array(0);

function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
  const { batch, m, k, n, transA, transB } = s;
  const sai = transA ? 1 : k;
  const sap = transA ? m : 1;
  if (transB && transposeScratch.length < k * n) transposeScratch = new Float32Array(k * n);
  for (let q = 0; q < batch; q++) {
    let bb = b;
    let bOff = s.bOffsets[q];
    if (transB) {
      // B is stored n x k: lay it out k x n once so the inner loop reads it in order (ml-matrix's trick).
      const t = transposeScratch;
      for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) t[p * n + j] = b[bOff + j * k + p];
      bb = t;
      bOff = 0;
    }
    gemm(a, s.aOffsets[q], sai, sap, bb, bOff, out, q * m * n, m, k, n);
  }
}

function unary(op: UnaryOp, x: Float32Array, out: Float32Array, param = 0): void {
  const len = x.length;
  switch (op) {
    case 'neg':
      for (let i = 0; i < len; i++) out[i] = -x[i];
      return;
    case 'relu':
      // No branch on the sign ((v + |v|) / 2 is relu(v) exactly, +0 for v <= 0; -Inf is tested apart, a branch
      // never taken): on data of random sign a sign branch is mispredicted half the time, several times slower.
      for (let i = 0; i < len; i++) out[i] = x[i] === -Infinity ? 0 : (x[i] + Math.abs(x[i])) * 0.5;
      return;
    case 'abs':
      for (let i = 0; i < len; i++) out[i] = Math.abs(x[i]);
      return;
    case 'exp':
      for (let i = 0; i < len; i++) out[i] = exp(x[i]);
      return;
    case 'log':
      for (let i = 0; i < len; i++) out[i] = log(x[i]);
      return;
    case 'pow':
      if (param === 2) for (let i = 0; i < len; i++) out[i] = x[i] * x[i];
      else if (param === 1) out.set(x);
      else for (let i = 0; i < len; i++) out[i] = Math.pow(x[i], param);
      return;
    case 'step':
      for (let i = 0; i < len; i++) out[i] = +(x[i] > 0);
      return;
    case 'sign':
      for (let i = 0; i < len; i++) out[i] = x[i] > 0 ? 1 : x[i] < 0 ? -1 : 0;
      return;
  }
}

function binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[], out: Float32Array, shape: Shape): void {
  const aFull = isContiguous(shape, aStrides);
  const bFull = isContiguous(shape, bStrides);
  if (aFull && bFull) return binaryRow(op, a, 0, 1, b, 0, 1, out, 0, out.length);
  // The common broadcast: one operand covers a trailing block of the shape (a bias, an importance vector) and
  // repeats; walk the output in blocks of that size instead of row by row.
  const period = aFull ? trailingPeriod(shape, bStrides) : bFull ? trailingPeriod(shape, aStrides) : 0;
  if (period === 1) {
    // A scalar operand: one pass, reading it with stride 0.
    return aFull ? binaryRow(op, a, 0, 1, b, 0, 0, out, 0, out.length) : binaryRow(op, a, 0, 0, b, 0, 1, out, 0, out.length);
  }
  if (period > 1) {
    for (let o = 0; o < out.length; o += period) {
      if (aFull) binaryRow(op, a, o, 1, b, 0, 1, out, o, period);
      else binaryRow(op, a, 0, 1, b, o, 1, out, o, period);
    }
    return;
  }
  forEachBlock(shape, aStrides, bStrides, (o, ao, bo, rows, len, ra, ia, rb, ib) => {
    for (let q = 0; q < rows; q++) binaryRow(op, a, ao + q * ra, ia, b, bo + q * rb, ib, out, o + q * len, len);
  });
}

function copyStrided(x: Float32Array, xStrides: readonly number[], out: Float32Array, shape: Shape): void {
  if (isContiguous(shape, xStrides)) return out.set(x.subarray(0, out.length));
  forEachBlock(shape, xStrides, zeros(shape.length), (o, xo, _b, rows, len, rx, ix) => {
    for (let q = 0; q < rows; q++) for (let t = 0; t < len; t++) out[o + q * len + t] = x[xo + q * rx + t * ix];
  });
}

function sum(x: Float32Array, xShape: Shape, out: Float32Array, outStrides: readonly number[]): void {
  // Accumulate in float64: a float32 running sum over ~1e6 terms (a loss over a batch) loses digits.
  if (out.length === 1) {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    out[0] = s;
    return;
  }
  const acc = new Float64Array(out.length);
  forEachBlock(xShape, outStrides, zeros(xShape.length), (xo, oo, _b, rows, len, ro, io) => {
    for (let q = 0; q < rows; q++) for (let t = 0; t < len; t++) acc[oo + q * ro + t * io] += x[xo + q * len + t];
  });
  for (let i = 0; i < out.length; i++) out[i] = acc[i];
}

export const referenceKernels: Kernels = { name: 'js', matmul, unary, binary, copyStrided, sum };
