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

let scratch = new Float32Array(0);

/**
 * Fill `out` ([instances, batch, features], row-major) with a fresh batch. Draws two uniforms per entry. With one
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
  if (scratch.length < 2 * perInstance) scratch = new Float32Array(2 * perInstance);
  for (let i = 0; i < instances; i++) {
    const gen = Array.isArray(rng) ? (rng as readonly Rng[])[i] : (rng as Rng);
    const p = density[i];
    if (!(p >= 0 && p <= 1)) throw new RangeError(`sampleBatch: density ${p} of instance ${i} is outside [0, 1]`);
    const u = gen.fillUniform(scratch.subarray(0, 2 * perInstance));
    const base = i * perInstance;
    // As the notebook: where(rand <= p, value, 0); the value is drawn first, so both draws are always consumed.
    if (signed) for (let r = 0; r < perInstance; r++) out[base + r] = u[2 * r + 1] < p ? 2 * u[2 * r] - 1 : 0;
    else for (let r = 0; r < perInstance; r++) out[base + r] = u[2 * r + 1] < p ? u[2 * r] : 0;
  }
  return out;
}
