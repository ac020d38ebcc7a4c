/**
 * Seeded random numbers. Every draw in the toolkit comes from an `Rng` passed down explicitly from a seed;
 * nothing reads an unseeded global generator. seedrandom turns the seed (any string) into the initial state: its xor4096
 * generator (any string seeds its 4096-bit state) supplies the four 32-bit words of a xoshiro128** generator,
 * which then makes every draw. xoshiro128** is used for the draws because batches need millions of uniforms per
 * step and a bulk fill of it with the state held in locals runs 5x faster than the fastest seedrandom generator
 * called per number (scripts/bench-rng.ts; sampling had been a fifth of a 2->1 sweep step). Per-purpose streams are derived by hashing
 * (seed, keys...) so that a result never depends on the order in which other streams were used.
 */
import seedrandom from 'seedrandom';
import { cos, log, sin } from './math.ts';

/** A seeded stream of random numbers (xoshiro128**), the source of every draw in the toolkit. */
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
  /** Fill `out` with uniform 32-bit unsigned integers (the same stream as uint32()). */
  fillUint32(out: Uint32Array): Uint32Array;
  /** Fill `out` with N(mean, std^2) values. */
  fillNormal(out: Float32Array, mean?: number, std?: number): Float32Array;
  /** The xoshiro128** state (four 32-bit words), for a kernel that draws the same stream elsewhere... */
  getState(): [number, number, number, number];
  /** ...and hands the advanced state back. */
  setState(state: readonly [number, number, number, number]): void;
}

const TWO_POW_M24 = 2 ** -24;
const TWO_POW_M32 = 2 ** -32;

/** A generator seeded from any number or string (via seedrandom's xor4096); the same seed gives the same stream. */
export function createRng(seed: number | string): Rng {
  const seedText = String(seed);
  const init = seedrandom.xor4096(seedText);
  return rngFromState(seedText, [init.int32(), init.int32(), init.int32(), init.int32()]);
}

/** A generator from an explicit xoshiro128** state (four 32-bit words, not all zero). */
export function rngFromState(seedText: string, state: readonly [number, number, number, number]): Rng {
  let [s0, s1, s2, s3] = state.map((v) => v | 0);
  if ((s0 | s1 | s2 | s3) === 0) s0 = 1; // the all-zero state is the one xoshiro cannot leave
  let spare = NaN;
  // xoshiro128** (Blackman and Vigna, 2018), the state held in locals for the loop: the hot loop of every batch.
  const fillUint32 = (out: Uint32Array): Uint32Array => {
    let a = s0, b = s1, c = s2, d = s3;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.imul(rotl(Math.imul(b, 5), 7), 9);
      const t = b << 9;
      c ^= a;
      d ^= b;
      b ^= c;
      a ^= d;
      c ^= t;
      d = rotl(d, 11);
    }
    s0 = a;
    s1 = b;
    s2 = c;
    s3 = d;
    return out;
  };
  const single = new Uint32Array(1);
  const uint32 = (): number => fillUint32(single)[0];
  const normal = (): number => {
    if (spare === spare) {
      const z = spare;
      spare = NaN;
      return z;
    }
    // (u + 0.5) / 2^32 lies strictly inside (0, 1), so the log is finite.
    const u1 = (uint32() + 0.5) * TWO_POW_M32;
    const u2 = uint32() * TWO_POW_M32;
    const r = Math.sqrt(-2 * log(u1));
    spare = r * sin(2 * Math.PI * u2);
    return r * cos(2 * Math.PI * u2);
  };
  return {
    seed: seedText,
    uint32,
    float32: () => (uint32() >>> 8) * TWO_POW_M24,
    normal,
    fillUint32,
    fillUniform(out) {
      // Draw raw words into the output's own memory, then turn each into a float in place.
      const words = fillUint32(new Uint32Array(out.buffer, out.byteOffset, out.length));
      for (let i = 0; i < out.length; i++) out[i] = (words[i] >>> 8) * TWO_POW_M24;
      return out;
    },
    fillNormal(out, mean = 0, std = 1) {
      for (let i = 0; i < out.length; i++) out[i] = mean + std * normal();
      return out;
    },
    getState: () => [s0, s1, s2, s3],
    setState(state) {
      [s0, s1, s2, s3] = state.map((v) => v | 0);
    },
  };
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/**
 * A seed for a derived stream, from a parent seed and integer keys (cell index, seed index, ...): a 64-bit
 * FNV-1a-style mix written as hex, so derived streams are independent of how many others were made before.
 */
export function deriveSeed(seed: number | string, ...keys: number[]): string {
  const [h1, h2] = fnv1a2x32(`${seed}/${keys.join('/')}`);
  // h2 is written signed (as it always was): about half of all seeds carry a '-'
  return (h1 >>> 0).toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** FNV-1a over a text's UTF-16 units in two 32-bit lanes (the second with MurmurHash's multiplier and a shift), as int32. */
export function fnv1a2x32(text: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = Math.imul(h2 ^ c, 0x5bd1e995);
    h2 ^= h2 >>> 15;
  }
  return [h1 | 0, h2 | 0];
}
