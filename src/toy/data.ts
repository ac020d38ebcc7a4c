/**
 * The paper's synthetic data: each feature is 0 with probability S (sparsity) and otherwise uniform on [0, 1)
 * (or on [-1, 1) for the |x| computation task). Batches are [instances, batch, features], one density per
 * instance, as in the official notebook. Every draw comes from the Rng passed in.
 *
 * Feature sets (the paper's "Correlated and anticorrelated features"): the members of a correlated set share one
 * on/off draw (active together with probability p, values drawn independently); an anticorrelated set is off
 * with probability 1 - p and otherwise exactly one member, chosen uniformly, is active (so each member's own
 * density is p / size). Features outside every set are independent.
 */
import type { Rng } from '../random.ts';
import { BELOW_ONE, wasmSampler } from './sampler-wasm.ts';

let useWasm = true;
/** Whether sampleBatch may draw in WebAssembly (the default; same bytes either way). For tests and benchmarks. */
export function setWasmSampling(enabled: boolean): void {
  useWasm = enabled;
}

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

export interface FeatureSet {
  kind: 'correlated' | 'anticorrelated';
  /** Feature indices of the set (at least 2). */
  features: readonly number[];
}

/** `count` sets of `size` consecutive features each, starting at feature `start` (ARENA's pairs: size 2). */
export function featureSets(kind: FeatureSet['kind'], count: number, size: number, start = 0): FeatureSet[] {
  return Array.from({ length: count }, (_, s) => ({ kind, features: Array.from({ length: size }, (_, k) => start + s * size + k) }));
}

function checkSets(sets: readonly FeatureSet[], features: number): void {
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

let scratch = new Uint32Array(0);
let valueScratch = new Uint32Array(0);
const TWO_POW_M32 = 2 ** -32;

/**
 * Fill `out` ([instances, batch, features], row-major) with a fresh batch. One 32-bit uniform u per entry: the
 * feature is active when u < p (probability p) and then takes u / p, which is uniform on [0, 1) given u < p: the
 * notebook's distribution with half its draws (it draws a value and a gate). With one
 * Rng per instance, instance i's values come from rngs[i] alone, so they do not depend on which other instances
 * share the batch.
 */
export function sampleBatch(spec: BatchSpec, rng: Rng | readonly Rng[], out = new Float32Array(spec.instances * spec.batch * spec.features)): Float32Array {
  const { instances, batch, features, density } = spec;
  const signed = spec.values === 'signed';
  if (density.length !== instances) throw new RangeError(`sampleBatch: ${density.length} densities for ${instances} instances`);
  if (Array.isArray(rng) && rng.length !== instances) throw new RangeError(`sampleBatch: ${rng.length} generators for ${instances} instances`);
  const sets = spec.sets ?? [];
  checkSets(sets, features);
  const perInstance = batch * features;
  // Draw each instance's uniforms in one bulk fill (a tight loop inside the generator), then gate them.
  if (scratch.length < perInstance) scratch = new Uint32Array(perInstance);
  const wasm = useWasm && sets.length === 0 ? wasmSampler() : null;
  for (let i = 0; i < instances; i++) {
    const gen = Array.isArray(rng) ? (rng as readonly Rng[])[i] : (rng as Rng);
    const p = density[i];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`sampleBatch: density ${p} of instance ${i} is outside [0, 1]`);
    const base = i * perInstance;
    const scale = TWO_POW_M32 / p; // u / p in double precision: 32 random bits spread over the active range
    const cut = p * 2 ** 32;
    if (wasm) {
      // The same stream and arithmetic in WebAssembly (sampler-wasm.ts), about twice as fast.
      const state = gen.getState();
      wasm.fill(state, out, base, perInstance, cut, scale, signed);
      gen.setState(state);
      continue;
    }
    const u = gen.fillUint32(scratch.subarray(0, perInstance));
    for (let r = 0; r < perInstance; r++) {
      const w = u[r];
      if (w < cut) {
        const v = Math.min(w * scale, BELOW_ONE);
        out[base + r] = signed ? 2 * v - 1 : v;
      } else out[base + r] = 0;
    }
    if (sets.length > 0) applySets(sets, u, gen, out, base, batch, features, cut, signed);
  }
  return out;
}

/**
 * Overwrite the set members of one instance's rows. The gate of a set is its first member's uniform (u < cut:
 * probability p); an anticorrelated set picks its active member with its second member's uniform; values come
 * from a second block of draws, so they are independent of the gate and of each other.
 */
function applySets(sets: readonly FeatureSet[], u: Uint32Array, gen: Rng, out: Float32Array, base: number, batch: number, features: number, cut: number, signed: boolean): void {
  const perInstance = batch * features;
  if (valueScratch.length < perInstance) valueScratch = new Uint32Array(perInstance);
  const values = gen.fillUint32(valueScratch.subarray(0, perInstance));
  const value = (w: number) => {
    const v = Math.min(w * TWO_POW_M32, BELOW_ONE);
    return signed ? 2 * v - 1 : v;
  };
  for (let row = 0; row < batch; row++) {
    const r0 = row * features;
    for (const { kind, features: members } of sets) {
      const on = u[r0 + members[0]] < cut;
      const chosen = kind === 'anticorrelated' ? Math.floor(u[r0 + members[1]] * TWO_POW_M32 * members.length) : -1;
      members.forEach((f, k) => {
        const active = on && (kind === 'correlated' || k === chosen);
        out[base + r0 + f] = active ? value(values[r0 + f]) : 0;
      });
    }
  }
}
