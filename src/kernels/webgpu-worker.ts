/**
 * The device side of `gpujs:webgpu` in Node, run in a worker thread by webgpu-node.ts: owns the WebGPU device,
 * serves requests with webgpu-bridge.ts's serveDevice, one at a time in the order sent, and posts each answer on
 * the port before waking the caller.
 *
 * Adapter choice: Dawn's default backends (Vulkan on Linux) with a high-performance preference; a software
 * adapter (Dawn's fallback flag, or llvmpipe/lavapipe/SwiftShader by name) is refused unless the caller allowed
 * it, and only then is Dawn's OpenGL ES backend tried too (Mesa llvmpipe through EGL, which needs no display:
 * how CI exercises this path on a machine without a GPU).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { inOrder, serveDevice, SOFTWARE_HINT, summarizeAdapter, webgpuInstance, type AdapterInfoLike, type AdapterSummary, type GpuConstructor, type Sequenced, type WebgpuGpu, type WebgpuHello, type WebgpuReply } from './webgpu-bridge.ts';
import type { WebgpuWorkerData } from './webgpu-node.ts';

interface AdapterLike {
  info: AdapterInfoLike;
}
interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null> };
  globals: Record<string, unknown>;
}

let dawnInstance: ReturnType<DawnModule['create']> | null = null;

async function chooseAdapter(allowSoftware: boolean): Promise<{ adapter: AdapterLike; summary: AdapterSummary }> {
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (e) {
    throw new Error(`the 'webgpu' package (Dawn for Node) cannot be loaded (${(e as Error).message}); install it with npm install webgpu@0.6.2 (needs glibc >= 2.34)`);
  }
  Object.assign(globalThis, dawn.globals); // GPUBufferUsage, GPUMapMode, ... which gpu.js reads as globals
  const attempts: { backend: string; flags: string[]; options: Record<string, unknown> }[] = [
    { backend: 'Dawn default (Vulkan/Metal/D3D12)', flags: [], options: { powerPreference: 'high-performance' } },
  ];
  if (allowSoftware) attempts.push({ backend: 'Dawn OpenGL ES', flags: ['backend=opengles'], options: { featureLevel: 'compatibility' } });
  const refused: string[] = [];
  for (const { backend, flags, options } of attempts) {
    // Keep the Dawn instance referenced for the worker's life: once it is collected, the adapter and device made
    // from it crash the process (segfault) at the next dispatch.
    dawnInstance = dawn.create(flags);
    const adapter = await dawnInstance.requestAdapter(options);
    if (!adapter) {
      refused.push(`${backend}: no adapter`);
      continue;
    }
    const summary = summarizeAdapter(adapter.info, backend);
    if (summary.software && !allowSoftware) {
      refused.push(`${backend}: only ${summary.description}, a CPU rasteriser`);
      continue;
    }
    return { adapter, summary };
  }
  const hint = allowSoftware
    ? "install an NVIDIA driver with its Vulkan ICD, or for testing Mesa's EGL/GLES drivers (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) for the software OpenGL ES path"
    : `install an NVIDIA driver with its Vulkan ICD, or ${SOFTWARE_HINT}`;
  throw new Error(`no WebGPU adapter${allowSoftware ? '' : ' on a GPU'} (${refused.join('; ')}); ${hint}`);
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
  try {
    const { adapter, summary } = await chooseAdapter(allowSoftware);
    // gpu.js asks navigator.gpu for its adapter: hand it the one chosen above.
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm' } },
      configurable: true,
      writable: true,
    });
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
