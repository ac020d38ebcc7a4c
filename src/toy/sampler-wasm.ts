/**
 * The batch sampler's hot loop in WebAssembly SIMD: four elements at once through Threefry-2x32-20 (one lane per
 * counter), then the same integer gate and value arithmetic as the TypeScript loop (batch.ts), so it writes the
 * same bytes, several times faster (scripts/bench-rng.ts). The module is emitted from TypeScript by the wasm
 * kernels' writer, with the round schedule of src/counter/threefry.ts. Engines without WebAssembly SIMD use the
 * TypeScript loop; the bytes are the same either way, so the choice is not a backend.
 */
import { KEY_PARITY, ROTATIONS, ROUNDS } from '../counter/threefry.ts';
import { Code, F32, growTo, I32, moduleBytes, op, simd, V128, type FunctionDef } from '../kernels/wasm/emit.ts';
import { sharedMemoryOf } from '../kernels/wasm/memory.ts';

const ALIGN4 = 2;
/** Independent groups of 4 lanes per loop iteration: Threefry's rounds are a serial chain, interleaving hides it (4: ~10% faster than 3, 8 slower). */
const GROUPS = 4;
/** Elements per loop iteration; `count` is padded to a multiple of it. */
export const LANES = 4 * GROUPS;

/**
 * fill(k0, k1, step, out, count, threshold, first): for e in [0, count) (count a multiple of LANES), (g, v) =
 * Threefry(k, (step, first + e)); out[e] = (g >>> 8) < threshold ? value(v) : 0 with value = (v >>> 8) * 2^-24,
 * or 2 value - 1 for the signed variant (written as (v >>> 8) * 2^-23 - 1: the same float, exactly).
 */
function fill(name: string, signed: boolean): FunctionDef {
  // params: k0 0, k1 1, step 2, out 3, count 4, threshold 5 (f32), first 6; locals: end 7, k2 8 (i32); v128: K0 9,
  // K1 10, K2 11, ctr 12, thr 13, scale 14, base 15, then x0, x1 of each group
  const [k0, k1, step, out, count, threshold, first, end, k2, K0, K1, K2, ctr, thr, scale, base] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
  const groups = Array.from({ length: GROUPS }, (_, g) => ({ x0: 16 + 2 * g, x1: 17 + 2 * g, offset: 16 * g }));
  // The key injections' x1 terms, ks[(q + 1) % 3] + q for q = 1..5, computed once: one add each in the rounds.
  const injections = ROUNDS / 4;
  const KQ = 16 + 2 * GROUPS; // v128 locals KQ .. KQ + injections - 1
  const code = new Code();
  code.get(k0).get(k1).emit(op.i32Xor).i32(KEY_PARITY).emit(op.i32Xor).set(k2);
  for (const [scalar, vector] of [[k0, K0], [k1, K1], [k2, K2]]) code.get(scalar).simd(simd.i32x4Splat).set(vector);
  code.get(step).get(k0).emit(op.i32Add).simd(simd.i32x4Splat).set(base); // x0 starts at step + k0 in every lane
  code.get(first).simd(simd.i32x4Splat).simd(simd.v128Const, ...new Uint8Array(Int32Array.of(0, 1, 2, 3).buffer)).simd(simd.i32x4Add).set(ctr);
  code.get(threshold).simd(simd.f32x4Splat).set(thr);
  code.f32(signed ? 2 ** -23 : 2 ** -24).simd(simd.f32x4Splat).set(scale);
  code.get(out).get(count).i32(2).emit(op.i32Shl, op.i32Add).set(end);
  const ks = [K0, K1, K2];
  for (let q = 1; q <= injections; q++) code.get(ks[(q + 1) % 3]).i32(q).simd(simd.i32x4Splat).simd(simd.i32x4Add).set(KQ + q - 1);
  code.whileBelow(out, end, 4 * LANES, () => {
    groups.forEach(({ x0, x1 }, g) => {
      code.get(base).set(x0);
      code.get(ctr).get(K1).simd(simd.i32x4Add).i32(4 * g).simd(simd.i32x4Splat).simd(simd.i32x4Add).set(x1);
    });
    for (let r = 0; r < ROUNDS; r++) {
      const rot = ROTATIONS[r % 8];
      for (const { x0, x1 } of groups) {
        code.get(x0).get(x1).simd(simd.i32x4Add).set(x0);
        // rotl(x1, rot) as two shifts and an or (a byte shuffle for rot = 16 and 24 measured 6% slower)
        code.get(x1).i32(rot).simd(simd.i32x4Shl).get(x1).i32(32 - rot).simd(simd.i32x4ShrU).simd(simd.v128Or);
        code.get(x0).simd(simd.v128Xor).set(x1);
        if (r % 4 === 3) {
          const q = (r + 1) / 4;
          code.get(x0).get(ks[q % 3]).simd(simd.i32x4Add).set(x0);
          code.get(x1).get(KQ + q - 1).simd(simd.i32x4Add).set(x1);
        }
      }
    }
    for (const { x0, x1, offset } of groups) {
      // out = value & (gate < threshold)
      code.get(out);
      code.get(x1).i32(8).simd(simd.i32x4ShrU).simd(simd.f32x4ConvertI32x4S).get(scale).simd(simd.f32x4Mul);
      if (signed) code.f32(1).simd(simd.f32x4Splat).simd(simd.f32x4Sub);
      code.get(x0).i32(8).simd(simd.i32x4ShrU).simd(simd.f32x4ConvertI32x4S).get(thr).simd(simd.f32x4Lt);
      code.simd(simd.v128And);
      code.simd(simd.v128Store, ...Code.memarg(ALIGN4, offset));
    }
    code.get(ctr).i32(LANES).simd(simd.i32x4Splat).simd(simd.i32x4Add).set(ctr);
  });
  return { name, params: [I32, I32, I32, I32, I32, F32, I32], locals: [I32, I32, ...new Array(7 + 2 * GROUPS + injections).fill(V128)], body: code };
}

type Fill = (k0: number, k1: number, step: number, out: number, count: number, threshold: number, first: number) => void;
type Fills = { unit: Fill; signed: Fill };
export interface WasmSampler {
  /** Draw `count` gated values of one instance's stream into `out` at `offset` (see fill above). */
  fill(k0: number, k1: number, step: number, out: Float32Array, offset: number, count: number, threshold: number, signed: boolean): void;
}

let sampler: WasmSampler | null | undefined;

/**
 * The WebAssembly sampler, or null where the engine has no WebAssembly SIMD. It draws into its own memory and
 * copies the values out, except into a backend's shared memory (a training step's batch on the wasm backend),
 * where a second instance of the module, importing that memory, writes them in place: the copy was ~11% of the
 * sampler's time. That instance writes whole groups of LANES values only, so nothing past `count` is touched.
 */
export function wasmSampler(): WasmSampler | null {
  if (sampler !== undefined) return sampler;
  try {
    const functions = [fill('unit', false), fill('signed', true)];
    const memory = new WebAssembly.Memory({ initial: 1 });
    const own = new WebAssembly.Instance(new WebAssembly.Module(moduleBytes(functions)), { env: { memory } }).exports as Fills;
    let sharedModule: WebAssembly.Module | null = null;
    const inShared = new WeakMap<WebAssembly.Memory, Fills>();
    const fillsIn = (shared: WebAssembly.Memory): Fills => {
      let fills = inShared.get(shared);
      if (!fills) {
        sharedModule ??= new WebAssembly.Module(moduleBytes(functions, true));
        fills = new WebAssembly.Instance(sharedModule, { env: { memory: shared } }).exports as Fills;
        inShared.set(shared, fills);
      }
      return fills;
    };
    let heap = new Float32Array(memory.buffer);
    sampler = {
      fill(k0, k1, step, out, offset, count, threshold, signed) {
        const shared = sharedMemoryOf(out);
        const direct = shared ? count - (count % LANES) : 0;
        if (direct > 0) fillsIn(shared!)[signed ? 'signed' : 'unit'](k0, k1, step, out.byteOffset + 4 * offset, direct, threshold, 0);
        if (direct === count) return;
        const rest = count - direct;
        const padded = Math.ceil(rest / LANES) * LANES;
        growTo(memory, 4 * padded);
        if (heap.buffer !== memory.buffer) heap = new Float32Array(memory.buffer);
        own[signed ? 'signed' : 'unit'](k0, k1, step, 0, padded, threshold, direct);
        out.set(heap.subarray(0, rest), offset + direct);
      },
    };
  } catch {
    sampler = null;
  }
  return sampler;
}
