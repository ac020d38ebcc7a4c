/** A training worker thread (train-parallel.ts): trains the instances it is sent and posts the result back. */
import { parentPort } from 'node:worker_threads';
import { useBackend } from '../kernels/select.ts';
import { train } from './train.ts';
import type { TrainWorkerReply, TrainWorkerRequest } from './train-parallel.ts';

const post = (reply: TrainWorkerReply, moved: ArrayBuffer[] = []): void => parentPort!.postMessage(reply, moved);

parentPort!.once('message', async ({ config, backend, reportSteps }: TrainWorkerRequest) => {
  try {
    await useBackend(backend, { log: () => {} }); // the main thread already printed its choice
    const { model, ...result } = train(config, reportSteps ? (step, losses) => post({ kind: 'step', step, losses: losses.slice() }) : undefined);
    const parameters = model.parameters.map((p) => p.data.slice());
    post({ kind: 'done', result: { ...result, parameters } }, parameters.map((p) => p.buffer as ArrayBuffer));
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? e.message : String(e), name: e instanceof Error ? e.name : 'Error' });
  }
});
