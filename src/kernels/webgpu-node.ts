/**
 * `gpujs:webgpu` in Node: gpu.js's WebGPU backend (Dawn, from the `webgpu` package) behind the synchronous
 * kernels interface.
 *
 * gpu.js can read WebGPU results back only through Promises, and a thread cannot block on its own Promise. So a
 * worker thread (webgpu-worker.ts) owns the device and awaits the results; this thread posts each request and
 * blocks on a shared flag with Atomics.wait until the answer is there, then takes it with receiveMessageOnPort.
 * The round trip costs ~36 us (measured against a worker that answers at once, on the 2-core machine of the
 * README) beyond the GPU's own upload, dispatch and read-back (a 1x1x1 product on Mesa llvmpipe: ~400 us), so
 * the backend only pays on products large enough for a GPU to matter; `auto` measures that per shape.
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
import { checkMatmulSize, matmulDoneOnHost, matmulKernelKey, type DeviceArray, type GpujsKernels } from './gpujs.ts';
import type { MatmulSpec } from './types.ts';
import type { AdapterSummary, Operand, Sequenced, WebgpuHello, WebgpuReply, WebgpuRequest, WebgpuWorkerData } from './webgpu-worker.ts';

export interface WebgpuNodeOptions {
  /**
   * Accept a software adapter (Dawn's fallback adapter, Mesa llvmpipe/lavapipe, SwiftShader): for testing the
   * path on a machine without a GPU; slower than the js backend. Default: SUPERPOSITION_WEBGPU_SOFTWARE=1.
   */
  allowSoftware?: boolean;
  /** How long one call may take before it is reported as hung (default 120 s: the first builds compile shaders). */
  timeoutMs?: number;
  /** How long the worker may take to find an adapter and open a device (default 60 s). */
  startTimeoutMs?: number;
}

export interface WebgpuKernels extends GpujsKernels {
  /** The adapter the kernels run on, e.g. "NVIDIA H100 ... via Dawn default (Vulkan/Metal/D3D12)". */
  readonly adapter: AdapterSummary;
  /** Device arrays this backend handed out that are not yet deleted: a leak check for code that chains products. */
  readonly liveDeviceArrays: number;
  /** Why the backend can no longer run ('been destroyed', 'timed out', 'exited ...'), or null while it can. */
  readonly closed: string | null;
}

/**
 * A product or upload kept on the device, known to this thread by its id in the worker. `delete()` frees the
 * device buffer. A handle dropped without it is freed after it is garbage-collected, but only when the event
 * loop next runs: a synchronous training loop must delete what it no longer needs.
 */
class DeviceHandle {
  private static readonly unreleased = new FinalizationRegistry<{ bridge: Bridge; id: number }>(({ bridge, id }) => {
    bridge.liveArrays--;
    if (!bridge.exited) bridge.send({ op: 'free', id });
  });
  private freed = false;
  constructor(
    readonly id: number,
    private readonly bridge: Bridge,
  ) {
    DeviceHandle.unreleased.register(this, { bridge, id }, this);
    bridge.liveArrays++;
  }
  belongsTo(bridge: Bridge): boolean {
    return this.bridge === bridge;
  }
  /** The id to send, for a handle that is still alive. */
  live(): number {
    if (this.freed) throw new Error(`gpujs:webgpu: device array #${this.id} was already deleted`);
    return this.id;
  }
  toArray(): Float32Array {
    return this.bridge.call({ op: 'read', id: this.live() }).out!;
  }
  delete(): void {
    if (this.freed) return;
    this.freed = true;
    this.bridge.liveArrays--;
    DeviceHandle.unreleased.unregister(this);
    if (!this.bridge.exited) this.bridge.send({ op: 'free', id: this.id });
  }
}

class Bridge {
  private readonly done: Int32Array;
  /**
   * Why the worker is gone or unusable ('exited', 'been destroyed', 'timed out'): later calls fail at once
   * instead of queueing behind a hung request and waiting out their own timeouts.
   */
  exited: string | null = null;
  /** Device arrays handed out and not yet deleted (or collected). */
  liveArrays = 0;
  constructor(
    private readonly port: MessagePort,
    control: SharedArrayBuffer,
    private readonly timeoutMs: number,
    private readonly stop: () => void,
  ) {
    this.done = new Int32Array(control);
  }

  /** Mark the worker gone (the first reason wins) and stop it. */
  close(reason: string): void {
    this.exited ??= reason;
    this.stop();
  }

  /**
   * Post a request and block until the worker answers it. Operands are copied into fresh buffers and moved.
   * Replies carry the request's sequence number: one that arrives after its call timed out is dropped, never
   * taken for the answer to a later call. The flag is reset before each look at the port, so an answer posted
   * between the look and the wait makes the wait return at once.
   */
  call(req: WebgpuRequest): Extract<WebgpuReply, { ok: true }> {
    if (this.exited) throw new Error(`gpujs:webgpu: the WebGPU worker has ${this.exited}; cannot run '${req.op}'`);
    const seq = this.send(req);
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      Atomics.store(this.done, 0, 0);
      const reply = receiveMessageOnPort(this.port)?.message as Sequenced<WebgpuReply> | undefined;
      if (reply?.seq === seq) {
        if (!reply.ok) throw reply.unavailable ? new BackendUnavailableError(reply.error) : new Error(reply.error);
        return reply;
      }
      if (reply) continue; // never happens while a timeout closes the bridge; kept so a stray reply cannot be taken
      if (Atomics.load(this.done, 1) === 1) {
        this.close('exited');
        throw new Error(`gpujs:webgpu: the WebGPU worker exited while running '${req.op}'`);
      }
      const left = deadline - performance.now();
      if (left <= 0 || Atomics.wait(this.done, 0, 0, left) === 'timed-out') {
        this.close('timed out');
        throw new Error(`gpujs:webgpu: the WebGPU worker did not answer '${req.op}' within ${this.timeoutMs / 1000} s (hung or dead device); the backend is closed`);
      }
    }
  }

  private seq = 0;

  /** Post a request (a 'free' is not answered); returns its sequence number. */
  send(req: WebgpuRequest): number {
    const moved: ArrayBuffer[] = [];
    const own = (x: Float32Array): Float32Array => {
      const copy = x.slice(); // only the view's bytes: postMessage would otherwise clone a whole arena buffer
      moved.push(copy.buffer);
      return copy;
    };
    const wire = (x: Operand): Operand => (x instanceof Float32Array ? own(x) : { id: x.id });
    if (req.op === 'matmul') req = { ...req, a: wire(req.a), b: wire(req.b) };
    else if (req.op === 'upload') req = { ...req, x: own(req.x) };
    this.port.postMessage({ ...req, seq: ++this.seq } satisfies Sequenced<WebgpuRequest>, moved);
    return this.seq;
  }
}

/** Start the WebGPU worker and wait for its device; rejects with BackendUnavailableError saying why not. */
export async function createWebgpuKernels(options: WebgpuNodeOptions = {}): Promise<WebgpuKernels> {
  const allowSoftware = options.allowSoftware ?? process.env.SUPERPOSITION_WEBGPU_SOFTWARE === '1';
  // Mesa's EGL picks its platform from the process environment, which only the main thread can change (a worker
  // thread's process.env is its own copy); 'surfaceless' needs no display (the software OpenGL ES path). It stays
  // set: sweep worker threads open their own devices later, and they cannot set it themselves.
  if (allowSoftware && !process.env.EGL_PLATFORM && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) process.env.EGL_PLATFORM = 'surfaceless';
  const { port1, port2 } = new MessageChannel();
  const control = new SharedArrayBuffer(8);
  const workerData: WebgpuWorkerData & { entry: string } = { entry: new URL('./webgpu-worker.ts', import.meta.url).href, port: port2, control, allowSoftware };
  const worker = new Worker(new URL('../worker-boot.mjs', import.meta.url), { workerData, transferList: [port2] });
  const startMs = options.startTimeoutMs ?? 60_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hello = await new Promise<WebgpuHello>((resolve) => {
    worker.once('message', resolve);
    worker.once('error', (e) => resolve({ ok: false, error: e.message }));
    worker.once('exit', (code) => resolve({ ok: false, error: `the WebGPU worker exited (code ${code}) before it had a device` }));
    timer = setTimeout(() => resolve({ ok: false, error: `no device after ${startMs / 1000} s (a hung driver or adapter request)` }), startMs);
  }).finally(() => clearTimeout(timer));
  worker.removeAllListeners();
  if (!hello.ok) {
    await worker.terminate();
    throw new BackendUnavailableError(`gpujs:webgpu cannot start: ${hello.error}`);
  }
  const bridge = new Bridge(port1, control, options.timeoutMs ?? 120_000, () => void worker.terminate());
  // An error in the worker after start-up must not crash this process through an unhandled 'error' event: it
  // closes the backend, and the next call says so. Neither listener keeps the unref'd worker alive.
  worker.on('error', (e) => (bridge.exited ??= `exited (${e.message})`));
  worker.on('exit', () => (bridge.exited ??= 'exited'));
  // The worker (and Dawn inside it) must not keep a finished script alive.
  worker.unref();
  port1.unref();
  const built = new Set<string>();

  function product(a: Operand, b: Operand, s: MatmulSpec, aLength: number, bLength: number, pipeline: boolean): Extract<WebgpuReply, { ok: true }> {
    checkMatmulSize(s, aLength, bLength); // here, before the round trip, so the RangeError keeps its type
    const reply = bridge.call({ op: 'matmul', a, b, spec: s, aLength, bLength, pipeline });
    built.add(matmulKernelKey(s, aLength, bLength, pipeline));
    return reply;
  }
  const wireOperand = (x: DeviceArray): Operand => {
    if (x instanceof Float32Array) return x;
    if (x instanceof DeviceHandle && x.belongsTo(bridge)) return { id: x.live() };
    throw new TypeError('gpujs:webgpu: a device operand must be a Float32Array or an array this backend instance put on the device');
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
    get liveDeviceArrays() {
      return bridge.liveArrays;
    },
    get closed() {
      return bridge.exited;
    },
    matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
      if (matmulDoneOnHost(out, s)) return;
      out.set(product(a, b, s, a.length, b.length, false).out!.subarray(0, s.batch * s.m * s.n));
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
      bridge.close('been destroyed');
    },
  };
}
