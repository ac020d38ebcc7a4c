/**
 * A run's batches drawn one step ahead on a thread of their own (Node): while step s trains on its batch, the
 * thread draws batch s + 1 into the other of two buffers. The small tied models spend 40-55% of a step on the
 * wasm backend sampling; this takes it off the training thread. The bytes are sampleBatch's (the same function,
 * on the other thread), so results do not depend on which thread drew a batch: the training thread draws one
 * itself whenever the sampler thread has not started it (while the thread boots, or if it never does).
 *
 * The buffers lie in the backend's memory when it offers one (a SharedArrayBuffer: the kernels read the batch in
 * place), else in a SharedArrayBuffer of their own. The threads agree through Atomics on a few shared words.
 */
import { Worker } from 'node:worker_threads';
import { sampleBatch } from './data.ts';
import type { BatchSourceFactory } from './train.ts';
import { moduleFile } from '../module-file.ts';
import { sharedMemoryOf } from '../kernels/wasm/memory.ts';

/** Control words: a state and a step per buffer, then a request counter, the stop flag, and 1 once the thread has failed. */
export const CONTROL = { state: 0, step: 2, requests: 4, stop: 5, failed: 6, length: 7 } as const;
/** A buffer's states. The sampler thread takes REQUESTED -> WORKING -> READY; the training thread REQUESTED -> MAIN -> READY. */
export const SLOT = { idle: 0, requested: 1, working: 2, ready: 3, main: 4 } as const;

/**
 * Wait until control[at] is no longer `value`: spinning first for about `spinMs` (waking a sleeping thread costs tens
 * of microseconds, a third of a small model's step), then sleeping in Atomics.wait.
 */
export function waitWhile(control: Int32Array, at: number, value: number, spinMs: number): void {
  const until = performance.now() + spinMs;
  while (Atomics.load(control, at) === value) {
    if (performance.now() > until) Atomics.wait(control, at, value);
  }
}

/** What the sampler thread is started with. */
export interface SamplerThreadData {
  entry: string;
  spec: Parameters<typeof sampleBatch>[0];
  keys: Int32Array;
  control: Int32Array;
  buffers: Array<{ buffer: SharedArrayBuffer; byteOffset: number; length: number }>;
  /** The backend's shared WebAssembly memory the buffers lie in, if they do: the sampler then writes there in place. */
  memory?: WebAssembly.Memory;
}

/** A BatchSource that also says how many of its batches the sampler thread drew (the rest: the training thread). */
export type PrefetchingSource = ReturnType<BatchSourceFactory> & { drawnByThread(): number; /** whether the sampler thread failed (the training thread then drew the rest) */ failed(): boolean };

export const prefetchingBatches = (...[spec, keys, steps, memory]: Parameters<BatchSourceFactory>): PrefetchingSource => {
  const length = spec.instances * spec.batch * spec.features;
  // The backend's arrays when they are shared (the wasm backend offers memory only then), else our own.
  let buffers = memory ? [memory.allocate(length), memory.allocate(length)] : [];
  const ownBuffers = !buffers.every((b) => b.buffer instanceof SharedArrayBuffer) || buffers.length === 0;
  if (ownBuffers) {
    for (const b of buffers) memory!.release(b);
    buffers = [0, 1].map(() => new Float32Array(new SharedArrayBuffer(4 * length)));
  }
  const control = new Int32Array(new SharedArrayBuffer(4 * CONTROL.length));
  control[CONTROL.step] = control[CONTROL.step + 1] = -1;
  let worker: Worker;
  try {
    worker = new Worker(new URL('../worker-boot.mjs', import.meta.url), {
      workerData: {
        entry: moduleFile('./sampler-worker', import.meta.url).href,
        spec,
        keys,
        control,
        buffers: buffers.map((b) => ({ buffer: b.buffer as SharedArrayBuffer, byteOffset: b.byteOffset, length: b.length })),
        memory: ownBuffers ? undefined : (sharedMemoryOf(buffers[0]) ?? undefined),
      } satisfies SamplerThreadData,
    });
  } catch (e) {
    if (!ownBuffers) for (const b of buffers) memory!.release(b);
    throw e;
  }
  worker.unref();
  // A thread that fails (see sampler-worker.ts) hands its batch back and stops: the training thread draws the rest.
  worker.on('error', () => {});

  const waitWhileWorking = (k: number) => waitWhile(control, CONTROL.state + k, SLOT.working, 1);
  /** Take buffer k for this thread: once the sampler thread is off it, whatever its state. */
  const claim = (k: number) => {
    for (;;) {
      const state = Atomics.load(control, CONTROL.state + k);
      if (state === SLOT.working) waitWhileWorking(k);
      else if (Atomics.compareExchange(control, CONTROL.state + k, state, SLOT.main) === state) return;
    }
  };
  let drawnHere = 0;
  let handedOut = 0;
  /** Draw `step` into buffer k on this thread (claimed: the slot is not the sampler thread's). */
  const drawHere = (k: number, step: number) => {
    drawnHere++;
    sampleBatch(spec, keys, step, buffers[k]);
    Atomics.store(control, CONTROL.step + k, step);
    Atomics.store(control, CONTROL.state + k, SLOT.ready);
  };
  return {
    batch(step) {
      const k = step & 1;
      const at = CONTROL.state + k;
      if (Atomics.load(control, CONTROL.step + k) !== step) {
        // never asked for (the first step, or a step out of order)
        claim(k);
        drawHere(k, step);
      } else {
        for (;;) {
          const state = Atomics.load(control, at);
          if (state === SLOT.ready) break;
          if (state === SLOT.working) waitWhileWorking(k);
          // not started by the thread (still booting, or busy): draw it here
          else if (state === SLOT.requested && Atomics.compareExchange(control, at, SLOT.requested, SLOT.main) === SLOT.requested) {
            drawHere(k, step);
            break;
          }
        }
      }
      // Ask for the next batch in the other buffer, whose batch (step - 1) is used up: claimed first, so that the
      // thread cannot be drawing into it while its step changes.
      if (step + 1 < steps) {
        const next = 1 - k;
        claim(next);
        Atomics.store(control, CONTROL.step + next, step + 1);
        Atomics.store(control, CONTROL.state + next, SLOT.requested);
        Atomics.add(control, CONTROL.requests, 1);
        Atomics.notify(control, CONTROL.requests);
      }
      handedOut++;
      return buffers[k];
    },
    drawnByThread: () => handedOut - drawnHere,
    failed: () => Atomics.load(control, CONTROL.failed) === 1,
    close() {
      Atomics.store(control, CONTROL.stop, 1);
      Atomics.add(control, CONTROL.requests, 1);
      Atomics.notify(control, CONTROL.requests);
      // Nothing may write into the buffers once they are given back.
      for (const k of [0, 1]) {
        if (Atomics.compareExchange(control, CONTROL.state + k, SLOT.requested, SLOT.idle) !== SLOT.requested) waitWhileWorking(k);
      }
      void worker.terminate();
      if (!ownBuffers) for (const b of buffers) memory!.release(b);
      // Not silent: the run's results are the same, but it ran slower than planned.
      if (Atomics.load(control, CONTROL.failed) === 1) process.emitWarning(`the sampler thread failed after drawing ${handedOut - drawnHere} of ${handedOut} batches; the training thread drew the rest (the same bytes, more slowly)`, 'SamplerThreadWarning');
    },
  };
};
