/**
 * Choosing a backend by name, loading gpu.js only when a gpu.js backend is asked for:
 *
 *   js               the reference TypeScript backend
 *   wasm             the reference backend with its large matmuls on WebAssembly SIMD kernels emitted from TypeScript
 *   gpujs[:mode]     matmul on gpu.js; mode gpu (WebGL, the default), webgpu, webasm or cpu
 *   auto             per matmul shape, whichever of js, wasm and the gpu.js modes that start here is fastest,
 *                    decided by a one-time micro-benchmark per shape (cached for the process) and printed
 *
 * Asking for a backend that cannot start is an error saying why (no WebGL context, no display, package not
 * installed, asynchronous-only readback); nothing falls back silently.
 */
import { referenceKernels } from './reference.ts';
import { getBackend, listBackends, registerBackend, setBackend } from './registry.ts';
import { BackendUnavailableError, createGpujsKernels, gpujsGlobal, GPUJS_MODES, type GpujsKernels, type GpujsMode, type GpujsModule } from './gpujs.ts';
import type { Kernels, MatmulSpec } from './types.ts';
import { createWasmKernels } from './wasm.ts';
import { moduleFile } from '../module-file.ts';

/** Every backend name useBackend accepts. */
export const BACKEND_CHOICES = ['js', 'wasm', 'gpujs', ...GPUJS_MODES.map((m) => `gpujs:${m}`), 'auto'] as const;

/**
 * The `--backend` flag every script declares (see src/cli.ts's parseFlags). Scripts default to wasm, the
 * fastest deterministic backend (the same bytes on every run); the library itself starts on js, the
 * specification, until useBackend() says otherwise.
 */
export const backendFlag = {
  kind: 'string',
  default: 'wasm',
  choices: BACKEND_CHOICES,
  help: 'kernel backend: js, wasm (large matmuls on WebAssembly SIMD), gpujs[:gpu|webgpu|webasm|cpu] (matmul on gpu.js), or auto (fastest per shape, measured once)',
} as const;

/**
 * --backend for sweeps: every backend but auto, which picks each matmul's backend by timing, so a sweep's bytes
 * could change from run to run and between workers (a choice a script refuses is not offered).
 */
export const sweepBackendFlag = {
  ...backendFlag,
  choices: BACKEND_CHOICES.filter((c) => c !== 'auto'),
  help: 'kernel backend: js, wasm (large matmuls on WebAssembly SIMD), gpujs[:gpu|webgpu|webasm|cpu] (gpu.js; webgpu trains on the device); no auto: a backend picked by timing would change the bytes',
} as const;

let gpujsModule: Promise<GpujsModule> | null = null;

/**
 * gpu.js itself: the page's `GPU` global where gpu-browser.js is loaded, otherwise the npm package, imported on
 * first use (it takes ~100 ms to load and pulls in acorn; a js-only run never pays for it).
 */
function loadGpujs(): Promise<GpujsModule> {
  const global = gpujsGlobal();
  if (global) return Promise.resolve({ GPU: global });
  gpujsModule ??= import('gpu.js').then(
    (m) => ((m as { GPU?: unknown }).GPU ? m : (m as { default: GpujsModule }).default) as GpujsModule,
    (e: Error) => {
      gpujsModule = null;
      throw new BackendUnavailableError(`gpujs: the 'gpu.js' package cannot be loaded (${e.message}); install it with npm install gpu.js@2.24.1`);
    },
  );
  return gpujsModule;
}

function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string' && !('window' in globalThis);
}

/**
 * gpujs:webgpu runs its device in a worker (webgpu-bridge.ts): a worker thread in Node (webgpu-node.ts; the
 * module path is a variable so that browser bundles do not pull in node:worker_threads), a Web Worker in a
 * browser (webgpu-browser.ts, which refuses with the reason outside a Web Worker or without cross-origin isolation).
 */
async function startWebgpu(allowSoftware: boolean | undefined): Promise<GpujsKernels> {
  if (isNode()) {
    const path = moduleFile('./webgpu-node', import.meta.url).href;
    const { createWebgpuKernels } = (await import(/* @vite-ignore */ path)) as typeof import('./webgpu-node.ts');
    return createWebgpuKernels({ allowSoftware });
  }
  const { createBrowserWebgpuKernels } = await import('./webgpu-browser.ts');
  return createBrowserWebgpuKernels({ allowSoftware });
}

/** Backends this module started, by name: a second request hands back the same object (and its kernel cache). */
const started = new Map<string, Kernels>();

/** Start (or reuse) the gpu.js backend for `mode` and register it under 'gpujs:<mode>'. */
export async function loadGpujsBackend(mode: GpujsMode, allowSoftwareGpu?: boolean): Promise<GpujsKernels> {
  const name = `gpujs:${mode}`;
  let kernels = started.get(name) as (GpujsKernels & { closed?: string | null; adapter?: { software: boolean } }) | undefined;
  // A WebGPU backend on a software adapter serves only callers that accept one.
  const softwareRefused = kernels?.adapter?.software === true && !(allowSoftwareGpu ?? (isNode() && process.env.SUPERPOSITION_WEBGPU_SOFTWARE === '1'));
  if (!kernels || kernels.closed || softwareRefused) {
    // First use, a caller that refuses the software adapter started earlier, or a WebGPU backend that was
    // destroyed, timed out or lost its worker: start a fresh one (which says why when it cannot).
    const previous = kernels;
    kernels = mode === 'webgpu' ? await startWebgpu(allowSoftwareGpu) : createGpujsKernels(await loadGpujs(), mode);
    if (previous && !previous.closed) previous.destroy();
    started.set(name, kernels);
    registerBackend(kernels);
  }
  return kernels;
}

/** Options of useBackend. */
export interface UseBackendOptions {
  /** Where `auto` prints its choices and the candidates it skipped (default console.log). */
  log?: (line: string) => void;
  /**
   * gpujs:webgpu: accept a software adapter (a CPU rasteriser: for testing the path without a GPU). Default: in
   * Node SUPERPOSITION_WEBGPU_SOFTWARE=1, in a browser no.
   */
  allowSoftwareGpu?: boolean;
}

/**
 * Make `name` (one of BACKEND_CHOICES) the active backend, loading gpu.js if needed. Rejects with the reason
 * when it cannot start.
 */
export async function useBackend(name: string, options: UseBackendOptions = {}): Promise<Kernels> {
  const log = options.log ?? console.log;
  if (name === 'gpujs') name = 'gpujs:gpu';
  let kernels: Kernels;
  if (name === 'js') kernels = referenceKernels;
  else if (name === 'wasm') {
    kernels = started.get('wasm') ?? createWasmKernels();
    started.set('wasm', kernels);
  } else if (name.startsWith('gpujs:')) {
    const mode = name.slice('gpujs:'.length) as GpujsMode;
    if (!GPUJS_MODES.includes(mode)) throw new RangeError(`useBackend: unknown gpu.js mode '${mode}' (allowed: ${GPUJS_MODES.join(', ')})`);
    kernels = await loadGpujsBackend(mode, options.allowSoftwareGpu);
  } else if (name === 'auto') {
    kernels = started.get('auto') ?? (await createAutoKernels(log));
    started.set('auto', kernels);
  } else {
    throw new RangeError(`useBackend: unknown backend '${name}' (allowed: ${BACKEND_CHOICES.join(', ')})`);
  }
  registerBackend(kernels);
  return setBackend(kernels.name);
}

// --- auto ---------------------------------------------------------------------------------------------------

/**
 * A candidate must beat the reference by this factor to be chosen: the micro-benchmark is a few calls on a
 * possibly shared machine (timings there carry +-30% noise), and a backend that only ties is not worth its
 * upload, build and risk. Below the margin the reference wins.
 */
export const AUTO_MARGIN = 1.2;

/** The auto backend: each matmul shape runs on whichever candidate was fastest for it, the rest on the reference. */
export interface AutoKernels extends Kernels {
  /** The backend chosen for each matmul shape seen so far, keyed like 'NT 10x1024x5x2'. */
  readonly choices: ReadonlyMap<string, string>;
  readonly candidates: readonly string[];
}

/** The gpu.js modes auto tries: the GPU ones, and webasm (which can beat the reference on some CPUs). cpu is for tests. */
const AUTO_MODES: readonly GpujsMode[] = ['gpu', 'webgpu', 'webasm'];

/** The auto backend over js, wasm and every gpu.js mode that starts here; `log` hears the candidates skipped. */
export async function createAutoKernels(log: (line: string) => void = console.log): Promise<AutoKernels> {
  const candidates: Kernels[] = [referenceKernels];
  try {
    candidates.push(started.get('wasm') ?? createWasmKernels());
  } catch (e) {
    log(`auto: not a candidate: ${(e as Error).message}`);
  }
  for (const mode of AUTO_MODES) {
    try {
      candidates.push(await loadGpujsBackend(mode));
    } catch (e) {
      log(`auto: not a candidate: ${(e as Error).message}`);
    }
  }
  return autoKernels(candidates, log);
}

/** Seconds per call: one warm-up call (gpu.js builds its kernel there), then the best of up to 5 calls within ~50 ms. */
function secondsPerCall(k: Kernels, a: Float32Array, b: Float32Array, out: Float32Array, spec: MatmulSpec): number {
  k.matmul(a, b, out, spec);
  let best = Infinity;
  const start = performance.now();
  for (let i = 0; i < 5 && (i < 2 || performance.now() - start < 50); i++) {
    const t0 = performance.now();
    k.matmul(a, b, out, spec);
    best = Math.min(best, performance.now() - t0);
  }
  return best / 1000;
}

/**
 * The auto backend over the given candidates; the first candidate is the reference the others must beat.
 * `measure` times one candidate on one call's operands (tests pass a fake to check the choice without timing).
 */
export function autoKernels(
  candidates: readonly Kernels[],
  log: (line: string) => void = console.log,
  measure: typeof secondsPerCall = secondsPerCall,
): AutoKernels {
  const [reference] = candidates;
  const choices = new Map<string, string>();
  const chosen = new Map<string, Kernels>();

  function matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
    const key = `${s.transA ? 'T' : 'N'}${s.transB ? 'T' : 'N'} ${s.batch}x${s.m}x${s.k}x${s.n}`;
    let k = chosen.get(key);
    if (!k) {
      k = reference;
      if (candidates.length > 1) {
        const scratch = new Float32Array(s.batch * s.m * s.n);
        const times = candidates.map((c) => measure(c, a, b, scratch, s));
        let best = 0;
        for (let i = 1; i < candidates.length; i++) if (times[i] * AUTO_MARGIN < times[0] && times[i] < times[best]) best = i;
        k = candidates[best];
        const gflops = (t: number) => ((2 * s.batch * s.m * s.k * s.n) / t / 1e9).toFixed(2);
        log(`auto: matmul ${key} -> ${k.name} (${candidates.map((c, i) => `${c.name} ${gflops(times[i])} GFLOP/s`).join(', ')})`);
      }
      chosen.set(key, k);
      choices.set(key, k.name);
    }
    k.matmul(a, b, out, s);
  }

  return {
    ...reference,
    name: 'auto',
    matmul,
    choices,
    candidates: candidates.map((c) => c.name),
  };
}

/**
 * Run fn with backend `name` active (started first when it is not registered yet, as useBackend starts it; one that
 * is, whatever options started it, is used as it is), and the previously active backend restored afterwards.
 */
export async function runOnBackend<T>(name: string, fn: () => T): Promise<T> {
  const previous = getBackend();
  if (listBackends().includes(name)) setBackend(name);
  else await useBackend(name, { log: () => {} });
  try {
    return fn();
  } finally {
    setBackend(previous.name);
  }
}
