/** A sweep worker thread: trains the chunks it is sent and posts the outputs back. */
import { parentPort } from 'node:worker_threads';
import { useBackend } from '../kernels/select.ts';
import { trainChunk, type ChunkRun } from './chunk.ts';
import { prefetchingBatches } from '../toy/sampler-thread.ts';
import type { SweepConfig } from './experiments.ts';

parentPort!.on('message', async (msg: { id: number; config: SweepConfig; runs: ChunkRun[]; backend: string; samplerThread: boolean }) => {
  try {
    await useBackend(msg.backend, { log: () => {} }); // the main thread already printed its choice
    const outputs = trainChunk(msg.config, msg.runs, (steps) => parentPort!.postMessage({ id: msg.id, steps }), msg.samplerThread ? prefetchingBatches : undefined);
    parentPort!.postMessage({ id: msg.id, outputs });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? (process.env.DEBUG ? (e.stack ?? e.message) : e.message) : String(e) });
  }
});
