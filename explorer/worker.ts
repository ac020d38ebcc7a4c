/**
 * The explorer's Web Worker: trains one chunk of a sweep (the same trainChunk the command line's worker threads
 * run), posting progress every 50 steps and the chunk's outputs at the end, with the backend and trainer that
 * ran it (gpujs:webgpu trains with the device trainer).
 */
import { gpujsGlobal } from '../src/kernels/gpujs.ts';
import { useBackend } from '../src/kernels/select.ts';
import { trainChunk, type ChunkRun } from '../src/phase/chunk.ts';
import type { SweepConfig } from '../src/phase/experiments.ts';
import { trainerFor } from '../src/toy/train.ts';

export interface ChunkRequest {
  id: number;
  config: SweepConfig;
  runs: ChunkRun[];
  backend: string;
  /** gpujs:webgpu: accept a software adapter (tests). */
  allowSoftwareGpu?: boolean;
}

declare const self: { onmessage: ((e: { data: ChunkRequest }) => void) | null; postMessage(message: unknown, transfer?: ArrayBuffer[]): void };

self.onmessage = async ({ data }) => {
  try {
    // gpu.js's browser build (beside this file) defines the GPU global that select.ts uses; in a worker its WebGL
    // kernels draw on an OffscreenCanvas. (Chromium already has a `GPU`: WebGPU's interface, not gpu.js.)
    // gpujs:webgpu loads it in its own device worker (webgpu-device-worker.js, beside this file).
    if (data.backend.startsWith('gpujs') && data.backend !== 'gpujs:webgpu' && !gpujsGlobal()) await import(new URL('./gpu-browser.min.js', import.meta.url).href);
    const kernels = await useBackend(data.backend, { log: () => {}, allowSoftwareGpu: data.allowSoftwareGpu });
    const outputs = trainChunk(data.config, data.runs, (steps) => self.postMessage({ id: data.id, kind: 'steps', steps: steps * data.runs.length }));
    self.postMessage({ id: data.id, kind: 'done', backend: kernels.name, trainer: trainerFor({}), outputs });
  } catch (e) {
    self.postMessage({ id: data.id, kind: 'error', message: e instanceof Error ? e.message : String(e) });
  }
};
