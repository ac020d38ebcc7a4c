/** Shared test helpers: independent float64 references (index math, no kernels) and seeded value generators. */
import fc from 'fast-check';
import { afterAll, beforeAll } from 'vitest';
import { setBackend } from '../src/kernels/registry.ts';
import { createRng } from '../src/random.ts';
import { Tensor } from '../src/autograd/tensor.ts';

export const sizeOfShape = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** Row-major multi-index of flat index `i` in `shape`. */
export function unravel(i: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    idx[d] = i % shape[d];
    i = Math.floor(i / shape[d]);
  }
  return idx;
}

export function ravel(idx: readonly number[], shape: readonly number[]): number {
  return idx.reduce((acc, v, d) => acc * shape[d] + v, 0);
}

/** Flat index into an array of shape `from` for an output multi-index under NumPy broadcasting. */
export function broadcastIndex(outIdx: readonly number[], from: readonly number[]): number {
  const off = outIdx.length - from.length;
  return ravel(from.map((d, i) => (d === 1 ? 0 : outIdx[i + off])), from);
}

/** Values in +-[lo, hi] (or [lo, hi] when positive) from a seed: kept away from the kinks at 0. */
export function valuesFor(shape: readonly number[], seed: number, domain: 'signed' | 'positive' = 'signed', lo = 0.2, hi = 2): Float32Array {
  const rng = createRng(`values/${seed}`);
  const out = new Float32Array(sizeOfShape(shape));
  for (let i = 0; i < out.length; i++) {
    const mag = lo + (hi - lo) * rng.float32();
    out[i] = domain === 'positive' || rng.float32() < 0.5 ? mag : -mag;
  }
  return out;
}

export const leaf = (shape: readonly number[], seed: number, domain: 'signed' | 'positive' = 'signed'): Tensor =>
  new Tensor(valuesFor(shape, seed, domain), [...shape]);

export const dim = fc.integer({ min: 1, max: 4 });
export const shapeArb = (minRank = 0, maxRank = 3): fc.Arbitrary<number[]> => fc.array(dim, { minLength: minRank, maxLength: maxRank });

/** A shape that broadcasts to `s`: some leading axes dropped, some axes set to 1. */
export function broadcastableTo(s: readonly number[]): fc.Arbitrary<number[]> {
  return fc
    .tuple(fc.integer({ min: 0, max: s.length }), fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }))
    .map(([drop, ones]) => s.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
}

/** Two shapes that broadcast together (to a shape of rank <= 3), size-1 axes included. */
export const broadcastPair = shapeArb(0, 3).chain((s) => fc.tuple(broadcastableTo(s), broadcastableTo(s)));

export const seedArb = fc.integer({ min: 0, max: 1_000_000 });

/** fast-check settings: fixed seed so CI is reproducible. */
export const fcParams = { seed: 20221020, numRuns: 60 } as const;

/** Whether two arrays hold the same bytes (Node's Buffer is not in the browser bundles). */
export function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  const [x, y] = [new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength)];
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/**
 * The backends the op and gradient suites run on: the reference, wasm, and gpu.js's WebAssembly and cpu modes
 * (they start in Node without a GPU); a gpu.js mode among these that fails to start fails the suite (no silent
 * skip). gpu.js's WebGPU mode joins them when Dawn finds an adapter, a software one included (Mesa llvmpipe
 * through Dawn's OpenGL ES backend on a machine without a GPU); without one it is skipped with the reason
 * printed, unless WEBGPU_TEST=1 (CI sets it after installing Mesa's EGL/GLES drivers) makes that a failure.
 * The browser suite (test/browser) covers gpu.js's WebGL backend.
 */
export async function nodeBackends(): Promise<string[]> {
  const { useBackend } = await import('../src/kernels/select.ts');
  const names = ['js', 'wasm', 'gpujs:webasm', 'gpujs:cpu'];
  // gpu.js's WebGL backend in Node (headless GL): only when asked, as it needs the native 'gl' package and an X
  // display (see the README's GPU section); asked for, it must start.
  if (process.env.HEADLESS_GL_TEST === '1') names.push('gpujs:gpu');
  for (const name of names) await useBackend(name);
  process.env.SUPERPOSITION_WEBGPU_SOFTWARE ??= '1'; // a test process: a software adapter will do
  try {
    await useBackend('gpujs:webgpu');
    names.push('gpujs:webgpu');
  } catch (e) {
    if (process.env.WEBGPU_TEST === '1') throw e;
    console.log(`gpujs:webgpu not tested here (WEBGPU_TEST=1 would make this a failure): ${(e as Error).message}`);
  }
  await useBackend('js');
  return names;
}

/** Inside a describe block: run its tests with `backend` active, and restore the reference afterwards. */
export function onBackend(backend: string): void {
  beforeAll(() => {
    if (setBackend(backend).name !== backend) throw new Error(`expected backend ${backend}`);
  });
  afterAll(() => void setBackend('js'));
}

/**
 * Monte-Carlo loss of an explicit solution x' = ReLU(W^T W x + b): mean and standard error of
 * sum_i I_i (x_i - x'_i)^2, features 0 w.p. 1-s else U[0,1). Plain loops, independent of the toolkit's model.
 */
export function monteCarloLoss(W: number[][], b: number[], importance: number[], s: number, samples: number, seed: number): { mean: number; se: number } {
  const rng = createRng(seed);
  const n = W.length;
  const m = W[0].length;
  let sum = 0;
  let sumSq = 0;
  const x = new Float64Array(n);
  for (let t = 0; t < samples; t++) {
    for (let i = 0; i < n; i++) x[i] = rng.float32() < s ? rng.float32() : 0;
    let loss = 0;
    for (let i = 0; i < n; i++) {
      let pre = b[i];
      for (let j = 0; j < n; j++) {
        let dot = 0;
        for (let h = 0; h < m; h++) dot += W[i][h] * W[j][h];
        pre += dot * x[j];
      }
      loss += importance[i] * (x[i] - Math.max(0, pre)) ** 2;
    }
    sum += loss;
    sumSq += loss * loss;
  }
  const mean = sum / samples;
  return { mean, se: Math.sqrt((sumSq / samples - mean * mean) / samples) };
}
