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
import { blockedModule, blockedTransposedModule, matmulModule, simdSupported } from './wasm/simd.ts';

/** Below this many multiply-adds per batch entry (m*k*n) the reference loop is as fast as the copies alone. */
export const WASM_MIN_MACS = 1 << 14;

type Kernel = (a: number, b: number, c: number, m: number, k: number) => void;
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
  const align4 = (floats: number) => (floats + 3) & ~3; // 16-byte alignment of each region

  function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
    const { batch, m, k, n, transA, transB } = s;
    if (m * k * n < WASM_MIN_MACS) return referenceKernels.matmul(a, b, out, s);
    const np = align4(n);
    // Four rows of C at a time (nn4, tn4) unless zeros in A make the zero-skipping kernels faster: below ~20%
    // non-zeros for NN (the paper's inputs), below ~75% for TN, whose rank-1 updates skip whole rows of work
    // (measured on [1024 x 400] operands). NN: A's rows and B's depth padded to a multiple of 4 with zeros, the last
    // m % 4 rows on the row kernel; TN: A's columns padded to a multiple of 4. Every kernel sums over k in order in
    // float32, so the choice never changes a bit.
    const dense = density(a, s.aOffsets[0], m * k) >= (transA ? 0.75 : 0.2);
    const m4 = dense ? (transA ? align4(m) : m - (m % 4)) : 0;
    const k4 = dense && !transA ? align4(k) : k;
    const aCols = transA && dense ? m4 : m; // A's row length in WebAssembly memory: k4 (NN) or the padded m (TN)
    const aAt = 0;
    const bAt = align4(transA ? k * aCols : m * k4);
    const cAt = bAt + align4(k4 * np);
    ensure(cAt + Math.max(m, m4) * np);
    const { nn, tn } = kernelsFor(np);
    const nn4 = dense && !transA && m4 > 0 ? blockedFor(np, k4) : null;
    const tn4 = dense && transA ? blockedTransposedFor(np, k) : null;
    if (k4 !== k) heap.fill(0, bAt + k * np, bAt + k4 * np); // B's padding rows
    for (let q = 0; q < batch; q++) {
      const aOff = s.aOffsets[q];
      const bOff = s.bOffsets[q];
      // A: rows of `rowLength` floats (m * k as stored), each padded with zeros to `padded`.
      const [rows, rowLength, padded] = transA ? [k, m, aCols] : [m, k, k4];
      if (padded === rowLength) heap.set(a.subarray(aOff, aOff + rows * rowLength), aAt);
      else {
        for (let i = 0; i < rows; i++) {
          heap.set(a.subarray(aOff + i * rowLength, aOff + (i + 1) * rowLength), aAt + i * padded);
          heap.fill(0, aAt + i * padded + rowLength, aAt + (i + 1) * padded);
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
        tn(aAt * 4, bAt * 4, cAt * 4, m, k);
      } else {
        if (nn4) nn4(aAt * 4, bAt * 4, cAt * 4, m4);
        if (m4 < m) nn((aAt + m4 * k4) * 4, bAt * 4, (cAt + m4 * np) * 4, m - m4, k4);
      }
      const o = q * m * n;
      if (np === n) out.set(heap.subarray(cAt, cAt + m * n), o);
      else for (let i = 0; i < m; i++) out.set(heap.subarray(cAt + i * np, cAt + i * np + n), o + i * n);
    }
  }

  return { ...referenceKernels, name: 'wasm', matmul };
}

/** The share of non-zeros among ~256 entries spread over a[from, from + length). */
function density(a: Float32Array, from: number, length: number): number {
  const stride = Math.max(1, Math.floor(length / 256));
  let seen = 0;
  let nonZero = 0;
  for (let i = from; i < from + length && i < a.length; i += stride, seen++) if (a[i] !== 0) nonZero++;
  return nonZero / Math.max(1, seen);
}
