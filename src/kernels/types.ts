/**
 * The kernel interface: everything the autograd ops need from a compute backend, on flat row-major
 * Float32Arrays. A backend knows nothing of tensors or gradients. The reference backend (`reference.ts`)
 * is the specification; every other backend is tested against it.
 */
import type { Shape } from './shape.ts';

/** Elementwise maps of one array. `pow` takes its constant exponent as `param`. */
export type UnaryOp = 'neg' | 'relu' | 'abs' | 'exp' | 'log' | 'pow' | 'step' | 'sign';

/**
 * Elementwise maps of two broadcast arrays. `maxMask` is the derivative of maximum(a, b) with respect to a:
 * 1 where a > b, 0 where a < b, 1/2 at ties (PyTorch splits the gradient evenly at ties).
 */
export type BinaryOp = 'add' | 'sub' | 'mul' | 'div' | 'maximum' | 'maxMask';

/**
 * A batch of matrix products out[b] = op(A[b]) · op(B[b]), where op transposes when the flag is set.
 * op(A[b]) is m x k and op(B[b]) is k x n. A[b] starts at a[aOffsets[b]] and is stored m x k (or k x m when
 * transA); B[b] starts at b[bOffsets[b]] and is stored k x n (or n x k when transB). The output is
 * [batch, m, n] contiguous. Offsets (rather than one stride) let the op front-end broadcast batch dimensions.
 */
export interface MatmulSpec {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA: boolean;
  transB: boolean;
  aOffsets: Int32Array;
  bOffsets: Int32Array;
}

/** A product over `batch` independent pairs stored one after another: op(A_q) is m x k, op(B_q) is k x n. */
export function batchedSpec(batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulSpec {
  return {
    batch, m, k, n, transA, transB,
    aOffsets: Int32Array.from({ length: batch }, (_, q) => q * m * k),
    bOffsets: Int32Array.from({ length: batch }, (_, q) => q * k * n),
  };
}

/** A compute backend: the primitives the autograd ops run on, over flat row-major Float32Arrays. */
export interface Kernels {
  /** Short name printed wherever results are reported, e.g. "js". */
  readonly name: string;
  /** Where the products run when that is not this CPU, e.g. a WebGPU adapter; printed beside the name. */
  readonly device?: string;
  /** out = the batch of matrix products that `spec` describes. */
  matmul(a: Float32Array, b: Float32Array, out: Float32Array, spec: MatmulSpec): void;
  /** out = op(x) elementwise; `param` is the exponent for `pow`. */
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, param?: number): void;
  /** out (contiguous, shape `shape`) = a op b, reading a and b with the given strides (0 on broadcast axes). */
  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[], out: Float32Array, shape: Shape): void;
  /** out (contiguous, shape `shape`) = x read with `xStrides`: serves broadcast (stride 0) and permute. */
  copyStrided(x: Float32Array, xStrides: readonly number[], out: Float32Array, shape: Shape): void;
  /** out[j] = sum of x[i] over all i of x (contiguous, shape `xShape`) with j = sum_d i_d * outStrides[d]. */
  sum(x: Float32Array, xShape: Shape, out: Float32Array, outStrides: readonly number[]): void;
  /**
   * Where the backend's kernels read and write arrays in place (the wasm backend's WebAssembly memory): arrays
   * from here skip the copies into and out of that memory. Absent when the backend has no such memory or cannot
   * share it (a page without cross-origin isolation: the kernels then copy, with the same results).
   */
  readonly memory?: KernelMemory;
  /**
   * The fused output layer and loss of src/toy/fused.ts (reluOutputLoss, whose loop is the specification) with that
   * loop's bits, when the backend has it and can run it on these arrays; false otherwise (the op runs its loop).
   */
  reluOutputLoss?(args: OutputLossArgs): boolean;
  /**
   * The small tied models' fused loss (src/toy/fused.ts's tiedReluLoss, whose loops are the specification) with
   * those loops' bits: the forward pass when `out` is given, the backward pass when `g`, `dW` and `db` are; false
   * when the backend cannot run it on these arrays (the op runs its loops).
   */
  tiedReluLoss?(args: TiedLossArgs): boolean;
  /**
   * One Adam / AdamW update of one parameter array in place (src/toy/optim.ts's loop, the specification) with that
   * loop's bits; false when the backend has no such kernel (the optimizer runs its loop).
   */
  adamUpdate?(args: AdamUpdateArgs): boolean;
}

/**
 * Adam's update of w from its gradient g, moments m and v (all of one length, updated in place), with the step's
 * scalars (src/toy/optim.ts's adamStepScalars): gi = g + l2 w; w *= decay; m = b1 m + (1 - b1) gi;
 * v = b2 v + (1 - b2) gi^2; w -= stepSize m / (sqrt(v) / bc2Sqrt + eps), in float64, each array rounded to
 * float32 where it is stored.
 */
export interface AdamUpdateArgs {
  w: Float32Array;
  g: Float32Array;
  m: Float32Array;
  v: Float32Array;
  b1: number;
  b2: number;
  eps: number;
  stepSize: number;
  bc2Sqrt: number;
  decay: number;
  l2: number;
}

/** One pass of the small tied models' loss over x [I, B, n] with W [I, n, m], b [I, n], imp [n] or [I, n]. */
export interface TiedLossArgs {
  x: Float32Array;
  W: Float32Array;
  b: Float32Array;
  imp: Float32Array;
  /** 0 for importances shared by all instances, n for one row each */
  impStride: number;
  I: number;
  B: number;
  n: number;
  m: number;
  /** Forward: the losses [I]. */
  out?: Float32Array;
  /** Backward: the upstream gradient [I], and the gradients' outputs. */
  g?: Float32Array;
  dW?: Float32Array;
  db?: Float32Array;
}

/**
 * One forward pass of the fused output layer and loss over [I, B, n] arrays: out[i] = the mean over rows and features
 * of imp (target - relu(pre + bias))^2; dPre = its gradient for a unit upstream gradient, dB = dPre's sum over rows.
 */
export interface OutputLossArgs {
  pre: Float32Array;
  /** [I, n] */
  bias: Float32Array;
  target: Float32Array;
  /** [n], or [I, n] when impPerInstance */
  imp: Float32Array;
  impPerInstance: boolean;
  I: number;
  B: number;
  n: number;
  /** [I] */
  out: Float32Array;
  dPre: Float32Array;
  /** [I, n] */
  dB: Float32Array;
}

/** Arrays inside a backend's memory; see Kernels.memory. */
export interface KernelMemory {
  /** A zero-filled array of `length` floats that stays valid until released. */
  allocate(length: number): Float32Array;
  /** Give back an array from allocate(); it must not be used afterwards. */
  release(array: Float32Array): void;
}

/** An array in a compute device's memory (a texture, a buffer), or a host array where the backend keeps none. */
export type DeviceArray = Float32Array | {
  /** Copy the values to the host. */
  toArray(): unknown;
  /** Free the device memory. */
  delete(): void;
};

/**
 * A backend with memory of its own (the gpu.js ones): operands uploaded once and products chained there, read
 * back only when the host needs them. Results are immutable; free them with `.delete()` when done.
 */
export interface DeviceKernels extends Kernels {
  /** Upload a host array to the device. */
  toDevice(x: Float32Array): DeviceArray;
  /** matmul whose operands and result stay on the device; aLength/bLength are the operands' element counts. */
  matmulOnDevice(a: DeviceArray, b: DeviceArray, spec: MatmulSpec, aLength: number, bLength: number): DeviceArray;
  /** Copy a device array back to the host. */
  readBack(x: DeviceArray): Float32Array;
}

/** Whether a backend keeps memory of its own (chains products on the device). */
export function hasDevice(k: Kernels): k is DeviceKernels {
  return 'matmulOnDevice' in k;
}
