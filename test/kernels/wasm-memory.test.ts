/** The wasm backend's memory (src/kernels/wasm/memory.ts): arrays handed out survive growth, blocks are reused. */
import { expect, it } from 'vitest';
import { KernelHeap } from '../../src/kernels/wasm/memory.ts';
import { createWasmKernels } from '../../src/kernels/wasm.ts';

it('arrays handed out keep their values and stay live when the memory grows (it is shared)', () => {
  const heap = new KernelHeap();
  expect(heap.shared).toBe(true); // Node has shared WebAssembly memory
  const at = heap.alloc(1000);
  const view = new Float32Array(heap.memory.buffer, at * 4, 1000);
  view.forEach((_, i) => (view[i] = i + 0.5));
  const before = heap.memory.buffer.byteLength;
  heap.alloc(16 * 2 ** 20); // 64 MiB: the memory grows
  expect(heap.memory.buffer.byteLength).toBeGreaterThan(before);
  expect(view.length).toBe(1000); // not detached
  expect(view[999]).toBe(999.5);
  view[3] = -7; // and still the same memory
  expect(heap.floats[at + 3]).toBe(-7);
  expect(heap.offsetOf(view)).toBe(at);
  expect(heap.offsetOf(new Float32Array(10))).toBeNull();
});

it('a released block is handed out again for the same size; sizes round up to 4 floats (16-byte alignment)', () => {
  const heap = new KernelHeap();
  const a = heap.alloc(10);
  const b = heap.alloc(10);
  expect(b - a).toBe(12);
  expect(a % 4).toBe(0);
  heap.release(a, 10);
  expect(heap.alloc(12)).toBe(a); // 10 and 12 floats are the same block size
  expect(heap.alloc(10)).not.toBe(a);
});

it('freed neighbours merge, a request takes the smallest free block that holds it, and memory is not grown while free blocks hold a request', () => {
  const heap = new KernelHeap();
  const [a, b, c, d] = [heap.alloc(100), heap.alloc(200), heap.alloc(300), heap.alloc(8)];
  expect([b - a, c - b, d - c]).toEqual([100, 200, 300]);
  heap.release(b, 200);
  heap.release(a, 100); // merges with b's block after it
  heap.release(c, 300); // and c's: one free block of 600 floats at a
  const bytes = heap.memory.buffer.byteLength;
  expect(heap.alloc(550)).toBe(a); // a shape no run asked for before, in the merged block
  expect(heap.alloc(40)).toBe(a + 552); // the rest of it (48 floats): the smallest that holds 40
  expect(heap.alloc(8)).toBe(a + 592);
  expect(heap.alloc(4)).toBe(d + 8); // nothing free left below the end: past the last block
  expect(heap.memory.buffer.byteLength).toBe(bytes);
  // a free block at the end gives its memory back: the next request starts there
  const [e, f] = [heap.alloc(1000), heap.alloc(1000)];
  heap.release(f, 1000);
  heap.release(e, 1000);
  expect(heap.alloc(2000)).toBe(e);
  expect(() => heap.release(a, 100)).not.toThrow();
  expect(() => heap.release(a + 4, 8)).toThrow(/release of floats .* overlaps free floats/);
});

it('more than 4 GiB is an error that names the size and how to need less', () => {
  const heap = new KernelHeap();
  expect(() => heap.alloc(2 ** 30 + 2 ** 28)).toThrow(/5\.00 GiB of WebAssembly memory needed, more than the 4 GiB it can address .*train fewer instances at once \(a smaller sweep chunk\)/);
});

it('the backend offers its memory, and release() refuses an array it did not give', () => {
  const k = createWasmKernels();
  const x = k.memory!.allocate(100);
  expect(x.buffer).toBeInstanceOf(SharedArrayBuffer);
  expect(Array.from(x.subarray(0, 3))).toEqual([0, 0, 0]); // zero-filled
  k.memory!.release(x);
  expect(() => k.memory!.release(new Float32Array(100))).toThrow('wasm backend: release() of an array that allocate() did not give');
});

it('a product whose output overlaps an operand in the memory is computed as if they were apart', async () => {
  const { batchedSpec } = await import('../../src/kernels/types.ts');
  const k = createWasmKernels();
  const [m, kk, n] = [64, 64, 64];
  const block = k.memory!.allocate(2 * m * kk);
  let seed = 3;
  block.forEach((_, i) => (block[i] = ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5));
  const [a, b] = [block.subarray(0, m * kk), block.subarray(m * kk)];
  const expected = new Float32Array(m * n);
  k.matmul(a.slice(), b.slice(), expected, batchedSpec(1, m, kk, n, false, false));
  k.matmul(a, b, a, batchedSpec(1, m, kk, n, false, false)); // out is a
  expect(Array.from(a)).toEqual(Array.from(expected));
});
