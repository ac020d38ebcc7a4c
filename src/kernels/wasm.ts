/**
 * The `wasm` backend: the reference backend with its large batched matmuls on WebAssembly SIMD micro-kernels
 * (./wasm/simd.ts, emitted from TypeScript at first use; one module per padded output width). Products too small
 * to repay copying the operands into WebAssembly memory (under WASM_MIN_MACS multiply-adds per batch entry)
 * stay on the reference loops; that rule is the backend's definition, so results depend only on the shapes.
 * Everything else is the reference backend's. Results agree with the reference within float32 rounding (the
 * kernels sum in float32, the reference in float64 partial sums) and are deterministic.
 */
import { referenceKernels } from './reference.ts';
import { BackendUnavailableError } from './registry.ts';
import type { Kernels, MatmulSpec } from './types.ts';
import { growTo } from './wasm/emit.ts';
import { blockedModule, blockedTransposedModule, leftPackTable, matmulModule, simdSupported } from './wasm/simd.ts';

/** Below this many multiply-adds per batch entry (m*k*n) the reference loop is as fast as the copies alone. */
export const WASM_MIN_MACS = 1 << 14;

type Kernel = (a: number, b: number, c: number, m: number, k: number, vals: number, addrs: number, table: number) => void;
type BlockedKernel = (a: number, b: number, c: number, m: number) => void;
type BlockedTransposedKernel = (a: number, b: number, c: number, m: number, aRowBytes: number) => void;

export function createWasmKernels(): Kernels {
  if (!simdSupported()) throw new BackendUnavailableError('wasm: this JavaScript engine does not run WebAssembly SIMD (Node >= 16.4 and current browsers do)');
  const memory = new WebAssembly.Memory({ initial: 16 });
  let heap = new Float32Array(memory.buffer);
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
  const kernelsFor = (np: number) => instantiate(`rows ${np}`, () => matmulModule(np)) as unknown as { nn: Kernel; tn: Kernel };
  const blockedFor = (np: number, k4: number) => instantiate(`nn4 ${np}x${k4}`, () => blockedModule(np, k4)).nn4 as unknown as BlockedKernel;
  const blockedTransposedFor = (np: number, k: number) => instantiate(`tn4 ${np}x${k}`, () => blockedTransposedModule(np, k)).tn4 as unknown as BlockedTransposedKernel;
  const ensure = (floats: number) => {
    growTo(memory, floats * 4);
    if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
  };
  // The sparse kernels' left-packing shuffles live in the first 256 bytes, for good.
  const tableAt = 0;
  new Uint8Array(memory.buffer).set(leftPackTable(), tableAt);
  const operandsAt = 64; // floats
  const align4 = (floats: number) => (floats + 3) & ~3; // 16-byte alignment of each region

  function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
    const { batch, m, k, n, transA, transB } = s;
    if (m * k * n < WASM_MIN_MACS) return referenceKernels.matmul(a, b, out, s);
    const np = align4(n);
    // Four rows of C at a time (nn4, tn4) when A is dense; when half or more of A is zeros, the sparse kernels,
    // which compact each row's non-zeros first (measured on random [1024 x 100] and [1024 x 400] operands: faster
    // below ~50% non-zeros, 3-6x faster at the paper's 10% and below). A's rows are padded with zeros to a
    // multiple of 4 floats (NN: K, TN: M), B's depth too for NN; the dense NN's last m % 4 rows take the sparse
    // kernel. Every kernel sums over k in order in float32, so the choice never changes a bit.
    const dense = density(a, s.aOffsets[0], m * k) >= 0.5;
    const m4 = dense ? (transA ? align4(m) : m - (m % 4)) : 0;
    const k4 = transA ? k : align4(k);
    const aCols = transA ? align4(m) : k4; // A's row length in WebAssembly memory
    const aAt = operandsAt;
    const bAt = aAt + align4(transA ? k * aCols : m * k4);
    const cAt = bAt + align4(k4 * np);
    const listLength = align4(Math.max(aCols, k4)) + 4; // a compacted row, and the slack of its last stores
    const valsAt = cAt + align4(Math.max(m, aCols) * np);
    const addrsAt = valsAt + listLength;
    ensure(addrsAt + listLength);
    const { nn, tn } = kernelsFor(np);
    const nn4 = dense && !transA && m4 > 0 ? blockedFor(np, k4) : null;
    const tn4 = dense && transA ? blockedTransposedFor(np, k) : null;
    if (k4 !== k) heap.fill(0, bAt + k * np, bAt + k4 * np); // B's padding rows
    for (let q = 0; q < batch; q++) {
      const aOff = s.aOffsets[q];
      const bOff = s.bOffsets[q];
      // A: rows of `rowLength` floats (m * k as stored), each padded with zeros to `aCols`.
      const [rows, rowLength] = transA ? [k, m] : [m, k];
      if (aCols === rowLength) heap.set(a.subarray(aOff, aOff + rows * rowLength), aAt);
      else {
        for (let i = 0; i < rows; i++) {
          heap.set(a.subarray(aOff + i * rowLength, aOff + (i + 1) * rowLength), aAt + i * aCols);
          heap.fill(0, aAt + i * aCols + rowLength, aAt + (i + 1) * aCols);
        }
      }
      // B as k rows of np floats (the padding lanes are never read back).
      if (transB) {
        for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) heap[bAt + p * np + j] = b[bOff + j * k + p];
      } else if (np === n) heap.set(b.subarray(bOff, bOff + k * n), bAt);
      else for (let p = 0; p < k; p++) heap.set(b.subarray(bOff + p * n, bOff + (p + 1) * n), bAt + p * np);
      if (tn4) tn4(aAt * 4, bAt * 4, cAt * 4, m4, aCols * 4);
      else if (transA) {
        heap.fill(0, cAt, cAt + m * np);
        tn(aAt * 4, bAt * 4, cAt * 4, aCols, k, valsAt * 4, addrsAt * 4, tableAt);
      } else {
        if (nn4) nn4(aAt * 4, bAt * 4, cAt * 4, m4);
        if (m4 < m) nn((aAt + m4 * k4) * 4, bAt * 4, (cAt + m4 * np) * 4, m - m4, k4, valsAt * 4, addrsAt * 4, tableAt);
      }
      const o = q * m * n;
      if (np === n) out.set(heap.subarray(cAt, cAt + m * n), o);
      else for (let i = 0; i < m; i++) out.set(heap.subarray(cAt + i * np, cAt + i * np + n), o + i * n);
    }
  }

  return { ...referenceKernels, name: 'wasm', matmul };
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
