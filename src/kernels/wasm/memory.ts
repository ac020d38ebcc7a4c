/**
 * The wasm backend's WebAssembly memory and its allocator. Shared (a SharedArrayBuffer) wherever the engine allows
 * it, because only then do arrays handed out stay valid when the memory grows: growing a plain memory detaches every
 * view of it. With a shared memory the backend offers `KernelMemory` (types.ts): the training step's buffers live
 * here and the kernels read and write them in place. Without one (a page without cross-origin isolation) the
 * kernels copy their operands in, as they must for arrays from anywhere else.
 *
 * Free blocks are kept in address order and merged with free neighbours; a request takes the smallest free block
 * that holds it (its front part), else memory past the last block. A training run asks for the same sizes every
 * step, so this is rarely called; a process that trains many shapes one after another (the paper report: every
 * figure's sweeps) reuses the memory of the earlier ones instead of growing by each new shape. The first region is
 * kept for the kernels' constant tables.
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
  /** Free blocks below `top`, in address order, no two adjacent. */
  private readonly free: Array<{ at: number; size: number }> = [];
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
    let best = -1;
    this.free.forEach((block, i) => {
      if (block.size >= size && (best < 0 || block.size < this.free[best].size)) best = i;
    });
    if (best >= 0) {
      const block = this.free[best];
      const at = block.at;
      if (block.size === size) this.free.splice(best, 1);
      else Object.assign(block, { at: at + size, size: block.size - size });
      return at;
    }
    const at = this.top;
    this.reserve(at + size);
    this.top = at + size;
    return at;
  }

  /** Return a block from alloc(). */
  release(offset: number, floats: number): void {
    const size = (floats + 3) & ~3;
    let i = 0;
    while (i < this.free.length && this.free[i].at < offset) i++;
    const block = { at: offset, size };
    const before = this.free[i - 1];
    const after = this.free[i];
    if (before && before.at + before.size > offset) throw new Error(`wasm memory: release of floats ${offset}..${offset + size} overlaps free floats ${before.at}..${before.at + before.size}`);
    if (after && offset + size > after.at) throw new Error(`wasm memory: release of floats ${offset}..${offset + size} overlaps free floats ${after.at}..${after.at + after.size}`);
    if (before && before.at + before.size === offset) {
      before.size += size;
      if (after && before.at + before.size === after.at) {
        before.size += after.size;
        this.free.splice(i, 1);
      }
    } else if (after && offset + size === after.at) Object.assign(after, { at: offset, size: size + after.size });
    else this.free.splice(i, 0, block);
    // A free block at the end gives its memory back to `top`.
    const last = this.free[this.free.length - 1];
    if (last && last.at + last.size === this.top) {
      this.top = last.at;
      this.free.pop();
    }
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
