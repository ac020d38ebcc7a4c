/**
 * A minimal WebAssembly binary writer: just enough of the format (one type per function, an imported memory,
 * exported functions, i32/f32/v128 locals, structured control flow, SIMD) to emit the matmul micro-kernels of
 * ./simd.ts from TypeScript at start-up, so no foreign toolchain is needed. Opcodes follow the WebAssembly 2.0
 * core specification (SIMD: the 0xFD prefix with a LEB128 sub-opcode).
 */

export const I32 = 0x7f;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Opcodes used by the kernels. */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f32Store: 0x38,
  i32Const: 0x41,
  i32Xor: 0x73,
  f32Const: 0x43,
  f64Const: 0x44,
  i32Eqz: 0x45,
  f32Ne: 0x5c,
  i32LtU: 0x49,
  i32Popcnt: 0x69,
  f64Add: 0xa0,
  f32DemoteF64: 0xb6,
  f64ConvertI32S: 0xb7,
  i32LtS: 0x48,
  select: 0x1b,
  i32Add: 0x6a,
  i32Mul: 0x6c,
  i32Shl: 0x74,
  /** memory.copy (dst, src, bytes) and memory.fill (dst, byte, bytes) of the bulk memory operations, memory 0. */
  memoryCopy: [0xfc, 0x0a, 0x00, 0x00],
  memoryFill: [0xfc, 0x0b, 0x00],
  /** Empty block type. */
  void: 0x40,
} as const;

/** SIMD sub-opcodes (after the 0xFD prefix). */
export const simd = {
  v128Load: 0x00,
  v128Store: 0x0b,
  v128Const: 0x0c,
  /** v128.load32_splat: one float from memory into all four lanes (a broadcast load, no shuffle). */
  v128Load32Splat: 0x09,
  /** v128.load64_splat: one float64 from memory into both lanes. */
  v128Load64Splat: 0x0a,
  /** i8x16.shuffle: its 16 lane indices follow as immediates. */
  i8x16Shuffle: 0x0d,
  /** i8x16.swizzle: bytes of the first operand picked by the second's lanes (0 for an index above 15). */
  i8x16Swizzle: 0x0e,
  i32x4Splat: 0x11,
  f32x4Ne: 0x42,
  f32x4Splat: 0x13,
  f32x4Lt: 0x43,
  v128And: 0x4e,
  v128Or: 0x50,
  v128Xor: 0x51,
  i32x4Bitmask: 0xa4,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4ConvertI32x4S: 0xfa,
  f64x2ExtractLane: 0x21,
  f64x2Splat: 0x14,
  /** v128.load32_lane: memarg, then the lane. */
  v128Load32Lane: 0x56,
  v128Load32Zero: 0x5c,
  f64x2Gt: 0x4a,
  f64x2Div: 0xf3,
  f64x2Sqrt: 0xef,
  f64x2Max: 0xf5,
  f32x4Gt: 0x44,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Max: 0xe9,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
} as const;

export function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

export function sleb(value: number): number[] {
  const out: number[] = [];
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

const utf8 = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vector = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];

/** i8x16.shuffle's 16 byte indices that pick these float32 lanes: 0-3 of the first operand, 4-7 of the second. */
export const floatLanes = (...lanes: number[]): number[] => lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
/** Lanes 2 and 3 of a float32 vector moved to lanes 0 and 1, for f64x2.promote_low_f32x4 (the high half). */
export const HIGH_HALF = floatLanes(2, 3, 2, 3);
/** Lanes 0 and 1 of each operand: two f32x4.demote_f64x2_zero results joined into one float32 vector. */
export const LOW_HALVES = floatLanes(0, 1, 4, 5);

/** Instruction builder for one function body. */
export class Code {
  readonly bytes: number[] = [];
  emit(...b: number[]): this {
    this.bytes.push(...b);
    return this;
  }
  get(local: number): this {
    return this.emit(op.localGet, ...uleb(local));
  }
  set(local: number): this {
    return this.emit(op.localSet, ...uleb(local));
  }
  tee(local: number): this {
    return this.emit(op.localTee, ...uleb(local));
  }
  i32(value: number): this {
    return this.emit(op.i32Const, ...sleb(value));
  }
  f32(value: number): this {
    const bytes = new DataView(new ArrayBuffer(4));
    bytes.setFloat32(0, value, true); // the binary format is little-endian
    return this.emit(op.f32Const, ...new Uint8Array(bytes.buffer));
  }
  f64(value: number): this {
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setFloat64(0, value, true);
    return this.emit(op.f64Const, ...new Uint8Array(bytes.buffer));
  }
  /** local += value (i32). */
  addConst(local: number, value: number): this {
    return this.get(local).i32(value).emit(op.i32Add).set(local);
  }
  /** local += other (i32 locals). */
  addLocal(local: number, other: number): this {
    return this.get(local).get(other).emit(op.i32Add).set(local);
  }
  /**
   * while (p < end, unsigned) { body(); p += step }: the one loop shape the kernels use, a block around a loop
   * so that the test can leave it (br_if 1) and the end can repeat it (br 0).
   */
  whileBelow(p: number, end: number, step: number, body: () => void): this {
    this.emit(op.block, op.void, op.loop, op.void);
    this.get(p).get(end).emit(op.i32LtU, op.i32Eqz, op.brIf, 1);
    body();
    if (step !== 0) this.addConst(p, step); // 0: the body advances p itself
    return this.emit(op.br, 0, op.end, op.end);
  }
  /** v128.const of sixteen zero bytes (+0 in every lane). */
  v128Zero(): this {
    return this.simd(simd.v128Const, ...new Array(16).fill(0));
  }
  /** A SIMD instruction, with its immediate bytes (a memarg for loads and stores). */
  simd(sub: number, ...immediates: number[]): this {
    return this.emit(0xfd, ...uleb(sub), ...immediates);
  }
  /** Memory argument: alignment exponent and byte offset. */
  static memarg(alignLog2: number, offset: number): number[] {
    return [...uleb(alignLog2), ...uleb(offset)];
  }
}

export interface FunctionDef {
  name: string;
  params: ValType[];
  /** Locals after the parameters, in order. */
  locals: ValType[];
  body: Code;
  /** What the body leaves on the stack (none when absent). */
  results?: ValType[];
}

/** Grow `memory` to hold at least `bytes` (views of its old buffer must then be made again). */
export function growTo(memory: WebAssembly.Memory, bytes: number): void {
  if (memory.buffer.byteLength < bytes) memory.grow(Math.ceil((bytes - memory.buffer.byteLength) / 65536));
}

/**
 * A module importing its memory as env.memory and exporting every function by name. `shared`: the memory is a
 * shared one of at most 65536 pages (as src/kernels/wasm/memory.ts makes it), which a module must declare so.
 */
export function moduleBytes(functions: readonly FunctionDef[], shared = false): Uint8Array {
  const types = functions.map((f) => [0x60, ...vector(f.params.map((p) => [p])), ...vector((f.results ?? []).map((r) => [r]))]);
  const limits = shared ? [0x03, ...uleb(1), ...uleb(65536)] : [0x00, ...uleb(1)]; // min 1 page; shared: max 4 GiB
  const imports = [[...utf8('env'), ...utf8('memory'), 0x02, ...limits]];
  const funcs = functions.map((_, i) => uleb(i));
  const exports = functions.map((f, i) => [...utf8(f.name), 0x00, ...uleb(i)]);
  const bodies = functions.map((f) => {
    // Locals are declared as runs of one type.
    const runs: number[][] = [];
    for (let i = 0; i < f.locals.length; ) {
      let j = i;
      while (j < f.locals.length && f.locals[j] === f.locals[i]) j++;
      runs.push([...uleb(j - i), f.locals[i]]);
      i = j;
    }
    const body = [...vector(runs), ...f.body.bytes, op.end];
    return [...uleb(body.length), ...body];
  });
  return Uint8Array.from([
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vector(types)),
    ...section(2, vector(imports)),
    ...section(3, vector(funcs)),
    ...section(7, vector(exports)),
    ...section(10, vector(bodies)),
  ]);
}
