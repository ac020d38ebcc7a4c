/**
 * The wasm backend's WebAssembly memory and its allocator. Shared (a SharedArrayBuffer) wherever the engine allows
 * it, because only then do arrays handed out stay valid when the memory grows: growing a plain memory detaches every
 * view of it. With a shared memory the backend offers `KernelMemory` (types.ts): the training step's buffers live
 * here and the kernels read and write them in place. Without one (a page without cross-origin isolation) the
 * kernels copy their operands in, as they must for arrays from anywhere else.
 *
 * Blocks are kept on free lists by exact size (a training run asks for the same sizes every step and every run of
 * a sweep chunk), above a first region that the kernels keep for constant tables.
 */
import { growTo } from './emit.ts';

/** 4 GiB: all that 32-bit addresses reach. A shared memory reserves it up front (address space, not memory). */
const MAX_PAGES = 65536;
/** Floats at the bottom of memory kept for the kernels' constant tables. */
export const RESERVED_FLOATS = 64;

export class KernelHeap {
  readonly memory: WebAssembly.Memory;
  readonly shared: boolean;
  /** All of memory as floats; replaced when memory grows. */
  floats: Float32Array;
  private top = RESERVED_FLOATS;
  private readonly free = new Map<number, number[]>();
  /** The buffers of memory, one per growth: an array lies in this memory when its buffer is one of them. */
  private readonly buffers = new WeakSet<ArrayBufferLike>();

  constructor() {
    this.memory = makeMemory();
    this.shared = typeof SharedArrayBuffer !== 'undefined' && this.memory.buffer instanceof SharedArrayBuffer;
    this.floats = new Float32Array(this.memory.buffer);
    this.track(this.memory.buffer);
  }

  private track(buffer: ArrayBufferLike): void {
    this.buffers.add(buffer);
    if (this.shared) sharedOwners.set(buffer, this.memory);
  }

  /** The float offset of a block of `floats` floats (a multiple of 4, so 16-byte aligned), contents undefined. */
  alloc(floats: number): number {
    const size = (floats + 3) & ~3;
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) return reused;
    const at = this.top;
    this.reserve(at + size);
    this.top = at + size;
    return at;
  }

  /** Return a block from alloc(). */
  release(offset: number, floats: number): void {
    const size = (floats + 3) & ~3;
    const list = this.free.get(size);
    if (list) list.push(offset);
    else this.free.set(size, [offset]);
  }

  /** Make memory at least `floats` floats long (kernels' scratch beyond `top` stays below what alloc hands out). */
  reserve(floats: number): void {
    try {
      growTo(this.memory, floats * 4);
    } catch (error) {
      throw new RangeError(`wasm backend: ${((floats * 4) / 2 ** 30).toFixed(2)} GiB of WebAssembly memory needed, more than the 4 GiB it can address (${(error as Error).message}); train fewer instances at once (a smaller sweep chunk)`);
    }
    if (this.floats.buffer !== this.memory.buffer) {
      this.floats = new Float32Array(this.memory.buffer);
      this.track(this.memory.buffer);
    }
  }

  /** The float offset of `array` when it lies in this memory (only a shared memory's arrays survive growth). */
  offsetOf(array: Float32Array): number | null {
    return this.buffers.has(array.buffer) ? array.byteOffset / 4 : null;
  }
}

/** The shared memories' buffers (one per growth) and their memory, for code outside the backend that writes there. */
const sharedOwners = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();

/**
 * The shared WebAssembly memory of a backend that `array` lies in, or null: the batch sampler writes a batch there
 * from its own module instead of copying it in.
 */
export function sharedMemoryOf(array: ArrayBufferView): WebAssembly.Memory | null {
  return sharedOwners.get(array.buffer) ?? null;
}

/**
 * A backend's shared memory as another thread received it: its buffer, registered so that sharedMemoryOf finds
 * the memory from views of that buffer.
 */
export function adoptSharedMemory(memory: WebAssembly.Memory): ArrayBufferLike {
  const buffer = memory.buffer;
  sharedOwners.set(buffer, memory);
  return buffer;
}

function makeMemory(): WebAssembly.Memory {
  if (typeof SharedArrayBuffer !== 'undefined') {
    try {
      return new WebAssembly.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
    } catch {
      // no shared WebAssembly memory here (no cross-origin isolation, or no threads support): a plain one
    }
  }
  return new WebAssembly.Memory({ initial: 16 });
}
