/**
 * Seeded random numbers. Every draw in the toolkit comes from an `Rng` passed down explicitly from a seed;
 * nothing reads Math.random. The generator is seedrandom's xor4096 (the fastest of its generators, with a
 * 4096-bit state), and per-purpose streams are derived by hashing (seed, keys...) so that a result never depends
 * on the order in which other streams were used.
 */
import seedrandom from 'seedrandom';

export interface Rng {
  /** The seed this stream was made from (for manifests and error messages). */
  readonly seed: string;
  /** A uniform 32-bit unsigned integer. */
  uint32(): number;
  /**
   * A uniform float32-exact number in [0, 1): 24 random bits, so storing it in a Float32Array never rounds up
   * to 1 (a 32-bit double in [0,1) would, about once in 2^25 draws).
   */
  float32(): number;
  /** A standard normal number (Box-Muller on two 32-bit uniforms). */
  normal(): number;
  /** Fill `out` with U[0, 1) float32 values. */
  fillUniform(out: Float32Array): Float32Array;
  /** Fill `out` with N(mean, std^2) values. */
  fillNormal(out: Float32Array, mean?: number, std?: number): Float32Array;
}

const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M32 = 2 ** -32;

export function createRng(seed: number | string): Rng {
  const seedText = String(seed);
  const gen = seedrandom.xor4096(seedText);
  let spare = NaN;
  const uint32 = (): number => gen.int32() >>> 0;
  const normal = (): number => {
    if (spare === spare) {
      const s = spare;
      spare = NaN;
      return s;
    }
    // (u + 0.5) / 2^32 lies strictly inside (0, 1), so the log is finite.
    const u1 = (uint32() + 0.5) * TWO_POW_M32;
    const u2 = uint32() * TWO_POW_M32;
    const r = Math.sqrt(-2 * Math.log(u1));
    spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  };
  return {
    seed: seedText,
    uint32,
    float32: () => (uint32() >>> 8) * TWO_POW_M24,
    normal,
    fillUniform(out) {
      for (let i = 0; i < out.length; i++) out[i] = (gen.int32() >>> 8) * TWO_POW_M24;
      return out;
    },
    fillNormal(out, mean = 0, std = 1) {
      for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
      return out;
    },
  };
}

/**
 * A seed for a derived stream, from a parent seed and integer keys (cell index, seed index, ...): a 64-bit
 * FNV-1a-style mix written as hex, so derived streams are independent of how many others were made before.
 */
export function deriveSeed(seed: number | string, ...keys: number[]): string {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  const text = `${seed}/${keys.join('/')}`;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c, 0x5bd1e995) >>> 0;
    h2 ^= h2 >>> 15;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}
