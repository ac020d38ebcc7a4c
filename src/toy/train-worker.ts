/** A training worker thread (train-parallel.ts): trains the instances it is sent and posts the result back. */
import { parentPort } from 'node:worker_threads';
import { useBackend } from '../kernels/select.ts';
import { train } from './train.ts';
import { prefetchingBatches } from './sampler-thread.ts';
import { STEP_BATCH, type TrainWorkerReply, type TrainWorkerRequest } from './train-parallel.ts';

const post = (reply: TrainWorkerReply, moved: ArrayBuffer[] = []): void => parentPort!.postMessage(reply, moved);

parentPort!.once('message', async ({ config, backend, reportSteps, samplerThread }: TrainWorkerRequest) => {
  try {
    await useBackend(backend, { log: () => {} }); // the main thread already printed its choice
    // Step losses travel in batches (a message per step cost more than a small model's step).
    let first = 0;
    let batch: Float32Array[] = [];
    const flush = (): void => {
      if (batch.length === 0) return;
      const losses = new Float32Array(batch.length * batch[0].length);
      batch.forEach((l, k) => losses.set(l, k * l.length));
      post({ kind: 'steps', first, count: batch.length, losses }, [losses.buffer as ArrayBuffer]);
      batch = [];
    };
    const onStep = (step: number, losses: Float32Array): void => {
      if (batch.length === 0) first = step;
      batch.push(losses.slice());
      if (batch.length === STEP_BATCH) flush();
    };
    const { model, ...result } = train(config, reportSteps ? onStep : undefined, samplerThread ? prefetchingBatches : undefined);
    flush();
    const parameters = model.parameters.map((p) => p.data.slice());
    post({ kind: 'done', result: { ...result, parameters } }, parameters.map((p) => p.buffer as ArrayBuffer));
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e), name: e instanceof Error ? e.name : 'Error' });
  }
});
