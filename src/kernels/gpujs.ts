/**
 * The gpu.js backend: batched matmul (both transpose flags, per-batch offsets) as gpu.js kernels; elementwise
 * ops, sums and strided copies run on the reference backend (they are memory-bound and a round trip to the
 * device would cost more than the work). The backend's name says so: 'gpujs:webasm' means "matmul on gpu.js's
 * WebAssembly backend, the rest on js".
 *
 * What gpu.js does that this file works around (measured, see the README's GPU section):
 * - 2-D/3-D outputs come back as nested arrays, 70-150x slower for skinny shapes: every kernel has a flat 1-D
 *   output and does its own index math.
 * - A loop bounded by an argument is silently cut at `loopMaxIterations` (default 1000): the inner dimension is
 *   a constant of the kernel and `loopMaxIterations` is set to it.
 * - Changing argument sizes between calls throws (webasm, GL) or silently gives wrong numbers (cpu with `Input`):
 *   a kernel is built per (transpose flags, batch, m, k, n, operand lengths) and memoised, inputs are plain
 *   Float32Arrays, never `Input`.
 * - gpu.js falls back to other kernel classes with only a console.warn (webasm -> cpu) or silently ('gpu' in
 *   Node without a GL context -> webasm): the kernel class that really ran is checked after each build.
 * - GL backends silently degrade to 8-bit 'unsigned' precision without float textures: precision is forced to
 *   'single' (gpu.js then throws instead of degrading) and checked.
 *
 * This file does not import gpu.js: the caller hands over the loaded module (Node: `await import('gpu.js')`
 * in `useBackend`; a browser page: the `GPU` global of gpu-browser.js), so nothing loads until asked for.
 */
import { referenceKernels } from './reference.ts';
import { BackendUnavailableError } from './registry.ts';
import type { DeviceArray, DeviceKernels, MatmulSpec } from './types.ts';
import { webglTraining } from './device/webgl-trainer.ts';
import type { DeviceTraining } from './device/training.ts';
import { webglInfo } from './webgl-info.ts';

/** A gpu.js backend: 'gpu' (WebGL, or headless GL in Node), 'webgpu', 'webasm' (WebAssembly) or 'cpu' (plain JS). */
export type GpujsMode = 'gpu' | 'webgpu' | 'webasm' | 'cpu';
/** The gpu.js modes, each selectable as the backend 'gpujs:<mode>'. */
export const GPUJS_MODES: readonly GpujsMode[] = ['gpu', 'webgpu', 'webasm', 'cpu'];

/** The parts of gpu.js's module this backend uses (typed loosely: gpu.js's own typings are incomplete). */
export interface GpujsModule {
  GPU: new (settings: { mode: string }) => GpujsInstance;
}
/** A gpu.js `GPU` instance: the kernel class it chose, and kernel creation. */
export interface GpujsInstance {
  Kernel: { name: string } | null;
  /** Build a kernel from its source text (a function expression) and gpu.js settings. */
  createKernel(source: string, settings: Record<string, unknown>): GpujsKernel;
  /** Free the instance and every kernel it built. */
  destroy(): void;
}
/** A built gpu.js kernel: callable with its arguments, returning its output. */
export interface GpujsKernel {
  /** Run the kernel; the result is a flat array, or a device-resident one in pipeline mode. */
  (...args: unknown[]): unknown;
  kernel: { constructor: { name: string }; precision?: string; fallbackReason?: string; context?: unknown };
  /** Free the kernel's device resources. */
  destroy?(removeCanvasReferences?: boolean): void;
}

/** Which gpu.js kernel classes count as each mode; anything else is a fallback and an error. */
const EXPECTED_CLASSES: Record<GpujsMode, readonly string[]> = {
  gpu: ['WebGL2Kernel', 'WebGLKernel', 'HeadlessGLKernel'],
  webgpu: ['WebGPUKernel'],
  webasm: ['WebAssemblyKernel'],
  cpu: ['CPUKernel'],
};

/**
 * GL shaders index with float32: integer indices are exact below 2^24, and the kernel's division of the thread
 * index into (batch, row, column) is exact below 2^23 (see `matmulSource`). Larger problems are refused.
 */
const MAX_INDEX = 2 ** 23;

/**
 * The matmul kernel, one output element per thread over a flat [batch * m * n] output. A string, not a
 * function: gpu.js parses `fn.toString()`, and tsx/esbuild rewrite nested named functions (`__name`) in ways
 * gpu.js cannot parse. Everything shape-like is a constant (baked in at the first build, which is why kernels
 * are memoised per shape); the loop bound is the constant k, with `loopMaxIterations` = k as well.
 *
 * The thread index t is split with floor((t + 0.5) / mn): t and mn are integers, so the quotient is at least
 * 0.5/mn away from an integer, more than float32's rounding error while t < 2^23; on GL (float) backends a plain
 * floor(t / mn) can land on the wrong side of an integer.
 *
 * A's element (i, p) is a[aOff + i*sai + p*sap] and B's (p, j) is b[bOff + p*sbp + j*sbj], so one source
 * serves all four transpose variants.
 */
export const matmulSource = `function (a, b, aOff, bOff) {
  const mn = this.constants.m * this.constants.n;
  const t = this.thread.x;
  const q = Math.floor((t + 0.5) / mn);
  const r = t - q * mn;
  const i = Math.floor((r + 0.5) / this.constants.n);
  const j = r - i * this.constants.n;
  const ab = aOff[q] + i * this.constants.sai;
  const bb = bOff[q] + j * this.constants.sbj;
  let s = 0;
  for (let p = 0; p < this.constants.k; p++) {
    s += a[ab + p * this.constants.sap] * b[bb + p * this.constants.sbp];
  }
  return s;
}`;

/** Memo key of a matmul kernel: everything gpu.js bakes in at the first build. */
export function matmulKernelKey(s: MatmulSpec, aLen: number, bLen: number, pipeline: boolean): string {
  return `${+s.transA}${+s.transB}:${s.batch}x${s.m}x${s.k}x${s.n}:${aLen}:${bLen}${pipeline ? ':pipeline' : ''}`;
}

/**
 * gpu.js settings of the matmul kernel for one shape (every mode, also the WebGPU worker). Pipeline kernels keep
 * their result on the device, each result in its own buffer/texture (`immutable`): a pipelined kernel otherwise
 * reuses its output on the next call, which would overwrite activations a backward pass still needs.
 */
export function matmulKernelSettings(s: MatmulSpec, aLen: number, bLen: number, pipeline: boolean): Record<string, unknown> {
  checkMatmulSize(s, aLen, bLen);
  const size = s.batch * s.m * s.n;
  return {
    output: [size],
    constants: {
      m: s.m, n: s.n, k: s.k,
      sai: s.transA ? 1 : s.k, sap: s.transA ? s.m : 1,
      sbp: s.transB ? 1 : s.n, sbj: s.transB ? s.k : 1,
    },
    loopMaxIterations: Math.max(1, s.k),
    precision: 'single',
    tactic: 'precision',
    ...(pipeline ? { pipeline: true, immutable: true } : {}),
  };
}

/** Problems whose indices float32 shaders cannot hold exactly are refused (RangeError). */
export function checkMatmulSize(s: MatmulSpec, aLen: number, bLen: number): void {
  if (s.batch * s.m * s.n >= MAX_INDEX || aLen >= MAX_INDEX || bLen >= MAX_INDEX) {
    throw new RangeError(`gpujs matmul: batch=${s.batch} m=${s.m} k=${s.k} n=${s.n} with operands of ${aLen} and ${bLen} elements exceeds the ${MAX_INDEX} elements float32 shader indexing handles exactly`);
  }
}

/**
 * The checks and cases every gpu.js matmul handles before going to the device: an output too short is an
 * error; an empty product, or k = 0 (a sum of nothing: zeros), is done here. Returns true when `out` is done.
 */
export function matmulDoneOnHost(out: Float32Array, s: MatmulSpec): boolean {
  const size = s.batch * s.m * s.n;
  if (out.length < size) throw new RangeError(`gpujs matmul: output has ${out.length} elements, needs ${size} (batch=${s.batch} m=${s.m} n=${s.n})`);
  if (size > 0 && s.k === 0) out.fill(0, 0, size);
  return size === 0 || s.k === 0;
}

/** The copy kernel that puts a host array on the device (a pipelined, immutable result). */
export const uploadSource = 'function (x) { return x[this.thread.x]; }';
/** gpu.js settings of the upload kernel for an array of `length` elements. */
export function uploadKernelSettings(length: number): Record<string, unknown> {
  return { output: [length], precision: 'single', pipeline: true, immutable: true };
}

export { BackendUnavailableError };

/**
 * gpu.js's `GPU` class where a page or worker loaded gpu.js's browser build (it defines the global), else null.
 * Chromium's pages and workers already have a `GPU` (WebGPU's interface): gpu.js's is the one with createKernel.
 */
export function gpujsGlobal(): GpujsModule['GPU'] | null {
  const global = (globalThis as { GPU?: { prototype?: { createKernel?: unknown } } }).GPU;
  return typeof global?.prototype?.createKernel === 'function' ? (global as unknown as GpujsModule['GPU']) : null;
}

export type { DeviceArray };

/**
 * The gpu.js backend: matmul on gpu.js, the rest on the reference backend; with device-resident products in
 * gpu.js pipeline mode (textures on GL, buffers on WebGPU, plain arrays on webasm and cpu).
 */
export interface GpujsKernels extends DeviceKernels {
  readonly mode: GpujsMode;
  /** The gpu.js kernel class that ran matmul, e.g. 'WebAssemblyKernel' or 'WebGL2Kernel' (checked, not assumed). */
  readonly kernelClass: string;
  /** The precision gpu.js gave the kernels ('single' is required on GL). */
  readonly precision: string;
  /** How many distinct matmul kernels are built (one per shape). */
  readonly cachedKernels: number;
  /** The device trainer: gpujs:gpu in a browser with WebGL2 (device/webgl-trainer.ts). */
  readonly training?: DeviceTraining;
  /** Free every kernel built and the gpu.js instance; the backend is unusable afterwards. */
  destroy(): void;
}

/**
 * Create the gpu.js backend for `mode` from a loaded gpu.js module. Throws BackendUnavailableError, saying why,
 * when the mode cannot run here; it never hands back a backend that would run somewhere else.
 */
export function createGpujsKernels(gpujs: GpujsModule, mode: GpujsMode): GpujsKernels {
  if (!GPUJS_MODES.includes(mode)) {
    throw new BackendUnavailableError(`gpujs: unknown mode '${mode}' (allowed: ${GPUJS_MODES.join(', ')})`);
  }
  if (mode === 'webgpu') {
    // gpu.js reads WebGPU results back only through Promises (GPUBuffer.mapAsync), and a thread cannot block on
    // its own Promise: useBackend('gpujs:webgpu') runs the device in a worker and waits on it (webgpu-bridge.ts).
    throw new BackendUnavailableError(
      "gpujs:webgpu cannot run on this thread: gpu.js reads WebGPU results back only asynchronously (mapAsync), and the kernels interface is synchronous. useBackend('gpujs:webgpu') runs it in a worker (a worker thread in Node; from a Web Worker in a browser)",
    );
  }
  let gpu: GpujsInstance;
  try {
    gpu = new gpujs.GPU({ mode });
  } catch (e) {
    throw new BackendUnavailableError(`gpujs:${mode} cannot start: ${(e as Error).message}${modeHint(mode)}`);
  }
  const chosen = gpu.Kernel?.name ?? 'none';
  if (!EXPECTED_CLASSES[mode].includes(chosen)) {
    gpu.destroy();
    throw new BackendUnavailableError(`gpujs:${mode} cannot start: gpu.js would run ${chosen}, not ${EXPECTED_CLASSES[mode].join(' or ')}${modeHint(mode)}`);
  }

  const cache = new Map<string, GpujsKernel>();
  let kernelClass = chosen;
  let precision = 'single';

  /**
   * Run the product's kernel (built and memoised per shape). A new kernel is cached only once its first run
   * passed verifyKernel, so a kernel that fell back is never used again unchecked.
   */
  function runMatmul(a: DeviceArray, b: DeviceArray, s: MatmulSpec, aLen: number, bLen: number, pipeline: boolean): unknown {
    const key = matmulKernelKey(s, aLen, bLen, pipeline);
    const cached = cache.get(key);
    const kernel = cached ?? gpu.createKernel(matmulSource, matmulKernelSettings(s, aLen, bLen, pipeline));
    // Offsets go in as float32 (gpu.js's array arguments are float textures/buffers); exact below MAX_INDEX.
    const result = kernel(a, b, Float32Array.from(s.aOffsets), Float32Array.from(s.bOffsets));
    if (!cached) {
      verifyKernel(kernel);
      cache.set(key, kernel);
    }
    return result;
  }

  function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
    if (matmulDoneOnHost(out, s)) return;
    const size = s.batch * s.m * s.n;
    const result = runMatmul(a, b, s, a.length, b.length, false) as Float32Array;
    out.set(result.length === size ? result : result.subarray(0, size));
  }

  function matmulOnDevice(a: DeviceArray, b: DeviceArray, s: MatmulSpec, aLength: number, bLength: number): DeviceArray {
    return runMatmul(a, b, s, aLength, bLength, true) as DeviceArray;
  }

  const uploads = new Map<number, GpujsKernel>();
  function toDevice(x: Float32Array): DeviceArray {
    let kernel = uploads.get(x.length);
    if (!kernel) {
      kernel = gpu.createKernel(uploadSource, uploadKernelSettings(x.length));
      uploads.set(x.length, kernel);
    }
    return kernel(x) as DeviceArray;
  }

  function readBack(x: DeviceArray): Float32Array {
    return x instanceof Float32Array ? x : (x.toArray() as Float32Array);
  }

  function verifyKernel(kernel: GpujsKernel): void {
    ({ kernelClass, precision } = verifyKernelClass(mode, kernel));
  }

  // With WebGL2 (a browser page or Web Worker), whole training runs on the device (device/webgl-trainer.ts);
  // headless GL in Node is WebGL1, whose shaders have no unsigned integers for the sampler.
  const training = mode === 'gpu' && chosen === 'WebGL2Kernel' ? webglTraining(gpu, `WebGL2: ${webglInfo().renderer}`) : undefined;

  return {
    ...referenceKernels,
    name: `gpujs:${mode}`,
    mode,
    ...(training ? { training } : {}),
    matmul,
    matmulOnDevice,
    readBack,
    toDevice,
    get kernelClass() {
      return kernelClass;
    },
    get precision() {
      return precision;
    },
    get cachedKernels() {
      return cache.size;
    },
    destroy() {
      for (const k of [...cache.values(), ...uploads.values()]) k.destroy?.();
      cache.clear();
      uploads.clear();
      gpu.destroy();
    },
  };
}

/**
 * After a kernel's first run: the gpu.js kernel class that really ran (gpu.js falls back with only a warning),
 * and single precision on GL. Throws BackendUnavailableError otherwise.
 */
export function verifyKernelClass(
  mode: GpujsMode,
  kernel: { kernel: { constructor: { name: string }; precision?: string; fallbackReason?: string } },
): { kernelClass: string; precision: string } {
  const ran = kernel.kernel.constructor.name;
  if (!EXPECTED_CLASSES[mode].includes(ran)) {
    const why = kernel.kernel.fallbackReason ? ` (${kernel.kernel.fallbackReason})` : '';
    throw new BackendUnavailableError(`gpujs:${mode}: gpu.js fell back to ${ran}${why}; refusing to report results from another backend`);
  }
  if (mode === 'gpu' && kernel.kernel.precision !== 'single') {
    throw new BackendUnavailableError(`gpujs:gpu: the GL context gives precision '${kernel.kernel.precision}', not 'single' (no float textures); results would be 8-bit`);
  }
  return { kernelClass: ran, precision: kernel.kernel.precision ?? 'single' };
}

function modeHint(mode: GpujsMode): string {
  if (mode !== 'gpu') return '';
  // Node has `process` and no `window`; a browser page the other way round.
  if ('window' in globalThis) return '. The browser gave no WebGL context with float textures';
  const display = process.env.DISPLAY ? `'${process.env.DISPLAY}'` : 'unset';
  return `. In Node, gpu.js's GPU mode needs the native 'gl' package (this package overrides it with an empty stub: it builds from source against X11 headers) and an X display (DISPLAY is ${display}); in a browser it needs WebGL with float textures`;
}
