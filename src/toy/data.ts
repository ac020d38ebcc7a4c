/**
 * The paper's synthetic data: each feature is 0 with probability S (sparsity) and otherwise uniform on [0, 1)
 * (or on [-1, 1) for the |x| computation task). Batches are [instances, batch, features], one density per
 * instance, as in the official notebook. Every draw comes from the Rng passed in.
 */
import type { Rng } from '../random.ts';

export interface BatchSpec {
  instances: number;
  batch: number;
  features: number;
  /** Probability that a feature is non-zero (1 - S), one per instance. */
  density: Float32Array | readonly number[];
  /** Value range of an active feature: [0, 1) (the paper's default) or [-1, 1) (the |x| task). */
  values?: 'unit' | 'signed';
}

let scratch = new Uint32Array(0);
const TWO_POW_M32 = 2 ** -32;
/** The largest float32 below 1: a value that would round up to 1.0 is clamped here, keeping U[0, 1). */
const BELOW_ONE = 1 - 2 ** -24;

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
  const perInstance = batch * features;
  // Draw each instance's uniforms in one bulk fill (a tight loop inside the generator), then gate them.
  if (scratch.length < perInstance) scratch = new Uint32Array(perInstance);
  for (let i = 0; i < instances; i++) {
    const gen = Array.isArray(rng) ? (rng as readonly Rng[])[i] : (rng as Rng);
    const p = density[i];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`sampleBatch: density ${p} of instance ${i} is outside [0, 1]`);
    const u = gen.fillUint32(scratch.subarray(0, perInstance));
    const base = i * perInstance;
    const scale = TWO_POW_M32 / p; // u / p in double precision: 32 random bits spread over the active range
    const cut = p * 2 ** 32;
    for (let r = 0; r < perInstance; r++) {
      const w = u[r];
      if (w < cut) {
        const v = Math.min(w * scale, BELOW_ONE);
        out[base + r] = signed ? 2 * v - 1 : v;
      } else out[base + r] = 0;
    }
  }
  return out;
}
