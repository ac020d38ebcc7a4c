/**
 * The device side of `gpujs:webgpu` in Node, run in a worker thread by webgpu-node.ts: owns the WebGPU device,
 * serves requests with webgpu-bridge.ts's serveDevice, one at a time in the order sent, and posts each answer on
 * the port before waking the caller.
 *
 * The adapter is chosen by dawn-adapter.ts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { chooseAdapter } from './dawn-adapter.ts';
import { inOrder, serveDevice, webgpuInstance, type GpuConstructor, type Sequenced, type WebgpuGpu, type WebgpuHello, type WebgpuReply, type WebgpuRequest } from './webgpu-bridge.ts';
import type { WebgpuWorkerData } from './webgpu-node.ts';

interface GpujsExports {
  GPU: GpuConstructor;
  WebGPUContext: { acquire(): Promise<{ device: { destroy(): void; lost: Promise<unknown> } }> };
}

/**
 * Failure injection for tests (SUPERPOSITION_WEBGPU_LOSE_AFTER_RUNS=N): before the Nth device-training submission,
 * destroy the WebGPU device, as a driver reset or an unplugged GPU would lose it. 0: never.
 */
function loseDeviceAfter(serve: (req: WebgpuRequest) => Promise<WebgpuReply>, gpujs: GpujsExports, runs: number): (req: WebgpuRequest) => Promise<WebgpuReply> {
  if (!(runs > 0)) return serve;
  let seen = 0;
  return async (req) => {
    if (req.op === 'train-run' && ++seen === runs) {
      const { device } = await gpujs.WebGPUContext.acquire();
      device.destroy();
      await device.lost;
    }
    return serve(req);
  };
}

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
  let gpujs: GpujsExports;
  try {
    const { summary } = await chooseAdapter(allowSoftware);
    const m = (await import('gpu.js')) as unknown as GpujsExports & { default?: GpujsExports };
    gpujs = m.GPU ? m : m.default!;
    gpu = webgpuInstance(gpujs.GPU);
    parentPort!.postMessage({ ok: true, adapter: summary } satisfies WebgpuHello);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message } satisfies WebgpuHello);
    return;
  }

  const answer = inOrder(loseDeviceAfter(serveDevice(gpu), gpujs, Number(process.env.SUPERPOSITION_WEBGPU_LOSE_AFTER_RUNS ?? 0)), (reply) => {
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
