/**
 * sampleBatch's hot loop in WebAssembly: the same xoshiro128** stream and the same gate and value arithmetic
 * (in float64, rounded once to float32), so it writes the same bytes as the TypeScript loop, ~2x faster
 * (scripts/bench-rng.ts). The module is emitted from TypeScript by the wasm kernels' writer. Engines without
 * WebAssembly use the TypeScript loop; the bytes are the same either way, so the choice is not a backend.
 */
import { Code, F64, growTo, I32, moduleBytes, op, type FunctionDef } from '../kernels/wasm/emit.ts';

const ALIGN4 = 2;
/** The largest float32 below 1 (as data.ts): a value that would round up to 1.0 is clamped here. */
export const BELOW_ONE = 1 - 2 ** -24;

/**
 * fill(state, out, count, cut, scale): count draws u of xoshiro128** from the state at byte `state` (advanced in
 * place); out[r] = u < cut ? v : 0 with v = min(u * scale, BELOW_ONE), or 2v - 1 for the signed variant.
 */
function fill(name: string, signed: boolean): FunctionDef {
  // params: state 0, out 1, count 2, cut 3 (f64), scale 4 (f64); locals: a 5, b 6, c 7, d 8, t 9, end 10, w 11 (f64)
  const [state, out, count, cut, scale, a, b, c, d, t, end, w] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
  const code = new Code();
  [a, b, c, d].forEach((s, k) => code.get(state).emit(op.i32Load, ...Code.memarg(ALIGN4, 4 * k)).set(s));
  code.get(out).get(count).i32(2).emit(op.i32Shl, op.i32Add).set(end);
  code.whileBelow(out, end, 4, () => {
    // u = rotl(b * 5, 7) * 9, as an unsigned number in float64
    code.get(b).i32(5).emit(op.i32Mul).i32(7).emit(op.i32Rotl).i32(9).emit(op.i32Mul, op.f64ConvertI32U).set(w);
    // t = b << 9; c ^= a; d ^= b; b ^= c; a ^= d; c ^= t; d = rotl(d, 11)
    code.get(b).i32(9).emit(op.i32Shl).set(t);
    code.get(c).get(a).emit(op.i32Xor).set(c);
    code.get(d).get(b).emit(op.i32Xor).set(d);
    code.get(b).get(c).emit(op.i32Xor).set(b);
    code.get(a).get(d).emit(op.i32Xor).set(a);
    code.get(c).get(t).emit(op.i32Xor).set(c);
    code.get(d).i32(11).emit(op.i32Rotl).set(d);
    // out[r] = select(demote(value), 0, u < cut)
    code.get(out);
    code.get(w).get(scale).emit(op.f64Mul).f64(BELOW_ONE).emit(op.f64Min);
    if (signed) code.f64(2).emit(op.f64Mul).f64(1).emit(op.f64Sub);
    code.emit(op.f32DemoteF64, op.f32Const, 0, 0, 0, 0);
    code.get(w).get(cut).emit(op.f64Lt, op.select);
    code.emit(op.f32Store, ...Code.memarg(ALIGN4, 0));
  });
  [a, b, c, d].forEach((s, k) => code.get(state).get(s).emit(op.i32Store, ...Code.memarg(ALIGN4, 4 * k)));
  return { name, params: [I32, I32, I32, F64, F64], locals: [I32, I32, I32, I32, I32, I32, F64], body: code };
}

type Fill = (state: number, out: number, count: number, cut: number, scale: number) => void;
export interface WasmSampler {
  /** Draw `count` gated values into `out` at `offset`, advancing `state` (xoshiro128** words) in place. */
  fill(state: [number, number, number, number], out: Float32Array, offset: number, count: number, cut: number, scale: number, signed: boolean): void;
}

let sampler: WasmSampler | null | undefined;

/** The WebAssembly sampler, or null where the engine has no WebAssembly. */
export function wasmSampler(): WasmSampler | null {
  if (sampler !== undefined) return sampler;
  try {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const bytes = moduleBytes([fill('unit', false), fill('signed', true)]);
    const exports = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } }).exports as { unit: Fill; signed: Fill };
    let heap = new Float32Array(memory.buffer);
    let words = new Uint32Array(memory.buffer);
    sampler = {
      fill(state, out, offset, count, cut, scale, signed) {
        growTo(memory, 16 + 4 * count);
        if (heap.buffer !== memory.buffer) [heap, words] = [new Float32Array(memory.buffer), new Uint32Array(memory.buffer)];
        words.set(state, 0);
        (signed ? exports.signed : exports.unit)(0, 16, count, cut, scale);
        out.set(heap.subarray(4, 4 + count), offset);
        for (let k = 0; k < 4; k++) state[k] = words[k] | 0;
      },
    };
  } catch {
    sampler = null;
  }
  return sampler;
}
