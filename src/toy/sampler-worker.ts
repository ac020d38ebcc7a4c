/** The sampler thread of sampler-thread.ts: draws each batch it is asked for, until told to stop. */
import { workerData } from 'node:worker_threads';
import { sampleBatch } from './data.ts';
import { adoptSharedMemory } from '../kernels/wasm/memory.ts';
import { CONTROL, SLOT, waitWhile, type SamplerThreadData } from './sampler-thread.ts';

const { spec, keys, control, buffers, memory } = workerData as SamplerThreadData;
// Views of the backend's memory through its WebAssembly.Memory, so that the sampler writes there in place.
const shared = memory ? adoptSharedMemory(memory) : null;
const views = buffers.map(({ buffer, byteOffset, length }) => new Float32Array(shared ?? buffer, byteOffset, length));
// Test hook: fail when asked for this step, as a thread that cannot draw would (the training thread then draws it).
const failAt = process.env.SUPERPOSITION_SAMPLER_FAIL_AT_STEP === undefined ? -1 : Number(process.env.SUPERPOSITION_SAMPLER_FAIL_AT_STEP);
for (;;) {
  const requests = Atomics.load(control, CONTROL.requests);
  if (Atomics.load(control, CONTROL.stop) === 1 || Atomics.load(control, CONTROL.failed) === 1) break;
  for (const k of [0, 1]) {
    if (Atomics.compareExchange(control, CONTROL.state + k, SLOT.requested, SLOT.working) !== SLOT.requested) continue;
    try {
      const step = Atomics.load(control, CONTROL.step + k);
      if (step === failAt) throw new Error(`SUPERPOSITION_SAMPLER_FAIL_AT_STEP=${failAt}`);
      sampleBatch(spec, keys, step, views[k]);
    } catch {
      // Hand the batch back (the training thread draws it, and every later one) and stop.
      Atomics.store(control, CONTROL.failed, 1);
      Atomics.store(control, CONTROL.state + k, SLOT.requested);
      Atomics.notify(control, CONTROL.state + k);
      process.exit(1);
    }
    Atomics.store(control, CONTROL.state + k, SLOT.ready);
    Atomics.notify(control, CONTROL.state + k);
  }
  waitWhile(control, CONTROL.requests, requests, 2); // until the next request (at once if one came meanwhile)
}
