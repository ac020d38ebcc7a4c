/**
 * gpujs:webgpu's two halves, free of any one environment.
 *
 * gpu.js reads WebGPU results back only through Promises (mapAsync), and a thread cannot block on its own
 * Promise. So a worker owns the WebGPU device and answers requests, awaiting gpu.js's results (`serveDevice`),
 * and the calling thread posts each request and blocks until the answer is there (`Bridge`), so the kernels
 * interface stays synchronous. A Transport joins them: in Node a MessagePort read with receiveMessageOnPort
 * (webgpu-node.ts); in a browser Web Worker a SharedArrayBuffer (webgpu-browser.ts), since a blocked browser
 * thread cannot read messages.
 *
 * Only matmul runs on the device, as in every gpu.js mode; the rest is the reference backend. matmulOnDevice /
 * toDevice / readBack keep operands and results on the device between products (ids across the thread
 * boundary, freed with `.delete()`).
 */
import { referenceKernels } from './reference.ts';
import { BackendUnavailableError } from './registry.ts';
import {
  checkMatmulSize,
  matmulDoneOnHost,
  matmulKernelKey,
  matmulKernelSettings,
  matmulSource,
  uploadKernelSettings,
  uploadSource,
  verifyKernelClass,
  type GpujsKernels,
} from './gpujs.ts';
import type { DeviceArray, MatmulSpec } from './types.ts';
import { DeviceTrainer, layout, type DeviceTrainSpec } from './device/train-step.ts';
import type { DeviceStats } from './device/program.ts';
import type { DeviceRun, DeviceTraining } from './device/training.ts';

// --- the wire ---------------------------------------------------------------------------------------------

/** A device-resident array, referred to by id across the thread boundary. */
export interface DeviceRef {
  id: number;
}
export type Operand = Float32Array | DeviceRef;

export type WebgpuRequest =
  | { op: 'matmul'; a: Operand; b: Operand; spec: MatmulSpec; aLength: number; bLength: number; pipeline: boolean }
  | { op: 'upload'; x: Float32Array }
  | { op: 'read'; id: number }
  | { op: 'free'; id: number }
  | { op: 'train-start'; spec: DeviceTrainSpec }
  | { op: 'train-run'; id: number; steps: number }
  | { op: 'train-read'; id: number; buffer: 'state' | 'parameters' | 'x' }
  | { op: 'train-free'; id: number };

/**
 * The device trainer's counters travel as the last floats of its replies, in this order, each as two float32
 * (the count's high and low 24 bits), so they stay exact past 2^24 (bytes of a large model's upload).
 */
const STATS_KEYS = ['passes', 'submissions', 'uploads', 'readbacks', 'bytesUp', 'bytesDown', 'builds'] as const satisfies readonly (keyof DeviceStats)[];
const STATS_FLOATS = 2 * STATS_KEYS.length;
const withStats = (values: Float32Array, stats: DeviceStats): Float32Array => {
  const out = new Float32Array(values.length + STATS_FLOATS);
  out.set(values);
  out.set(STATS_KEYS.flatMap((k) => [Math.floor(stats[k] / 2 ** 24), stats[k] % 2 ** 24]), values.length);
  return out;
};

export type WebgpuReply =
  | { ok: true; out?: Float32Array; id?: number }
  | { ok: false; error: string; unavailable: boolean };

/** Requests and replies on the wire carry a sequence number: a late reply is never taken for another's. */
export type Sequenced<T> = T & { seq: number };

/** What the device worker says once it has a device (or why it has none). */
export type WebgpuHello = { ok: true; adapter: AdapterSummary } | { ok: false; error: string };

// --- adapters ---------------------------------------------------------------------------------------------

/** The WebGPU adapter in use: a printable description and whether it is a software rasteriser. */
export interface AdapterSummary {
  /** e.g. "NVIDIA H100 80GB HBM3 via Dawn default (Vulkan/Metal/D3D12)", or ending ", software" */
  description: string;
  software: boolean;
}

export interface AdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/** Names of CPU rasterisers that do not call themselves fallback adapters. */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|softpipe|software|basic render/i;

export function summarizeAdapter(info: AdapterInfoLike, backend: string): AdapterSummary {
  const names = [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' ');
  const software = info.isFallbackAdapter === true || SOFTWARE_NAMES.test(names);
  const name = info.device || info.description || [info.vendor, info.architecture].filter(Boolean).join(' ') || 'unnamed adapter';
  const detail = info.description && info.description !== name ? ` (${info.description})` : '';
  return { description: `${name}${detail} via ${backend}${software ? ', software' : ''}`, software };
}

export const SOFTWARE_HINT = 'set SUPERPOSITION_WEBGPU_SOFTWARE=1 (Node) or pass allowSoftwareGpu (useBackend) to accept a software adapter (for testing; slower than js)';

// --- the device side --------------------------------------------------------------------------------------

/** The parts of a gpu.js instance in webgpu mode that the device side uses. */
export interface WebgpuGpu {
  createKernel(source: string, settings: Record<string, unknown>): GpuKernel;
}
interface GpuKernel {
  (...args: unknown[]): Promise<unknown>;
  kernel: { constructor: { name: string }; precision?: string; fallbackReason?: string };
}
interface BufferResult {
  toArray(): Promise<unknown>;
  delete(): void;
}

/**
 * The device worker's request handler for one gpu.js instance in webgpu mode: kernels memoised per shape (cached
 * once their first run passed the class check, as gpujs.ts's runMatmul), device arrays by id. Every failure
 * becomes an error reply.
 */
export function serveDevice(gpu: WebgpuGpu): (req: WebgpuRequest) => Promise<WebgpuReply> {
  const kernels = new Map<string, GpuKernel>();
  const uploads = new Map<number, GpuKernel>();
  const onDevice = new Map<number, BufferResult>();
  const trainers = new Map<number, DeviceTrainer>();
  let nextId = 1;
  const trainer = (id: number): DeviceTrainer => {
    const t = trainers.get(id);
    if (!t) throw new Error(`gpujs:webgpu: device training run #${id} was freed or never started`);
    return t;
  };

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
      case 'train-start': {
        const t = await DeviceTrainer.create(gpu as unknown as Parameters<typeof DeviceTrainer.create>[0], req.spec);
        trainers.set(nextId, t);
        return { ok: true, id: nextId++, out: withStats(new Float32Array(0), t.stats) };
      }
      case 'train-run': {
        const t = trainer(req.id);
        return { ok: true, out: withStats(await t.run(req.steps), t.stats) };
      }
      case 'train-read':
        return { ok: true, out: await trainer(req.id).read(req.buffer) };
      case 'train-free':
        trainers.get(req.id)?.destroy();
        trainers.delete(req.id);
        return { ok: true };
    }
  }

  return (req) =>
    handle(req).catch((e: unknown) => ({
      ok: false,
      error: e instanceof Error ? e.message : String(e),
      unavailable: e instanceof Error && e.name === 'BackendUnavailableError',
    }));
}

/**
 * Run requests one at a time, in the order they arrive (a 'free' is not answered): `answer` delivers a reply to
 * the waiting caller. The chain never rejects.
 */
export function inOrder(handle: (req: WebgpuRequest) => Promise<WebgpuReply>, answer: (reply: Sequenced<WebgpuReply>) => void): (req: Sequenced<WebgpuRequest>) => void {
  let queue = Promise.resolve();
  return (req) => {
    queue = queue
      .then(async () => {
        const reply = await handle(req);
        if (req.op !== 'free' && req.op !== 'train-free') answer({ ...reply, seq: req.seq });
      })
      .catch(() => undefined); // a failed delivery must not stop the requests behind it (their callers time out)
  };
}

/** gpu.js's constructor, as both device workers load it. */
export type GpuConstructor = new (settings: { mode: string }) => WebgpuGpu & { Kernel: { name: string } | null };

/** A gpu.js instance in webgpu mode, or an error when gpu.js would run another kernel class. */
export function webgpuInstance(GPU: GpuConstructor): WebgpuGpu {
  const gpu = new GPU({ mode: 'webgpu' });
  if (gpu.Kernel?.name !== 'WebGPUKernel') throw new Error(`gpu.js would run ${gpu.Kernel?.name ?? 'nothing'}, not WebGPUKernel`);
  return gpu;
}

// --- the calling side -------------------------------------------------------------------------------------

/** Default limits: one call (the first builds compile shaders), and opening the device. */
export const TIMEOUT_MS = 120_000;
/**
 * A device-trainer start (shader builds) or submission (up to thousands of steps, slow on a software adapter)
 * may take longer than one product; a hung device is still reported, after this.
 */
export const TRAIN_TIMEOUT_MS = 600_000;
export const START_TIMEOUT_MS = 60_000;

/**
 * The device worker's hello, or a failed one after `ms` (a hung driver or adapter request). `listen` attaches the
 * caller's handlers for the worker's first message and its failure.
 */
export function awaitHello(listen: (resolve: (hello: WebgpuHello) => void) => void, ms = START_TIMEOUT_MS): Promise<WebgpuHello> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<WebgpuHello>((resolve) => {
    listen(resolve);
    timer = setTimeout(() => resolve({ ok: false, error: `no device after ${ms / 1000} s (a hung driver or adapter request)` }), ms);
  }).finally(() => clearTimeout(timer));
}

/** How the calling thread talks to the device worker. */
export interface Transport {
  /** Post a request; `moved` are the operand buffers to transfer; `replyFloats` bounds the answer's size. */
  post(req: Sequenced<WebgpuRequest>, moved: ArrayBuffer[], replyFloats: number): void;
  /** Block until the answer to `seq` arrives, the worker is gone, or the deadline (performance.now()) passes. */
  receive(seq: number, deadline: number): Sequenced<WebgpuReply> | 'exited' | 'timed out';
  stop(): void;
}

export class Bridge {
  /**
   * Why the worker is gone or unusable ('exited', 'been destroyed', 'timed out'): later calls fail at once
   * instead of queueing behind a hung request and waiting out their own timeouts.
   */
  exited: string | null = null;
  /** Device arrays handed out and not yet deleted (or collected). */
  liveArrays = 0;
  private seq = 0;

  constructor(
    private readonly transport: Transport,
    private readonly timeoutMs: number,
  ) {}

  /** Mark the worker gone (the first reason wins) and stop it. */
  close(reason: string): void {
    this.exited ??= reason;
    this.transport.stop();
  }

  /**
   * Post a request and block until the worker answers it; `replyFloats` is the most the answer can carry;
   * `timeoutMs` overrides the bridge's limit for a request known to take long (a training submission).
   */
  call(req: WebgpuRequest, replyFloats = 0, timeoutMs = this.timeoutMs): Extract<WebgpuReply, { ok: true }> {
    if (this.exited) throw new Error(`gpujs:webgpu: the WebGPU worker has ${this.exited}; cannot run '${req.op}'`);
    const seq = this.send(req, replyFloats);
    const reply = this.transport.receive(seq, performance.now() + Math.max(timeoutMs, this.timeoutMs));
    if (reply === 'exited') {
      this.close('exited');
      throw new Error(`gpujs:webgpu: the WebGPU worker exited while running '${req.op}'`);
    }
    if (reply === 'timed out') {
      this.close('timed out');
      throw new Error(`gpujs:webgpu: the WebGPU worker did not answer '${req.op}' within ${Math.max(timeoutMs, this.timeoutMs) / 1000} s (hung or dead device); the backend is closed`);
    }
    if (!reply.ok) throw reply.unavailable ? new BackendUnavailableError(reply.error) : new Error(reply.error);
    return reply;
  }

  /** Post a request (a 'free' is not answered); returns its sequence number. Operands are copied and moved. */
  send(req: WebgpuRequest, replyFloats = 0): number {
    const moved: ArrayBuffer[] = [];
    const own = (x: Float32Array): Float32Array => {
      const copy = x.slice(); // only the view's bytes: posting a view would clone a whole arena buffer
      moved.push(copy.buffer);
      return copy;
    };
    const wire = (x: Operand): Operand => (x instanceof Float32Array ? own(x) : { id: x.id });
    if (req.op === 'matmul') req = { ...req, a: wire(req.a), b: wire(req.b) };
    else if (req.op === 'upload') req = { ...req, x: own(req.x) };
    this.transport.post({ ...req, seq: ++this.seq }, moved, replyFloats);
    return this.seq;
  }
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
    readonly length: number,
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
    return this.bridge.call({ op: 'read', id: this.live() }, this.length).out!;
  }
  delete(): void {
    if (this.freed) return;
    this.freed = true;
    this.bridge.liveArrays--;
    DeviceHandle.unreleased.unregister(this);
    if (!this.bridge.exited) this.bridge.send({ op: 'free', id: this.id });
  }
}

/** Options for starting the gpujs:webgpu backend's worker. */
export interface WebgpuOptions {
  /**
   * Accept a software adapter (Dawn's fallback adapter, Mesa llvmpipe/lavapipe, SwiftShader): for testing the
   * path on a machine without a GPU; slower than the js backend. Node's default: SUPERPOSITION_WEBGPU_SOFTWARE=1.
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
  /** The device trainer: whole training runs on the device (src/kernels/device/). */
  readonly training: DeviceTraining;
}

/** Split a reply's floats into values and the counters at its end. */
function statsOf(out: Float32Array): { values: Float32Array; stats: DeviceStats } {
  const cut = out.length - STATS_FLOATS;
  const stats = Object.fromEntries(STATS_KEYS.map((k, j) => [k, out[cut + 2 * j] * 2 ** 24 + out[cut + 2 * j + 1]])) as unknown as DeviceStats;
  return { values: out.subarray(0, cut), stats };
}

/** The device trainer over the bridge: every call one request, answered when the device is done. */
function bridgeTraining(bridge: Bridge, device: string): DeviceTraining {
  return {
    device,
    start(spec): DeviceRun {
      const started = bridge.call({ op: 'train-start', spec }, STATS_FLOATS, TRAIN_TIMEOUT_MS);
      const id = started.id!;
      const { instances } = spec;
      const { stateLength } = layout(spec);
      let freed = false;
      const live = (what: string) => {
        if (freed) throw new Error(`gpujs:webgpu: device training run #${id} was freed; cannot ${what}`);
      };
      return {
        startStats: statsOf(started.out!).stats,
        run(steps) {
          live('run');
          const { values, stats } = statsOf(bridge.call({ op: 'train-run', id, steps }, steps * instances + STATS_FLOATS, TRAIN_TIMEOUT_MS).out!);
          return { losses: values, stats };
        },
        state() {
          live('read its state');
          return bridge.call({ op: 'train-read', id, buffer: 'state' }, stateLength).out!;
        },
        parameters() {
          live('read its parameters');
          return bridge.call({ op: 'train-read', id, buffer: 'parameters' }, spec.params.length).out!;
        },
        batch() {
          live('read its batch');
          return bridge.call({ op: 'train-read', id, buffer: 'x' }, spec.instances * spec.batch * spec.features).out!;
        },
        free() {
          if (freed) return;
          freed = true;
          if (!bridge.exited) bridge.send({ op: 'train-free', id });
        },
      };
    },
  };
}

/** The gpujs:webgpu kernels over a started bridge. */
export function bridgeKernels(bridge: Bridge, adapter: AdapterSummary): WebgpuKernels {
  const built = new Set<string>();
  function product(a: Operand, b: Operand, s: MatmulSpec, aLength: number, bLength: number, pipeline: boolean): Extract<WebgpuReply, { ok: true }> {
    checkMatmulSize(s, aLength, bLength); // here, before the round trip, so the RangeError keeps its type
    const reply = bridge.call({ op: 'matmul', a, b, spec: s, aLength, bLength, pipeline }, pipeline ? 0 : s.batch * s.m * s.n);
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
    adapter,
    device: `WebGPU: ${adapter.description}`,
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
      return new DeviceHandle(product(wireOperand(a), wireOperand(b), s, aLength, bLength, true).id!, s.batch * s.m * s.n, bridge);
    },
    toDevice(x: Float32Array): DeviceArray {
      return new DeviceHandle(bridge.call({ op: 'upload', x }).id!, x.length, bridge);
    },
    readBack(x: DeviceArray): Float32Array {
      return x instanceof Float32Array ? x : (x.toArray() as Float32Array);
    },
    training: bridgeTraining(bridge, `WebGPU: ${adapter.description}`),
    destroy(): void {
      bridge.close('been destroyed');
    },
  };
}
