/**
 * Uniform 32-bit draws per second: every seedrandom generator (called once per number, as its API offers)
 * against the xoshiro128** bulk fill that draws initial weights (src/random.ts), and the counter-based candidates
 * for the batch stream (src/counter/threefry.ts): Threefry-2x32-20 as the reference loop and as straight-line
 * code, and a PCG-family hash (pcg2d of Jarzynski and Olano, 2020) for comparison, all in this process, with
 * the ratio to the fastest seedrandom generator; the batch sampler's TypeScript and WebAssembly SIMD loops (the
 * same bytes); and the share of a training step spent sampling its batch (the intro configuration: 10 instances
 * x 1024 x 5 features).
 *
 *   npx tsx scripts/bench-rng.ts [--draws 4000000] [--rounds 3]
 */
import seedrandom from 'seedrandom';
import { parseFlags } from '../src/cli.ts';
import { createRng } from '../src/random.ts';
import { threefry2x32, threefryStatements } from '../src/counter/threefry.ts';
import { sampleBatch, setWasmSampling, streamKeys } from '../src/toy/data.ts';
import { train } from '../src/toy/train.ts';

const flags = parseFlags(process.argv.slice(2), {
  draws: { kind: 'number', default: 4_000_000, min: 1000, max: 1e9, integer: true, help: 'draws per generator and round' },
  rounds: { kind: 'number', default: 3, min: 1, max: 100, integer: true, help: 'interleaved rounds (best of each is kept)' },
}, 'usage: npx tsx scripts/bench-rng.ts [flags]   random draws per second: seedrandom\'s generators, the xoshiro fill, the Threefry batch stream');

const out = new Uint32Array(flags.draws);
type Gen = { int32(): number };
const perCall = (make: () => Gen) => () => {
  const g = make();
  for (let i = 0; i < out.length; i++) out[i] = g.int32();
};
const candidates: Array<[string, () => void]> = [
  ['seedrandom() (ARC4, the default)', perCall(() => seedrandom('bench') as unknown as Gen)],
  ...(['alea', 'xor128', 'xorwow', 'xorshift7', 'xor4096', 'tychei'] as const).map((name): [string, () => void] => [`seedrandom.${name}`, perCall(() => seedrandom[name]('bench'))]),
  ['xoshiro128** bulk fill (ours: initial weights)', () => createRng('bench').fillUint32(out)],
  ['Threefry-2x32-20, reference loop (2 words a call)', () => {
    const words = new Int32Array(out.buffer, 0, out.length);
    for (let e = 0; e < out.length / 2; e++) threefry2x32(7, 11, 0, e, words, 2 * e);
  }],
  ['Threefry-2x32-20, straight-line (ours: batches, TypeScript fallback)', () => straightLine(7, 11, 0, out.length / 2, new Int32Array(out.buffer))],
  ['pcg2d hash (2 words a call, 32-bit multiplies)', () => {
    for (let e = 0; e < out.length / 2; e++) {
      let x = Math.imul(e, 1664525) + 1013904223, y = Math.imul(7, 1664525) + 1013904223;
      x = (x + Math.imul(y, 1664525)) | 0; y = (y + Math.imul(x, 1664525)) | 0;
      x ^= x >>> 16; y ^= y >>> 16;
      x = (x + Math.imul(y, 1664525)) | 0; y = (y + Math.imul(x, 1664525)) | 0;
      x ^= x >>> 16; y ^= y >>> 16;
      out[2 * e] = x; out[2 * e + 1] = y;
    }
  }],
];

function straightLine(k0: number, k1: number, step: number, count: number, words: Int32Array): void {
  fill(k0, k1, step, count, words);
}
const fill = new Function('k0', 'k1', 'step', 'count', 'words', `let k2 = 0; for (let e = 0; e < count; e++) { let x0 = step, x1 = e;\n${threefryStatements({ k0: 'k0', k1: 'k1', k2: 'k2', x0: 'x0', x1: 'x1' })}\nwords[2 * e] = x0; words[2 * e + 1] = x1; }`) as (k0: number, k1: number, step: number, count: number, words: Int32Array) => void;

const best = new Map<string, number>();
for (let round = 0; round < flags.rounds; round++) {
  for (const [name, run] of candidates) {
    const t0 = performance.now();
    run();
    const seconds = (performance.now() - t0) / 1000;
    best.set(name, Math.max(best.get(name) ?? 0, flags.draws / seconds));
  }
}
const fastestSeedrandom = Math.max(...[...best].filter(([n]) => n.startsWith('seedrandom')).map(([, v]) => v));
console.log('| generator | M draws/s | vs fastest seedrandom |\n|---|---|---|');
for (const [name, rate] of best) console.log(`| ${name} | ${(rate / 1e6).toFixed(1)} | ${(rate / fastestSeedrandom).toFixed(2)}x |`);

// Sampling's share of a training step, on the intro configuration.
const I = 10;
const density = Array.from({ length: I }, (_, i) => 20 ** -(i / (I - 1)));
const keys = streamKeys(density.map((_, i) => `bench/${i}`));
const buffer = new Float32Array(I * 1024 * 5);
const steps = 200;
const timeIt = (f: () => void) => {
  const t0 = performance.now();
  f();
  return (performance.now() - t0) / 1000;
};
/** Seconds for `steps` batches with the TypeScript loop or the WebAssembly one (the same bytes). */
const sample = (wasm: boolean): number => {
  setWasmSampling(wasm);
  for (let k = 0; k < 20; k++) sampleBatch({ instances: I, batch: 1024, features: 5, density }, keys, k, buffer); // warm-up
  return timeIt(() => {
    for (let s = 0; s < steps; s++) sampleBatch({ instances: I, batch: 1024, features: 5, density }, keys, s, buffer);
  });
};
const [tsLoop, wasmLoop] = [sample(false), sample(true)];
const sampling = Math.min(wasmLoop, sample(true));
const ns = (seconds: number) => ((seconds / steps / (I * 1024 * 5)) * 1e9).toFixed(2);
console.log(`\nbatch sampler (10 x 1024 x 5): TypeScript loop ${((tsLoop / steps) * 1e3).toFixed(3)} ms (${ns(tsLoop)} ns an element), WebAssembly SIMD ${((wasmLoop / steps) * 1e3).toFixed(3)} ms (${ns(wasmLoop)} ns an element; ${(tsLoop / wasmLoop).toFixed(2)}x)`);
const config = { model: { kind: 'relu-output' as const, instances: I, features: 5, hidden: 2 }, importance: [1, 0.9, 0.81, 0.729, 0.6561], density, batch: 1024, lr: 1e-3, optimizer: 'adamw' as const, seed: 0 };
train({ ...config, steps: 20 }); // warm-up
const training = timeIt(() => train({ ...config, steps }));
console.log(`intro step (10 x 1024 x 5): ${((training / steps) * 1e3).toFixed(3)} ms, of which sampling the batch ${((sampling / steps) * 1e3).toFixed(3)} ms (${((100 * sampling) / training).toFixed(1)}%)`);
