/**
 * The paper's synthetic data: each feature is 0 with probability S (sparsity) and otherwise uniform on [0, 1)
 * (or on [-1, 1) for the |x| computation task). Batches are [instances, batch, features], one density per
 * instance, as in the official notebook.
 *
 * Every value is a pure function of (instance stream key, step, sample, feature) through the counter-based
 * generator (src/counter/threefry.ts): element e = sample * features + feature of instance i at step t draws
 * (g, v) = Threefry-2x32-20(key_i, (t, e)); it is active when (g >>> 8) < p * 2^24 (p as float32) and then takes
 * (v >>> 8) * 2^-24 (or twice that minus 1 for signed values). Integer arithmetic and exact float32 conversions
 * only, so the same batch comes out bit for bit in TypeScript, WebAssembly and every gpu.js kernel (the device
 * trainer samples on the GPU with the same rule), and any instance, step or element can be drawn on its own.
 *
 * Feature sets (the paper's "Correlated and anticorrelated features"): the members of a correlated set share one
 * on/off draw (active together with probability p, values drawn independently). In an anticorrelated set at most
 * one member is active, chosen uniformly; the set is on with probability min(1, size * p), so that each member
 * keeps density p (ARENA's rule, `density: 'per-member'`, the default), or with probability p, so that each member
 * has p / size (`density: 'per-set'`). Features outside every set are independent.
 */
import { streamKey, threefryStatements } from '../counter/threefry.ts';
import { wasmSampler } from './sampler-wasm.ts';

let useWasm = true;
/** Whether sampleBatch may draw in WebAssembly SIMD (the default; same bytes either way). For tests and benchmarks. */
export function setWasmSampling(enabled: boolean): void {
  useWasm = enabled;
}

/** The shape and distribution of a batch: [instances, batch, features], one density per instance. */
export interface BatchSpec {
  instances: number;
  batch: number;
  features: number;
  /** Probability that a feature is non-zero (1 - S), one per instance. */
  density: Float32Array | readonly number[];
  /** Value range of an active feature: [0, 1) (the paper's default) or [-1, 1) (the |x| task). */
  values?: 'unit' | 'signed';
  /** Correlated / anticorrelated feature sets (disjoint); the other features are independent. */
  sets?: readonly FeatureSet[];
}

/** Features drawn together: all on or off at once (correlated), or at most one on (anticorrelated). */
export interface FeatureSet {
  kind: 'correlated' | 'anticorrelated';
  /** Feature indices of the set (at least 2). */
  features: readonly number[];
  /**
   * Anticorrelated sets: whether the density p is each member's (the set is on with probability min(1, size * p),
   * ARENA's rule; the default) or the set's (each member then has p / size). A correlated set's members have p either way.
   */
  density?: SetDensity;
}
/** Whether an anticorrelated set's density p is each member's or the whole set's (see FeatureSet.density). */
export type SetDensity = 'per-member' | 'per-set';
export const SET_DENSITIES: readonly SetDensity[] = ['per-member', 'per-set'];

/** `count` sets of `size` consecutive features each, starting at feature `start` (ARENA's pairs: size 2). */
export function featureSets(kind: FeatureSet['kind'], count: number, size: number, start = 0, density: SetDensity = 'per-member'): FeatureSet[] {
  return Array.from({ length: count }, (_, s) => ({ kind, features: Array.from({ length: size }, (_, k) => start + s * size + k), ...(kind === 'anticorrelated' ? { density } : {}) }));
}

/** The probability that a set is on at feature density p (see FeatureSet.density). */
export const setOnProbability = (set: FeatureSet, p: number): number => (set.kind === 'anticorrelated' && (set.density ?? 'per-member') === 'per-member' ? Math.min(1, p * set.features.length) : p);

/** Sets must be disjoint, of at least 2 features each, naming features that exist (RangeError otherwise). */
export function checkSets(sets: readonly FeatureSet[], features: number): void {
  const seen = new Set<number>();
  sets.forEach((set, s) => {
    if (set.features.length < 2) throw new RangeError(`sampleBatch: feature set ${s} has ${set.features.length} features, expected at least 2`);
    for (const f of set.features) {
      if (!Number.isInteger(f) || f < 0 || f >= features) throw new RangeError(`sampleBatch: feature set ${s} names feature ${f}, expected an integer in 0..${features - 1}`);
      if (seen.has(f)) throw new RangeError(`sampleBatch: feature ${f} is in more than one set`);
      seen.add(f);
    }
  });
}

const TWO_POW_M24 = 2 ** -24;

/** The stream keys of instances with these seeds (two int32 words each), for sampleBatch. */
export function streamKeys(seeds: readonly string[]): Int32Array {
  const keys = new Int32Array(2 * seeds.length);
  seeds.forEach((seed, i) => keys.set(streamKey(seed), 2 * i));
  return keys;
}

/** Every density must lie in [0, 1] (RangeError naming the instance otherwise). */
export function checkDensities(density: ArrayLike<number>): void {
  for (let i = 0; i < density.length; i++) {
    const p = density[i];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`sampleBatch: density ${p} of instance ${i} is outside [0, 1]`);
  }
}

/** The gate threshold of density p: an element is active when (g >>> 8) < p * 2^24, p rounded to float32 first. */
export const gateThreshold = (p: number): number => Math.fround(p) * 2 ** 24;

/**
 * Threefry words of elements [0, count) at `step` under key (k0, k1): words[2e] (gate), words[2e + 1] (value).
 * Built once from the shared round schedule as straight-line code, ~8x faster than the reference loop.
 */
const fillWords = new Function(
  'k0', 'k1', 'step', 'count', 'words',
  `let k2 = 0;\nfor (let e = 0; e < count; e++) {\n let x0 = step, x1 = e;\n${threefryStatements({ k0: 'k0', k1: 'k1', k2: 'k2', x0: 'x0', x1: 'x1' })}\n words[2 * e] = x0; words[2 * e + 1] = x1;\n}`,
) as (k0: number, k1: number, step: number, count: number, words: Int32Array) => void;

let words = new Int32Array(0);

/**
 * Fill `out` ([instances, batch, features], row-major) with the batch of `step`: instance i from its stream key
 * keys[2i], keys[2i + 1] alone, so its values do not depend on which other instances share the batch.
 */
export function sampleBatch(spec: BatchSpec, keys: Int32Array, step: number, out: Float32Array = new Float32Array(spec.instances * spec.batch * spec.features)): Float32Array {
  const { instances, batch, features, density } = spec;
  const signed = spec.values === 'signed';
  if (density.length !== instances) throw new RangeError(`sampleBatch: ${density.length} densities for ${instances} instances`);
  if (keys.length !== 2 * instances) throw new RangeError(`sampleBatch: ${keys.length / 2} stream keys for ${instances} instances`);
  if (!Number.isInteger(step) || step < 0 || step >= 2 ** 32) throw new RangeError(`sampleBatch: step ${step} is not an integer in [0, 2^32)`);
  const perInstance = batch * features;
  if (perInstance > 2 ** 32) throw new RangeError(`sampleBatch: batch x features = ${perInstance} exceeds the generator's 2^32 counters per step`);
  const sets = spec.sets ?? [];
  checkSets(sets, features);
  const wasm = useWasm && sets.length === 0 ? wasmSampler() : null;
  checkDensities(density);
  for (let i = 0; i < instances; i++) {
    const p = density[i];
    const [k0, k1, base, threshold] = [keys[2 * i], keys[2 * i + 1], i * perInstance, gateThreshold(p)];
    if (wasm) {
      wasm.fill(k0, k1, step | 0, out, base, perInstance, threshold, signed);
      continue;
    }
    if (words.length < 2 * perInstance) words = new Int32Array(2 * perInstance);
    fillWords(k0, k1, step | 0, perInstance, words);
    for (let e = 0; e < perInstance; e++) out[base + e] = (words[2 * e] >>> 8) < threshold ? value(words[2 * e + 1], signed) : 0;
    if (sets.length > 0) applySets(sets, words, out, base, batch, features, p, signed);
  }
  return out;
}

/** The value of a value word: (v >>> 8) * 2^-24 in [0, 1), or 2 * that - 1 in [-1, 1) (both exact in float32). */
const value = (v: number, signed: boolean): number => {
  const u = (v >>> 8) * TWO_POW_M24;
  return signed ? 2 * u - 1 : u;
};

/**
 * Overwrite the set members of one instance's rows (feature density p). The gate of a set is its first member's
 * gate word, compared with the threshold of the set's on-probability (setOnProbability); an
 * anticorrelated set picks its active member with its second member's gate word (floor of its 24 high bits
 * times the set's size, over 2^24, the product rounded to float32 as a GPU does); every member keeps its own
 * value word, so values are independent of the gate and of each other.
 */
function applySets(sets: readonly FeatureSet[], words: Int32Array, out: Float32Array, base: number, batch: number, features: number, p: number, signed: boolean): void {
  const thresholds = sets.map((set) => gateThreshold(setOnProbability(set, p)));
  for (let row = 0; row < batch; row++) {
    const r0 = row * features;
    for (const [s, { kind, features: members }] of sets.entries()) {
      const on = (words[2 * (r0 + members[0])] >>> 8) < thresholds[s];
      const chosen = kind === 'anticorrelated' ? Math.floor(Math.fround((words[2 * (r0 + members[1])] >>> 8) * members.length) * TWO_POW_M24) : -1;
      members.forEach((f, k) => {
        const active = on && (kind === 'correlated' || k === chosen);
        out[base + r0 + f] = active ? value(words[2 * (r0 + f) + 1], signed) : 0;
      });
    }
  }
}
