/**
 * The `wasm` backend: the reference backend with its large batched matmuls on WebAssembly SIMD micro-kernels
 * (./wasm/simd.ts: dense and sparse, emitted from TypeScript at first use), the fused training passes of
 * src/toy/fused.ts as SIMD kernels (./wasm/output-loss.ts, ./wasm/tied-loss.ts), and a memory the training step's
 * arrays can live in so that all of these work in place (./wasm/memory.ts). Products too small to repay copying
 * their operands (under WASM_MIN_MACS multiply-adds per batch entry) stay on the reference loops; that rule is the
 * backend's definition, so results depend only on the shapes. Products agree with the reference within float32
 * rounding (the kernels sum in float32, the reference in float64 partial sums); the fused passes give their loops'
 * bits; all are deterministic.
 */
import { referenceKernels } from './reference.ts';
import { BackendUnavailableError } from './registry.ts';
import type { AdamUpdateArgs, Kernels, MatmulSpec, OutputLossArgs, TiedLossArgs } from './types.ts';
import { tiedLossModule } from './wasm/tied-loss.ts';
import { copyRowsModule } from './wasm/copy-rows.ts';
import { outputLossModule } from './wasm/output-loss.ts';
import { KernelHeap } from './wasm/memory.ts';
import { transposeModule } from './wasm/transpose.ts';
import { adamModule } from './wasm/adam.ts';
import { blockedModule, blockedTransposedModule, leftPackTable, matmulModule, panelWidth, simdSupported } from './wasm/simd.ts';

/** Below this many multiply-adds per batch entry (m*k*n) the reference loop is as fast as the copies alone. */
export const WASM_MIN_MACS = 1 << 14;

type Kernel = (a: number, b: number, c: number, m: number, k: number, vals: number, addrs: number, table: number) => void;
type BlockedKernel = (a: number, b: number, c: number, m: number) => void;
type BlockedTransposedKernel = (a: number, b: number, c: number, m: number, aRowBytes: number) => void;

export function createWasmKernels(): Kernels {
  if (!simdSupported()) throw new BackendUnavailableError('wasm: this JavaScript engine does not run WebAssembly SIMD (Node >= 16.4 and current browsers do)');
  const heap = new KernelHeap();
  const { memory, shared } = heap;
  // Every module imports this memory; each is compiled once per shape that needs it.
  const instances = new Map<string, Record<string, unknown>>();
  const instantiate = (key: string, bytes: () => Uint8Array): Record<string, unknown> => {
    let exports = instances.get(key);
    if (!exports) {
      exports = new WebAssembly.Instance(new WebAssembly.Module(bytes()), { env: { memory } }).exports;
      instances.set(key, exports);
    }
    return exports;
  };
  const kernelsFor = (np: number) => instantiate(`rows ${np}`, () => matmulModule(np, shared)) as unknown as { nn: Kernel; tn: Kernel };
  const blockedFor = (np: number, k4: number, w: number, bStride: number) => instantiate(`nn4 ${np}x${k4}x${w}/${bStride}`, () => blockedModule(np, k4, shared, w, bStride)).nn4 as unknown as BlockedKernel;
  const blockedTransposedFor = (np: number, k: number, w: number, bStride: number) => instantiate(`tn4 ${np}x${k}x${w}/${bStride}`, () => blockedTransposedModule(np, k, shared, w, bStride)).tn4 as unknown as BlockedTransposedKernel;
  // The sparse kernels' left-packing shuffles live in the reserved floats at the bottom of memory, for good.
  const tableAt = 0;
  new Uint8Array(memory.buffer).set(leftPackTable(), tableAt);
  // Scratch for operands that cannot be used in place, grown as shapes need.
  let scratchAt = 0;
  let scratchFloats = 0;
  const scratch = (floats: number): number => {
    if (floats > scratchFloats) {
      if (scratchFloats > 0) heap.release(scratchAt, scratchFloats);
      scratchAt = heap.alloc(floats);
      scratchFloats = floats;
    }
    return scratchAt;
  };
  const align4 = (floats: number) => (floats + 3) & ~3; // 16-byte alignment of each region
  type CopyRows = (src: number, srcStride: number, dst: number, dstStride: number, rows: number, rowBytes: number, padBytes: number) => void;
  /**
   * rows x cols floats from src (rows srcStride floats apart, from float srcOff) to dst (dstStride apart, from
   * dstOff), each row's dstStride - cols padding zero-filled when `pad`: in WebAssembly when both lie in this
   * memory (one memory.copy a row), else row by row in JavaScript.
   */
  const copyRows = (src: Float32Array, srcOff: number, srcStride: number, dst: Float32Array, dstOff: number, dstStride: number, rows: number, cols: number, pad: boolean) => {
    const [srcAt, dstAt] = [heap.offsetOf(src), heap.offsetOf(dst)];
    if (srcAt !== null && dstAt !== null) {
      const kernel = instantiate('copyRows', () => copyRowsModule(shared)).copyRows as CopyRows;
      return kernel((srcAt + srcOff) * 4, srcStride * 4, (dstAt + dstOff) * 4, dstStride * 4, rows, cols * 4, pad ? (dstStride - cols) * 4 : 0);
    }
    for (let i = 0; i < rows; i++) {
      dst.set(src.subarray(srcOff + i * srcStride, srcOff + i * srcStride + cols), dstOff + i * dstStride);
      if (pad) dst.fill(0, dstOff + i * dstStride + cols, dstOff + (i + 1) * dstStride);
    }
  };

  function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
    const { batch, m, k, n, transA, transB } = s;
    if (m * k * n < WASM_MIN_MACS) return referenceKernels.matmul(a, b, out, s);
    const np = align4(n);
    // Four rows of C at a time (nn4, tn4) when A is dense; when half or more of A is zeros, the sparse kernels,
    // which compact each row's non-zeros first (measured on random [1024 x 100] and [1024 x 400] operands: faster
    // below ~50% non-zeros, 3-6x faster at the paper's 10% and below). A's rows are padded with zeros to a
    // multiple of 4 floats (NN: K, TN: M), B's depth too for NN; the dense NN's last m % 4 rows take the sparse
    // kernel. Chosen for each product of the batch (instances of a sweep differ in density, 1 to 0.05 in the
    // geometry experiment). Every kernel sums over k in order in float32, so the choice never changes a bit.
    // A dense transposed A whose rows lie 2 KiB or more apart is transposed and multiplied by the NN kernel: in
    // place, each step of the TN kernel's inner loop reads a new cache line, all of them in the same few cache
    // sets (1024^3: 22 GFLOP/s against 30). The transpose costs about 1/n of the product, so only for wide B.
    // Only for k % 4 = 0, where the NN kernel runs over exactly k and its sums are the TN kernel's bits.
    const transposeA = transA && k % 4 === 0 && m >= 512 && n >= 256;
    const blockRows = transA && !transposeA ? align4(m) : m - (m % 4); // rows of C the four-row kernels take
    const k4 = transA ? k : align4(k);
    const aCols = transA ? align4(m) : k4; // A's row length in WebAssembly memory
    const [aRows, aRowLength] = transA ? [k, m] : [m, k]; // A as stored
    // Operands already in this memory (the training step's buffers, see KernelHeap) are used where they lie when
    // their rows need no padding; the others are copied to scratch. B is used in place only when not transposed,
    // unpadded, and when no padding rows follow it.
    const aIn = aCols === aRowLength ? heap.offsetOf(a) : null;
    const bIn = !transB && np === n && k4 === k ? heap.offsetOf(b) : null;
    // (not when a dense TN product could write C's rows padded to a multiple of 4 past the output's end)
    // (nor when the output overlaps an operand: the kernels would read what they have written)
    const cIn = np === n && !(transA && m % 4 !== 0) && !overlaps(out, a) && !overlaps(out, b) ? heap.offsetOf(out) : null;
    const listLength = align4(Math.max(aCols, k4)) + 4; // a compacted row, and the slack of its last stores
    const aSize = aIn === null ? align4(aRows * aCols) : 0;
    const bSize = bIn === null ? align4(k4 * np) : 0;
    const cSize = cIn === null ? align4(Math.max(m, aCols) * np) : 0;
    // The four-row kernels cover a panel of `width` columns a call (see panelWidth), packed into consecutive rows
    // of `width` floats when narrower than B; the last panel may be narrower still.
    const width = panelWidth(np, k4);
    const packSize = width < np ? align4(k4 * width) : 0; // one packed panel of B
    // A transposed B is transposed into place by the transpose kernel, from where it lies or from a copy here.
    const bHeap = transB ? heap.offsetOf(b) : null;
    const stageSize = transB && bHeap === null ? align4(n * k) : 0;
    const tSize = transposeA ? align4(m * k) : 0;
    const base = scratch(aSize + bSize + cSize + 2 * listLength + packSize + stageSize + tSize);
    const f = heap.floats; // no allocation below: memory does not grow
    const [aAt, bAt, cAt] = [base, base + aSize, base + aSize + bSize];
    const valsAt = cAt + cSize;
    const addrsAt = valsAt + listLength;
    const { nn, tn } = kernelsFor(np);
    const packAt = addrsAt + listLength;
    const stageAt = packAt + packSize;
    const transposedAt = stageAt + stageSize;
    const panels = (bq: number, cq: number, run: (w: number, b: number, bStride: number, c: number) => void) => {
      if (width === np) return run(np, bq, np, cq);
      for (let j0 = 0; j0 < np; j0 += width) {
        const w = Math.min(width, np - j0);
        for (let p = 0; p < k4; p++) f.copyWithin(packAt + p * w, bq + p * np + j0, bq + p * np + j0 + w);
        run(w, packAt, w, cq + j0);
      }
    };
    const nn4 = (aq: number, bq: number, cq: number, rows: number) =>
      panels(bq, cq, (w, b, bStride, c) => blockedFor(np, k4, w, bStride)(aq * 4, b * 4, c * 4, rows));
    const tn4 = (aq: number, bq: number, cq: number, rows: number, aRowBytes: number) =>
      panels(bq, cq, (w, b, bStride, c) => blockedTransposedFor(np, k, w, bStride)(aq * 4, b * 4, c * 4, rows, aRowBytes));
    if (bIn === null && k4 !== k) f.fill(0, bAt + k * np, bAt + k4 * np); // B's padding rows
    for (let q = 0; q < batch; q++) {
      const aOff = s.aOffsets[q];
      const bOff = s.bOffsets[q];
      const dense = density(a, aOff, m * k) >= 0.5;
      const m4 = dense ? blockRows : 0;
      let aq = aAt;
      if (aIn !== null) aq = aIn + aOff;
      else if (aCols === aRowLength) f.set(a.subarray(aOff, aOff + aRows * aRowLength), aAt);
      else copyRows(a, aOff, aRowLength, f, aAt, aCols, aRows, aRowLength, true);
      // B as k rows of np floats (the padding lanes are never read back).
      let bq = bAt;
      if (bIn !== null) bq = bIn + bOff;
      else if (transB) {
        let from = (bHeap ?? 0) + bOff;
        if (bHeap === null) {
          f.set(b.subarray(bOff, bOff + n * k), stageAt);
          from = stageAt;
        }
        transpose(from, k, bAt, np, n, k);
      } else if (np === n) f.set(b.subarray(bOff, bOff + k * n), bAt);
      else copyRows(b, bOff, n, f, bAt, np, k, n, false);
      const cq = cIn === null ? cAt : cIn + q * m * n;
      // (a dense A to transpose becomes an NN product's m x k A, rows k = k4 floats long)
      const viaTranspose = transA && dense && transposeA;
      if (viaTranspose) {
        transpose(aq, aCols, transposedAt, k, k, m);
        aq = transposedAt;
      }
      if (transA && !viaTranspose && dense) tn4(aq, bq, cq, m4, aCols * 4);
      else if (transA && !viaTranspose) {
        f.fill(0, cq, cq + m * np);
        tn(aq * 4, bq * 4, cq * 4, aCols, k, valsAt * 4, addrsAt * 4, tableAt);
      } else {
        if (m4 > 0) nn4(aq, bq, cq, m4);
        if (m4 < m) nn((aq + m4 * k4) * 4, bq * 4, (cq + m4 * np) * 4, m - m4, k4, valsAt * 4, addrsAt * 4, tableAt);
      }
      if (cIn !== null) continue;
      const o = q * m * n;
      if (np === n) out.set(f.subarray(cAt, cAt + m * n), o);
      else copyRows(f, cAt, np, out, o, n, m, n, false);
    }
  }

  type TransposeKernel = (src: number, srcRowBytes: number, dst: number, dstRowBytes: number, rows: number, cols: number) => void;
  /**
   * dst[j][i] = src[i][j] for i < rows, j < cols, between float offsets of this memory with rows srcStride and
   * dstStride floats long: the kernel takes the 4 x 4 blocks, a loop the edges.
   */
  function transpose(src: number, srcStride: number, dst: number, dstStride: number, rows: number, cols: number): void {
    const [rows4, cols4] = [rows & ~3, cols & ~3];
    const f = heap.floats;
    if (rows4 > 0 && cols4 > 0) (instantiate('transpose', () => transposeModule(shared)).transpose as TransposeKernel)(src * 4, srcStride * 4, dst * 4, dstStride * 4, rows4, cols4);
    for (let i = 0; i < rows; i++) for (let j = i < rows4 ? cols4 : 0; j < cols; j++) f[dst + j * dstStride + i] = f[src + i * srcStride + j];
  }

  type OutputLossKernel = (pre: number, bias: number, target: number, imp: number, scaledImp: number, dPre: number, acc: number, rows: number, n: number) => number;
  function reluOutputLoss({ pre, bias, target, imp, impPerInstance, I, B, n, out, dPre, dB }: OutputLossArgs): boolean {
    const [preAt, targetAt, dPreAt] = [heap.offsetOf(pre), heap.offsetOf(target), heap.offsetOf(dPre)];
    if (preAt === null || targetAt === null || dPreAt === null || n % 4 !== 0) return false; // copies would cost more than the loop saves
    const kernel = instantiate('outputLoss', () => outputLossModule(shared)).outputLoss as OutputLossKernel;
    const at = scratch(7 * n); // bias [n] float32; imp, scaled imp, acc [n] float64
    const f = heap.floats;
    const doubles = new Float64Array(memory.buffer, (at + n) * 4, 3 * n);
    const scale = 2 / (B * n); // importanceMse's (1 * 2 * g) / (B n) at g = 1, as the op's loop
    for (let i = 0; i < I; i++) {
      const w0 = impPerInstance ? i * n : 0;
      for (let j = 0; j < n; j++) {
        doubles[j] = imp[w0 + j];
        doubles[n + j] = scale * doubles[j];
        doubles[2 * n + j] = 0;
      }
      f.set(bias.subarray(i * n, (i + 1) * n), at);
      const o = i * B * n;
      const loss = kernel((preAt + o) * 4, at * 4, (targetAt + o) * 4, (at + n) * 4, (at + 3 * n) * 4, (dPreAt + o) * 4, (at + 5 * n) * 4, B, n);
      out[i] = loss / (B * n);
      for (let j = 0; j < n; j++) dB[i * n + j] = doubles[2 * n + j];
    }
    return true;
  }

  type TiedForward = (x: number, W: number, b: number, imp: number, impStride: number, I: number, B: number, out: number) => void;
  type TiedBackward = (x: number, W: number, b: number, imp: number, impStride: number, g: number, I: number, B: number, dW: number, db: number) => void;
  function tiedReluLoss({ x, W, b, imp, impStride, I, B, n, m, out, g, dW, db }: TiedLossArgs): boolean {
    const xAt = heap.offsetOf(x);
    if (xAt === null) return false; // copying the batch in would cost more than the kernel saves
    const kernels = instantiate(`tied ${n}x${m}`, () => tiedLossModule(n, m, shared)) as { forward: TiedForward; backward: TiedBackward };
    // The small arrays go through scratch: W, b, imp, g in; out or dW and db back.
    // (outAt holds out [I] or dW [I n m])
    const wAt = scratch(2 * align4(W.length) + 2 * align4(b.length) + align4(imp.length) + align4(I));
    const bAt = wAt + align4(W.length);
    const impAt = bAt + align4(b.length);
    const gAt = impAt + align4(imp.length);
    const outAt = gAt + align4(I);
    const dbAt = outAt + align4(W.length);
    const f = heap.floats;
    f.set(W, wAt);
    f.set(b, bAt);
    f.set(imp, impAt);
    if (out) {
      kernels.forward(xAt * 4, wAt * 4, bAt * 4, impAt * 4, impStride, I, B, outAt * 4);
      out.set(f.subarray(outAt, outAt + I));
    } else {
      f.set(g!, gAt);
      kernels.backward(xAt * 4, wAt * 4, bAt * 4, impAt * 4, impStride, gAt * 4, I, B, outAt * 4, dbAt * 4);
      dW!.set(f.subarray(outAt, outAt + W.length));
      db!.set(f.subarray(dbAt, dbAt + b.length));
    }
    return true;
  }

  type AdamKernel = (w: number, g: number, m: number, v: number, count: number, scalars: number) => void;
  /**
   * Adam's update in WebAssembly: the four arrays copied in (or used where they lie in this memory), updated,
   * and w, m, v copied back. Arrays whose length is not a multiple of 4 (small bias vectors) are left to the
   * optimizer's loop.
   */
  function adamUpdate({ w, g, m, v, b1, b2, eps, stepSize, bc2Sqrt, decay, l2 }: AdamUpdateArgs): boolean {
    const count = w.length;
    if (count % 4 !== 0 || g.length !== count || m.length !== count || v.length !== count) return false;
    const kernel = instantiate('adam', () => adamModule(shared)).adam as AdamKernel;
    const arrays = [w, g, m, v];
    const inPlace = arrays.map((a) => heap.offsetOf(a));
    const copied = inPlace.filter((at) => at === null).length;
    const at = scratch(18 + copied * count); // the nine float64 scalars, then the arrays that are copied
    new Float64Array(memory.buffer, at * 4, 9).set([l2, decay, b1, 1 - b1, b2, 1 - b2, stepSize, bc2Sqrt, eps]);
    const f = heap.floats;
    let next = at + 18;
    const where = arrays.map((a, j) => {
      const lies = inPlace[j];
      if (lies !== null) return lies;
      f.set(a, next);
      next += count;
      return next - count;
    });
    kernel(where[0] * 4, where[1] * 4, where[2] * 4, where[3] * 4, count, at * 4);
    arrays.forEach((a, j) => {
      if (j !== 1 && inPlace[j] === null) a.set(f.subarray(where[j], where[j] + count)); // not g: read only
    });
    return true;
  }

  // Arrays in this memory are only offered where they survive its growth (see KernelHeap).
  const offsets = new WeakMap<Float32Array, number>();
  const kernelMemory = shared
    ? {
        allocate(length: number): Float32Array {
          const at = heap.alloc(length);
          const array = new Float32Array(memory.buffer, at * 4, length).fill(0);
          offsets.set(array, at);
          return array;
        },
        release(array: Float32Array): void {
          const at = offsets.get(array);
          if (at === undefined) throw new Error('wasm backend: release() of an array that allocate() did not give');
          offsets.delete(array);
          heap.release(at, array.length);
        },
      }
    : undefined;
  return { ...referenceKernels, name: 'wasm', matmul, reluOutputLoss, tiedReluLoss, adamUpdate, ...(kernelMemory ? { memory: kernelMemory } : {}) };
}

/** Whether two arrays share any bytes. */
function overlaps(x: Float32Array, y: Float32Array): boolean {
  return x.buffer === y.buffer && x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/**
 * The share of non-zeros among 512 entries of a[from, from + length), at golden-ratio positions: a stride would
 * alias with the row length (a stride of 400 on rows of 100 features sees only feature 0).
 */
function density(a: Float32Array, from: number, length: number): number {
  const samples = Math.min(512, length);
  let nonZero = 0;
  for (let j = 0; j < samples; j++) if (a[from + Math.floor(((j * 0.6180339887498949) % 1) * length)] !== 0) nonZero++;
  return nonZero / Math.max(1, samples);
}
