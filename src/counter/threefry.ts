/**
 * The counter-based generator behind every training batch: Threefry-2x32 with 20 rounds (Salmon et al., "Parallel
 * random numbers: as easy as 1, 2, 3", SC 2011; the Random123 library's default and JAX's PRNG). A pure function
 * of a 64-bit key and a 64-bit counter, made of 32-bit additions, rotations and xors only, so the same two words
 * come out of TypeScript, WebAssembly, gpu.js's kernels (WGSL, GLSL ES 3, its JS and wasm backends) and any other
 * engine: no state to carry, no order of draws to respect. Streams become addresses: any element of any batch
 * of any step can be drawn on its own, by any thread or device.
 *
 * Chosen over a PCG-family hash (measured in scripts/bench-rng.ts): PCG hashes need 32-bit multiplications,
 * which gpu.js's JS backend evaluates in float64 (so every product must be split into 16-bit halves), while
 * Threefry has none; and Threefry's quality as a keyed function is established (it passes BigCrush for every key
 * and counter pattern Random123 tested), which a 32-bit hash keyed by xor is not (two keys whose xor is small
 * reuse each other's outputs).
 */
import { fnv1a2x32 } from '../random.ts';

/** What manifests record as the data stream: change `version` whenever any sampled bit could change. */
export const COUNTER_RNG = { name: 'threefry2x32-20', version: 1 } as const;

/** Rotation constants of Threefry-2x32 (Random123's R_32x2), applied round r % 8. */
export const ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;
export const ROUNDS = 20;
/** Skein's key-schedule parity constant. */
export const KEY_PARITY = 0x1bd11bda;

/**
 * Threefry-2x32-20 of counter (c0, c1) under key (k0, k1), as two signed 32-bit words written to out[at],
 * out[at + 1] (an Int32Array or Uint32Array). This is the specification; the WebAssembly SIMD sampler and the
 * device trainers' (gpu.js kernel code on WebGPU and on gpu.js's JavaScript backend, native GLSL on WebGL2) are
 * tested bit-equal to it.
 */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number, out: Int32Array | Uint32Array, at = 0): void {
  const ks = [k0 | 0, k1 | 0, (k0 ^ k1 ^ KEY_PARITY) | 0];
  let x0 = (c0 + ks[0]) | 0;
  let x1 = (c1 + ks[1]) | 0;
  for (let r = 0; r < ROUNDS; r++) {
    x0 = (x0 + x1) | 0;
    const s = ROTATIONS[r % 8];
    x1 = ((x1 << s) | (x1 >>> (32 - s))) ^ x0;
    if (r % 4 === 3) {
      // key injection after every fourth round
      const q = (r + 1) / 4;
      x0 = (x0 + ks[q % 3]) | 0;
      x1 = (x1 + ks[(q + 1) % 3] + q) | 0;
    }
  }
  out[at] = x0;
  out[at + 1] = x1;
}

/**
 * The body of Threefry-2x32-20 as straight-line JavaScript statements over integer variables named by the
 * caller, all declared by the caller: reads k0, k1 (key) and x0, x1 (the counter, overwritten with the output),
 * sets k2. (gpu.js types a variable as an integer only when it is declared in its own way, see
 * src/kernels/gpujs/integers.ts, so declarations are the caller's.)
 * The gpu.js kernels and the fast TypeScript loop are built from this text, so every version shares one round
 * schedule; the loop above stays the readable reference they are tested against.
 */
export function threefryStatements(names: { k0: string; k1: string; k2: string; x0: string; x1: string }): string {
  const { k0, k1, k2, x0, x1 } = names;
  const ks = [k0, k1, k2];
  const lines = [`${k2} = (${k0} ^ ${k1} ^ ${KEY_PARITY}) | 0;`, `${x0} = (${x0} + ${k0}) | 0;`, `${x1} = (${x1} + ${k1}) | 0;`];
  for (let r = 0; r < ROUNDS; r++) {
    const s = ROTATIONS[r % 8];
    lines.push(`${x0} = (${x0} + ${x1}) | 0;`, `${x1} = ((${x1} << ${s}) | (${x1} >>> ${32 - s})) ^ ${x0};`);
    if (r % 4 === 3) {
      const q = (r + 1) / 4;
      lines.push(`${x0} = (${x0} + ${ks[q % 3]}) | 0;`, `${x1} = (${x1} + ${ks[(q + 1) % 3]} + ${q}) | 0;`);
    }
  }
  return lines.join('\n');
}

/**
 * A stream's key: two 32-bit words read from a 16-hex-digit seed (as deriveSeed makes them when its second
 * word is non-negative), or any other text hashed as deriveSeed hashes.
 */
export function streamKey(seed: string): [number, number] {
  if (/^[0-9a-f]{16}$/.test(seed)) return [parseInt(seed.slice(0, 8), 16) | 0, parseInt(seed.slice(8), 16) | 0];
  return fnv1a2x32(seed);
}
