/**
 * Reusing op outputs across training steps. Inside `arena.run(fn)`, ops take their output buffers from the
 * arena's pool (by exact length) instead of allocating fresh, zero-filled memory, and every buffer handed out
 * returns to the pool when fn ends. A training step builds the same graph with the same shapes every time, so
 * from the second step on no op allocates (fresh multi-megabyte arrays cost a page fault per 4 KiB page).
 *
 * The contract: nothing allocated inside run() may be used after it returns. The trainer keeps it (the loss
 * values are read inside the step; gradients of parameters are copied out by the engine). Pooled buffers are
 * not zeroed: every kernel and op writes all of its output, which the tests check by comparing bytes with
 * and without an arena.
 *
 * Given a backend's KernelMemory, the arena takes its larger buffers from there, so that the backend's kernels
 * work on them in place; dispose() gives them back when the run is over.
 */
import type { KernelMemory } from '../kernels/types.ts';

/** Buffers of at least this many floats come from the backend's memory, when the arena has one. */
const IN_KERNEL_MEMORY = 1024;

export class Arena {
  private readonly pool = new Map<number, Float32Array[]>();
  private used: Float32Array[] = [];

  constructor(private readonly memory?: KernelMemory) {}

  run<T>(fn: () => T): T {
    const previous = active;
    active = this;
    try {
      return fn();
    } finally {
      active = previous;
      for (const buffer of this.used) {
        const list = this.pool.get(buffer.length);
        if (list) list.push(buffer);
        else this.pool.set(buffer.length, [buffer]);
      }
      this.used = [];
    }
  }

  take(length: number): Float32Array {
    const buffer = this.pool.get(length)?.pop() ?? (this.memory && length >= IN_KERNEL_MEMORY ? this.memory.allocate(length) : new Float32Array(length));
    this.used.push(buffer);
    return buffer;
  }

  /** Give the buffers from the backend's memory back (outside run(); the arena is empty afterwards). */
  dispose(): void {
    if (this.memory) for (const list of this.pool.values()) for (const buffer of list) if (buffer.length >= IN_KERNEL_MEMORY) this.memory.release(buffer);
    this.pool.clear();
  }
}

let active: Arena | null = null;

/** An output buffer for an op: from the running arena when there is one (contents undefined), else fresh. */
export function allocate(length: number): Float32Array {
  return active === null ? new Float32Array(length) : active.take(length);
}
