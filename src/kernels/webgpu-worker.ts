/**
 * The device side of `gpujs:webgpu` in Node, run in a worker thread by webgpu-node.ts: owns the WebGPU device,
 * serves requests with webgpu-bridge.ts's serveDevice, one at a time in the order sent, and posts each answer on
 * the port before waking the caller.
 *
 * The adapter is chosen by dawn-adapter.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { chooseAdapter } from './dawn-adapter.ts';
import { inOrder, serveDevice, webgpuInstance, type GpuConstructor, type Sequenced, type WebgpuGpu, type WebgpuHello, type WebgpuReply } from './webgpu-bridge.ts';
import type { WebgpuWorkerData } from './webgpu-node.ts';

async function main(): Promise<void> {
  const { port, control, allowSoftware } = workerData as WebgpuWorkerData;
  const done = new Int32Array(control);
  // If this thread ends while the caller waits (an uncaught error, process.exit), say so in slot 1 and wake it,
  // instead of leaving it to its timeout. (terminate() runs no JavaScript here; destroy() marks the bridge itself.)
  process.on('exit', () => {
    Atomics.store(done, 1, 1);
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  });
  let gpu: WebgpuGpu;
  try {
    const { summary } = await chooseAdapter(allowSoftware);
    const m = (await import('gpu.js')) as unknown as { GPU?: GpuConstructor; default?: { GPU: GpuConstructor } };
    gpu = webgpuInstance((m.GPU ?? m.default?.GPU) as GpuConstructor);
    parentPort!.postMessage({ ok: true, adapter: summary } satisfies WebgpuHello);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message } satisfies WebgpuHello);
    return;
  }

  const answer = inOrder(serveDevice(gpu), (reply) => {
    try {
      port.postMessage(reply, reply.ok && reply.out ? [reply.out.buffer as ArrayBuffer] : []);
    } catch (e) {
      port.postMessage({ ok: false, error: e instanceof Error ? e.message : String(e), unavailable: false, seq: reply.seq } satisfies Sequenced<WebgpuReply>);
    }
    Atomics.store(done, 0, 1);
    Atomics.notify(done, 0);
  });
  port.on('message', answer);
}

await main();
