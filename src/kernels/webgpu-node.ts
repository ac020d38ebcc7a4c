/**
 * `gpujs:webgpu` in Node: gpu.js's WebGPU backend (Dawn, from the `webgpu` package) behind the synchronous
 * kernels interface.
 *
 * gpu.js can read WebGPU results back only through Promises, and a thread cannot block on its own Promise. So a
 * worker thread (webgpu-worker.ts) owns the device and awaits the results; this thread posts each request and
 * blocks on a shared flag with Atomics.wait until the answer is there, then takes it with receiveMessageOnPort.
 * A call costs two message hops (~20-50 us) beyond the GPU's own upload, dispatch and read-back, so the
 * backend only pays on products large enough for a GPU to matter; `auto` measures that per shape.
 *
 * Only matmul runs on the device, as in every gpu.js mode; the rest is the reference backend. matmulOnDevice /
 * toDevice / readBack keep operands and results on the device between products (ids across the thread
 * boundary, freed with `.delete()`).
 *
 * Node only (worker_threads, SharedArrayBuffer, Atomics.wait on the main thread): select.ts loads this file
 * only when gpujs:webgpu is asked for in Node.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { referenceKernels } from './reference.ts';
import { BackendUnavailableError } from './registry.ts';
import { matmulKernelKey, type DeviceArray, type GpujsKernels } from './gpujs.ts';
import type { MatmulSpec } from './types.ts';
import type { AdapterSummary, Operand, WebgpuHello, WebgpuReply, WebgpuRequest, WebgpuWorkerData } from './webgpu-worker.ts';

export interface WebgpuNodeOptions {
  /**
   * Accept a software adapter (Dawn's fallback adapter, Mesa llvmpipe/lavapipe, SwiftShader): for testing the
   * path on a machine without a GPU; slower than the js backend. Default: SUPERPOSITION_WEBGPU_SOFTWARE=1.
   */
  allowSoftware?: boolean;
  /** How long one call may take before it is reported as hung (default 120 s: the first builds compile shaders). */
  timeoutMs?: number;
}

export interface WebgpuKernels extends GpujsKernels {
  /** The adapter the kernels run on, e.g. "NVIDIA H100 ... via Dawn default (Vulkan/Metal/D3D12)". */
  readonly adapter: AdapterSummary;
}

/** A product or upload kept on the device, known to this thread by its id in the worker. */
class DeviceHandle {
  private freed = false;
  constructor(
    readonly id: number,
    private readonly bridge: Bridge,
  ) {}
  toArray(): Float32Array {
    if (this.freed) throw new Error(`gpujs:webgpu: device array #${this.id} was already deleted`);
    return this.bridge.call({ op: 'read', id: this.id }).out!;
  }
  delete(): void {
    if (this.freed) return;
    this.freed = true;
    this.bridge.send({ op: 'free', id: this.id });
  }
}

class Bridge {
  private readonly done: Int32Array;
  constructor(
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    private readonly timeoutMs: number,
  ) {
    this.done = new Int32Array(control);
  }

  /** Post a request and block until the worker answers. Operands are copied into fresh buffers and moved. */
  call(req: WebgpuRequest): Extract<WebgpuReply, { ok: true }> {
    Atomics.store(this.done, 0, 0);
    this.send(req);
    if (Atomics.wait(this.done, 0, 0, this.timeoutMs) === 'timed-out') {
      throw new Error(`gpujs:webgpu: the WebGPU worker did not answer '${req.op}' within ${this.timeoutMs / 1000} s (hung or dead device)`);
    }
    const reply = receiveMessageOnPort(this.port)?.message as WebgpuReply | undefined;
    if (!reply) throw new Error(`gpujs:webgpu: the WebGPU worker signalled '${req.op}' done without an answer`);
    if (!reply.ok) throw reply.unavailable ? new BackendUnavailableError(reply.error) : new Error(reply.error);
    return reply;
  }

  send(req: WebgpuRequest): void {
    const moved: ArrayBuffer[] = [];
    const own = (x: Float32Array): Float32Array => {
      const copy = x.slice(); // only the view's bytes: postMessage would otherwise clone a whole arena buffer
      moved.push(copy.buffer);
      return copy;
    };
    const wire = (x: Operand): Operand => (x instanceof Float32Array ? own(x) : { id: x.id });
    if (req.op === 'matmul') req = { ...req, a: wire(req.a), b: wire(req.b) };
    else if (req.op === 'upload') req = { ...req, x: own(req.x) };
    this.port.postMessage(req, moved);
  }
}

/** Start the WebGPU worker and wait for its device; rejects with BackendUnavailableError saying why not. */
export async function createWebgpuKernels(options: WebgpuNodeOptions = {}): Promise<WebgpuKernels> {
  const allowSoftware = options.allowSoftware ?? process.env.SUPERPOSITION_WEBGPU_SOFTWARE === '1';
  // Mesa's EGL picks its platform from the environment, which only the main thread can set; 'surfaceless' needs
  // no display (the software OpenGL ES path of the tests).
  if (allowSoftware && !process.env.EGL_PLATFORM && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM = 'surfaceless';
  const { port1, port2 } = new MessageChannel();
  const control = new SharedArrayBuffer(4);
  const workerData: WebgpuWorkerData & { entry: string } = { entry: new URL('./webgpu-worker.ts', import.meta.url).href, port: port2, control, allowSoftware };
  const worker = new Worker(new URL('../worker-boot.mjs', import.meta.url), { workerData, transferList: [port2] });
  const hello = await new Promise<WebgpuHello>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (e) => resolve({ ok: false, error: e.message }));
    worker.once('exit', (code) => resolve({ ok: false, error: `the WebGPU worker exited (code ${code}) before it had a device` }));
  });
  worker.removeAllListeners();
  if (!hello.ok) {
    await worker.terminate();
    throw new BackendUnavailableError(`gpujs:webgpu cannot start: ${hello.error}`);
  }
  // The worker (and Dawn inside it) must not keep a finished script alive.
  worker.unref();
  port1.unref();
  const bridge = new Bridge(port1, control, options.timeoutMs ?? 120_000);
  const built = new Set<string>();

  function product(a: Operand, b: Operand, s: MatmulSpec, aLength: number, bLength: number, pipeline: boolean): Extract<WebgpuReply, { ok: true }> {
    const reply = bridge.call({ op: 'matmul', a, b, spec: s, aLength, bLength, pipeline });
    built.add(matmulKernelKey(s, aLength, bLength, pipeline));
    return reply;
  }
  const wireOperand = (x: DeviceArray): Operand => {
    if (x instanceof Float32Array) return x;
    if (x instanceof DeviceHandle) return { id: x.id };
    throw new TypeError('gpujs:webgpu: a device operand must be a Float32Array or an array this backend put on the device');
  };

  return {
    ...referenceKernels,
    name: 'gpujs:webgpu',
    mode: 'webgpu',
    kernelClass: 'WebGPUKernel', // checked in the worker after each kernel's first run
    precision: 'single',
    adapter: hello.adapter,
    device: `WebGPU: ${hello.adapter.description}`,
    get cachedKernels() {
      return built.size;
    },
    matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
      const size = s.batch * s.m * s.n;
      if (out.length < size) throw new RangeError(`gpujs matmul: output has ${out.length} elements, needs ${size} (batch=${s.batch} m=${s.m} n=${s.n})`);
      if (size === 0) return;
      if (s.k === 0) {
        out.fill(0, 0, size);
        return;
      }
      out.set(product(a, b, s, a.length, b.length, false).out!.subarray(0, size));
    },
    matmulOnDevice(a: DeviceArray, b: DeviceArray, s: MatmulSpec, aLength: number, bLength: number): DeviceArray {
      return new DeviceHandle(product(wireOperand(a), wireOperand(b), s, aLength, bLength, true).id!, bridge);
    },
    toDevice(x: Float32Array): DeviceArray {
      return new DeviceHandle(bridge.call({ op: 'upload', x }).id!, bridge);
    },
    readBack(x: DeviceArray): Float32Array {
      return x instanceof Float32Array ? x : (x.toArray() as Float32Array);
    },
    destroy(): void {
      void worker.terminate();
    },
  };
}
