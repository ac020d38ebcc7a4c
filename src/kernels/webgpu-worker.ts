/**
 * The WebGPU side of the `gpujs:webgpu` backend, run in a worker thread by webgpu-node.ts.
 *
 * gpu.js reads WebGPU results back only through Promises (mapAsync). This thread owns the WebGPU device and
 * awaits them; the main thread blocks on a shared Int32Array (Atomics.wait) until the answer is posted, so the
 * kernels interface stays synchronous. Requests are handled one at a time, in the order they were sent.
 *
 * Adapter choice: Dawn's default backends (Vulkan on Linux) with a high-performance preference; a software
 * adapter (Dawn's fallback flag, or llvmpipe/lavapipe/SwiftShader by name) is refused unless the caller allowed
 * it, and only then is Dawn's OpenGL ES backend tried too (Mesa llvmpipe through EGL, which needs no display:
 * how CI exercises this path on a machine without a GPU).
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { MatmulSpec } from './types.ts';
import { matmulKernelKey, matmulKernelSettings, matmulSource, uploadKernelSettings, uploadSource, verifyKernelClass } from './gpujs.ts';

export interface WebgpuWorkerData {
  port: MessagePort;
  /** Int32Array[1]: set to 1 (and notified) after each answer is posted on `port`. */
  control: SharedArrayBuffer;
  allowSoftware: boolean;
}

/** A device-resident array, referred to by id across the thread boundary. */
export interface DeviceRef {
  id: number;
}
export type Operand = Float32Array | DeviceRef;

export type WebgpuRequest =
  | { op: 'matmul'; a: Operand; b: Operand; spec: MatmulSpec; aLength: number; bLength: number; pipeline: boolean }
  | { op: 'upload'; x: Float32Array }
  | { op: 'read'; id: number }
  | { op: 'free'; id: number };

export type WebgpuReply =
  | { ok: true; out?: Float32Array; id?: number }
  | { ok: false; error: string; unavailable: boolean };

/** Requests and replies on the wire carry a sequence number: a late reply is never taken for another's. */
export type Sequenced<T> = T & { seq: number };

/** What the worker says once it has a device (or why it has none). */
export type WebgpuHello = { ok: true; adapter: AdapterSummary } | { ok: false; error: string };

export interface AdapterSummary {
  /** e.g. "NVIDIA H100 80GB HBM3 (vulkan)" or "llvmpipe (OpenGL ES 3.2 Mesa 22.3.6), software" */
  description: string;
  software: boolean;
}

/** Names of CPU rasterisers that do not call themselves fallback adapters. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render/i;

interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface AdapterLike {
  info: AdapterInfoLike;
}
interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: Record<string, unknown>): Promise<AdapterLike | null> };
  globals: Record<string, unknown>;
}

function summarize(info: AdapterInfoLike, backend: string): AdapterSummary {
  const names = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const software = info.isFallbackAdapter === true || SOFTWARE_NAMES.test(names);
  const name = info.device || info.description || info.vendor || 'unnamed adapter';
  const detail = info.description && info.description !== name ? ` (${info.description})` : '';
  return { description: `${name}${detail} via ${backend}${software ? ', software' : ''}`, software };
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
    const summary = summarize(adapter.info, backend);
    if (summary.software && !allowSoftware) {
      refused.push(`${backend}: only ${summary.description}, a CPU rasteriser`);
      continue;
    }
    return { adapter, summary };
  }
  const hint = allowSoftware
    ? "install an NVIDIA driver with its Vulkan ICD, or for testing Mesa's EGL/GLES drivers (Debian: libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri) for the software OpenGL ES path"
    : 'install an NVIDIA driver with its Vulkan ICD, or set SUPERPOSITION_WEBGPU_SOFTWARE=1 to accept a software adapter (for testing; slower than js)';
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
  let gpu: { createKernel(source: string, settings: Record<string, unknown>): GpuKernel; Kernel: { name: string } | null };
  try {
    const { adapter, summary } = await chooseAdapter(allowSoftware);
    // gpu.js asks navigator.gpu for its adapter: hand it the one chosen above.
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu: { requestAdapter: async () => adapter, getPreferredCanvasFormat: () => 'rgba8unorm' } },
      configurable: true,
      writable: true,
    });
    const m = (await import('gpu.js')) as unknown as { GPU?: GpuConstructor; default?: { GPU: GpuConstructor } };
    const GPU = (m.GPU ?? m.default?.GPU) as GpuConstructor;
    gpu = new GPU({ mode: 'webgpu' });
    if (gpu.Kernel?.name !== 'WebGPUKernel') throw new Error(`gpu.js would run ${gpu.Kernel?.name ?? 'nothing'}, not WebGPUKernel`);
    parentPort!.postMessage({ ok: true, adapter: summary } satisfies WebgpuHello);
  } catch (e) {
    parentPort!.postMessage({ ok: false, error: (e as Error).message } satisfies WebgpuHello);
    return;
  }

  const kernels = new Map<string, GpuKernel>();
  const uploads = new Map<number, GpuKernel>();
  const onDevice = new Map<number, BufferResult>();
  let nextId = 1;

  const operand = (x: Operand): Float32Array | BufferResult => {
    if (x instanceof Float32Array) return x;
    const held = onDevice.get(x.id);
    if (!held) throw new Error(`gpujs:webgpu: device array #${x.id} was freed or never existed`);
    return held;
  };
  const keep = (r: BufferResult): number => {
    onDevice.set(nextId, r);
    return nextId++;
  };

  async function handle(req: WebgpuRequest): Promise<WebgpuReply> {
    switch (req.op) {
      case 'matmul': {
        // As gpujs.ts's runMatmul: a new kernel is cached only once its first run passed the class check.
        const key = matmulKernelKey(req.spec, req.aLength, req.bLength, req.pipeline);
        const cached = kernels.get(key);
        const kernel = cached ?? gpu.createKernel(matmulSource, matmulKernelSettings(req.spec, req.aLength, req.bLength, req.pipeline));
        const result = await kernel(operand(req.a), operand(req.b), Float32Array.from(req.spec.aOffsets), Float32Array.from(req.spec.bOffsets));
        if (!cached) {
          verifyKernelClass('webgpu', kernel);
          kernels.set(key, kernel);
        }
        if (req.pipeline) return { ok: true, id: keep(result as BufferResult) };
        return { ok: true, out: (result as Float32Array).slice() };
      }
      case 'upload': {
        let kernel = uploads.get(req.x.length);
        if (!kernel) {
          kernel = gpu.createKernel(uploadSource, uploadKernelSettings(req.x.length));
          uploads.set(req.x.length, kernel);
        }
        return { ok: true, id: keep((await kernel(req.x)) as BufferResult) };
      }
      case 'read':
        return { ok: true, out: ((await (operand({ id: req.id }) as BufferResult).toArray()) as Float32Array).slice() };
      case 'free':
        onDevice.get(req.id)?.delete();
        onDevice.delete(req.id);
        return { ok: true };
    }
  }

  const failure = (e: unknown): WebgpuReply => ({
    ok: false,
    error: e instanceof Error ? e.message : String(e),
    unavailable: e instanceof Error && e.name === 'BackendUnavailableError',
  });
  // One request at a time, in the order sent; the chain never rejects (every failure becomes a reply).
  let queue = Promise.resolve();
  port.on('message', (req: Sequenced<WebgpuRequest>) => {
    queue = queue.then(async () => {
      const reply = await handle(req).catch(failure);
      if (req.op === 'free') return; // fire and forget: nobody waits
      try {
        port.postMessage({ ...reply, seq: req.seq } satisfies Sequenced<WebgpuReply>, reply.ok && reply.out ? [reply.out.buffer as ArrayBuffer] : []);
      } catch (e) {
        port.postMessage({ ...failure(e), seq: req.seq } satisfies Sequenced<WebgpuReply>);
      }
      Atomics.store(done, 0, 1);
      Atomics.notify(done, 0);
    });
  });
}

type GpuConstructor = new (settings: { mode: string }) => { createKernel(source: string, settings: Record<string, unknown>): GpuKernel; Kernel: { name: string } | null };
interface GpuKernel {
  (...args: unknown[]): Promise<unknown>;
  kernel: { constructor: { name: string }; precision?: string; fallbackReason?: string };
}
interface BufferResult {
  toArray(): Promise<unknown>;
  delete(): void;
}

await main();
