/**
 * A device program: gpu.js kernels on WebGPU, run as a fixed chain of passes over storage buffers that live on
 * the device for the program's life, many steps recorded into one command encoder, one submission, one
 * read-back of the buffers the host asked for.
 *
 * gpu.js writes the shaders: each kernel is a gpu.js kernel function, translated to WGSL and compiled by gpu.js's
 * own WebGPU backend (kernel.build). What gpu.js cannot do is the loop around them. Its createPipeline records a
 * plan into one encoder (the "fused-encoder" executor), but every pipeline argument is uploaded again on every
 * call and a device-resident buffer is refused as an argument ("the fused encoder takes plain arrays",
 * gpu.js 2.24.1 src/backend/web-gpu/pipeline-executor.js), so parameters and optimizer moments would cross the
 * bus at each call. This file is that executor with persistent buffers: the same kernel builds, the same params
 * uniform layout, bind groups of our own buffers. It relies on gpu.js's kernel internals (build, paramsLayout,
 * computePipeline, bindGroupLayout, _computeDispatch) exactly as gpu.js's own fused executor does, so it is
 * pinned to gpu.js 2.24.1 (package.json) and the device tests check it end to end.
 *
 * Every upload, pass and read-back is counted (`stats`), so the design can be checked on any adapter.
 */

// GPUBufferUsage / GPUMapMode values are fixed by the WebGPU specification.
const USAGE = { MAP_READ: 0x0001, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 } as const;
const MAP_READ = 0x0001;

/* eslint-disable @typescript-eslint/no-explicit-any -- gpu.js's WebGPU internals and the WebGPU API are untyped here */
type Gpu = { createKernel(source: string, settings: Record<string, unknown>): { kernel: any } };

export interface KernelDef {
  /** A gpu.js kernel function as text (gpu.js parses fn.toString(); text survives bundlers). */
  source: string;
  /** Threads (a 1-D output of this many floats). */
  output: number;
  constants?: Record<string, number>;
  /** The buffers the kernel's parameters are, in order (names given to `buffer`). */
  args: readonly string[];
  /** The largest loop bound in the source (gpu.js cuts loops at loopMaxIterations silently). */
  loopMax: number;
}

interface Program {
  name: string;
  kernel: any;
  /** Built for this program alone (the cache was full): destroyed with it. Cached kernels outlive programs. */
  owned: boolean;
  /** The cache entry this program counts itself a user of (when not owned). */
  cached?: CachedKernel;
  args: readonly string[];
  output: number;
  paramsBuffer: any;
  groups: [number, number, number];
}

export interface Pass {
  program: Program;
  bindGroup: any;
  out: string;
}

/** Counts since the program was made: what crossed between host and device, and how much work was submitted. */
export interface DeviceStats {
  passes: number;
  submissions: number;
  uploads: number;
  readbacks: number;
  bytesUp: number;
  bytesDown: number;
  /** Kernels compiled (shader and pipeline); a kernel already built for this device is reused. */
  builds: number;
}

/**
 * Built kernels per gpu.js instance, by everything that shapes them (source, constants, sizes), with the number
 * of live programs using each: the chunks of a sweep share one shape and its settings, so only the first compiles
 * its shaders. A kernel of a lost device is built again. At most MAX_CACHED per instance: the least recently used
 * one that no program uses makes room (destroyed); when every one is in use, a program builds a kernel of its own.
 */
interface CachedKernel {
  kernel: any;
  users: number;
}
const built = new WeakMap<object, Map<string, CachedKernel>>();
const MAX_CACHED = 64;

export class DeviceProgram {
  readonly stats: DeviceStats = { passes: 0, submissions: 0, uploads: 0, readbacks: 0, bytesUp: 0, bytesDown: 0, builds: 0 };
  /** Buffers by name; `buffer` is null until the device exists (it comes from gpu.js's first kernel build). */
  private readonly buffers = new Map<string, { buffer: any; length: number; init?: Float32Array }>();
  private readonly programs = new Map<string, Program>();
  private readonly bindGroups = new Map<string, Pass>();
  private device: any = null;
  private staging: { buffer: any; bytes: number } | null = null;
  private destroyed = false;
  /** Why the device was lost, once it is: a lost device's submissions do nothing and its reads may return zeros. */
  private lost: string | null = null;

  /** Whether an out-of-memory error scope is open around the buffers' allocation (closed by `allocated`). */
  private scoped = false;

  /**
   * @param sizeHint appended to an error about memory: how the caller can ask for less (e.g. fewer instances at
   *   once).
   */
  constructor(
    private readonly gpu: Gpu,
    private readonly sizeHint = '',
  ) {}

  /** Build a kernel (compiles its WGSL once); its argument buffers must exist already. */
  async kernel(name: string, def: KernelDef): Promise<void> {
    const lengths = def.args.map((a) => this.get(a).length);
    const key = JSON.stringify([def.source, def.output, def.constants ?? {}, def.loopMax, lengths]);
    let cache = built.get(this.gpu);
    if (!cache) built.set(this.gpu, (cache = new Map()));
    let entry = cache.get(key);
    if (entry?.kernel.context?.isLost) {
      if (entry.users === 0) entry.kernel.destroy?.();
      cache.delete(key);
      entry = undefined;
    }
    if (entry) {
      cache.delete(key); // most recently used last
      cache.set(key, entry);
    } else {
      const kernel = await this.build(name, def, lengths);
      this.stats.builds++;
      if (cache.size >= MAX_CACHED) {
        const idle = [...cache].find(([, e]) => e.users === 0);
        if (idle) {
          idle[1].kernel.destroy?.();
          cache.delete(idle[0]);
        }
      }
      entry = { kernel, users: 0 };
      if (cache.size < MAX_CACHED) cache.set(key, entry);
    }
    const owned = cache.get(key) !== entry;
    entry.users++;
    const kernel = entry.kernel;
    if (!this.device) {
      this.device = kernel._device;
      this.device.lost?.then((info: { reason?: string; message?: string }) => (this.lost = info.message || info.reason || 'unknown reason'));
      // A failed allocation only shows as an error in a scope: watch the buffers' until `allocated` (those made
      // from here on: the program's buffers, and what later kernel builds allocate; the scope is the device's, so
      // it would also see another program's allocations made meanwhile on the same device).
      if (typeof this.device.pushErrorScope === 'function') {
        this.device.pushErrorScope('out-of-memory');
        this.scoped = true;
      }
      for (const [b, { buffer, init }] of this.buffers) if (!buffer) this.materialize(b, init);
    }
    const layout = kernel.paramsLayout;
    const dispatch = kernel._computeDispatch(kernel.threadDim);
    const mirror = new ArrayBuffer(layout.byteLength);
    const u32 = new Uint32Array(mirror);
    u32.set([kernel.threadDim[0], kernel.threadDim[1], kernel.threadDim[2], dispatch.dispatchWidth]);
    layout.arrayArgs.forEach((record: { dimsOffset: number; index: number }) => u32.set([lengths[record.index], 1, 1, lengths[record.index]], record.dimsOffset / 4));
    const paramsBuffer = this.device.createBuffer({ size: layout.byteLength, usage: USAGE.UNIFORM | USAGE.COPY_DST });
    this.device.queue.writeBuffer(paramsBuffer, 0, mirror);
    this.programs.set(name, { name, kernel, owned, ...(owned ? {} : { cached: entry }), args: def.args, output: def.output, paramsBuffer, groups: dispatch.groups });
  }

  /** Compile one kernel through gpu.js (its WGSL, pipeline and parameter layout). */
  private async build(name: string, def: KernelDef, lengths: number[]): Promise<any> {
    const shortcut = this.gpu.createKernel(def.source, {
      output: [def.output],
      constants: def.constants ?? {},
      loopMaxIterations: Math.max(1, def.loopMax),
      precision: 'single',
      tactic: 'precision',
      pipeline: true,
      immutable: true,
    });
    const kernel = shortcut.kernel;
    if (kernel.constructor.name !== 'WebGPUKernel') throw new Error(`device program: gpu.js built ${kernel.constructor.name} for '${name}', not WebGPUKernel`);
    try {
      await kernel.build(...lengths.map((n) => new Float32Array(n)));
    } catch (e) {
      kernel.destroy?.();
      throw e;
    }
    // The build allocates an output buffer the program never uses (every pass writes a buffer of ours).
    if (kernel.outputBuffer) {
      if (--kernel.outputBuffer._refs === 0) kernel.outputBuffer.destroy();
      kernel.outputBuffer = null;
    }
    const layout = kernel.paramsLayout;
    if (layout.scalarArgs.length > 0 || layout.bufferConstants.length > 0 || layout.randomSeedOffset !== null) {
      kernel.destroy?.();
      throw new Error(`device program: kernel '${name}' has scalar arguments, array constants or gpu.js's unseeded random(); the program binds buffers only`);
    }
    return kernel;
  }

  /**
   * A storage buffer of `length` floats, zero or uploaded from `init` (an upload, counted). Declared before the
   * first kernel (whose build needs the lengths), it is made once gpu.js has opened the device.
   */
  buffer(name: string, length: number, init?: Float32Array): void {
    if (init && init.length !== length) throw new RangeError(`device program: ${init.length} floats for buffer '${name}' of ${length}`);
    this.buffers.get(name)?.buffer?.destroy();
    this.buffers.set(name, { buffer: null, length, init });
    if (this.device) this.materialize(name, init);
  }

  /**
   * Throw, naming the bytes and the caller's hint, if the device could not allocate a buffer made since the
   * device opened (WebGPU reports that only through an error scope). Call once every buffer exists.
   */
  async allocated(): Promise<void> {
    if (!this.scoped) return;
    this.scoped = false;
    let error: { message: string } | null;
    try {
      error = await this.device.popErrorScope();
    } catch (e) {
      error = { message: `the device's error scope failed: ${(e as Error).message}` }; // a lost device, typically
    }
    if (error) {
      const bytes = [...this.buffers.values()].reduce((a, b) => a + 4 * b.length, 0);
      throw new RangeError(`device program: the device is out of memory for this program's ${this.buffers.size} buffers (${(bytes / 2 ** 20).toFixed(1)} MiB in all): ${error.message}${this.sizeHint ? `; ${this.sizeHint}` : ''}`);
    }
  }

  private materialize(name: string, init?: Float32Array): void {
    const entry = this.get(name);
    const max = Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize);
    if (4 * entry.length > max) throw new RangeError(`device program: buffer '${name}' needs ${4 * entry.length} bytes; this device allows ${max} per storage buffer${this.sizeHint ? `; ${this.sizeHint}` : ''}`);
    entry.buffer = this.device.createBuffer({ size: Math.max(16, 4 * entry.length), usage: USAGE.STORAGE | USAGE.COPY_SRC | USAGE.COPY_DST });
    entry.init = undefined;
    if (init) this.write(name, init);
  }

  /** Upload `data` into a buffer (counted). */
  write(name: string, data: Float32Array): void {
    const { buffer, length } = this.get(name);
    if (data.length !== length) throw new RangeError(`device program: ${data.length} floats for buffer '${name}' of ${length}`);
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    this.stats.uploads++;
    this.stats.bytesUp += data.byteLength;
  }

  /** A pass of kernel `name` reading `args` (buffer names, in the kernel's parameter order) and writing `out`. */
  pass(name: string, args: readonly string[], out: string): Pass {
    const key = `${name}(${args.join(',')})>${out}`;
    let pass = this.bindGroups.get(key);
    if (pass) return pass;
    const program = this.programs.get(name);
    if (!program) throw new Error(`device program: no kernel named '${name}'`);
    if (args.length !== program.args.length) throw new Error(`device program: kernel '${name}' takes ${program.args.length} buffers, got ${args.length}`);
    if (args.includes(out)) throw new Error(`device program: pass '${key}' reads the buffer it writes`);
    args.forEach((a, j) => {
      if (this.get(a).length < this.get(program.args[j]).length) throw new RangeError(`device program: buffer '${a}' is shorter than '${program.args[j]}', which '${name}' was built for`);
    });
    if (this.get(out).length < program.output) throw new RangeError(`device program: buffer '${out}' cannot hold the ${program.output} floats of '${name}'`);
    const entries = [{ binding: 0, resource: { buffer: program.paramsBuffer } }, ...[...args, out].map((a, j) => ({ binding: j + 1, resource: { buffer: this.get(a).buffer } }))];
    pass = { program, bindGroup: this.device.createBindGroup({ layout: program.kernel.bindGroupLayout, entries }), out };
    this.bindGroups.set(key, pass);
    return pass;
  }

  /**
   * Record every pass into one command encoder, copy the `reads` buffers into one staging buffer in the same
   * encoder, submit once, and map once: their contents, in order.
   */
  async run(passes: readonly Pass[], reads: readonly (string | { name: string; floats: number })[]): Promise<Float32Array[]> {
    if (this.destroyed) throw new Error('device program: destroyed');
    this.checkDevice();
    const encoder = this.device.createCommandEncoder();
    for (const p of passes) {
      const compute = encoder.beginComputePass();
      compute.setPipeline(p.program.kernel.computePipeline);
      compute.setBindGroup(0, p.bindGroup);
      compute.dispatchWorkgroups(...p.program.groups);
      compute.end();
    }
    // Each read lands at a 16-byte-aligned offset of one staging buffer.
    // A read is a whole buffer, or its first `floats` floats.
    const names = reads.map((r) => (typeof r === 'string' ? r : r.name));
    const sizes = reads.map((r) => 4 * (typeof r === 'string' ? this.get(r).length : Math.min(r.floats, this.get(r.name).length)));
    const offsets: number[] = [];
    let total = 0;
    for (const size of sizes) {
      offsets.push(total);
      total += Math.ceil(size / 16) * 16;
    }
    if (total > 0) {
      if (!this.staging || this.staging.bytes < total) {
        this.staging?.buffer.destroy();
        this.staging = { buffer: this.device.createBuffer({ size: total, usage: USAGE.MAP_READ | USAGE.COPY_DST }), bytes: total };
      }
      names.forEach((r, j) => encoder.copyBufferToBuffer(this.get(r).buffer, 0, this.staging!.buffer, offsets[j], sizes[j]));
    }
    this.device.queue.submit([encoder.finish()]);
    this.stats.passes += passes.length;
    this.stats.submissions++;
    if (total === 0) return [];
    try {
      await this.staging!.buffer.mapAsync(MAP_READ, 0, total);
    } catch (e) {
      await Promise.resolve(); // a loss that failed the read is reported as the loss
      this.checkDevice();
      throw e;
    }
    this.checkDevice(); // lost during the submission: what was read is not the program's result
    const mapped = this.staging!.buffer.getMappedRange(0, total);
    const out = reads.map((_, j) => new Float32Array(mapped.slice(offsets[j], offsets[j] + sizes[j])));
    this.staging!.buffer.unmap();
    this.stats.readbacks++;
    this.stats.bytesDown += sizes.reduce((a, b) => a + b, 0);
    return out;
  }

  /** Throw, saying why, once the device is lost. */
  private checkDevice(): void {
    if (this.lost !== null) throw new Error(`device program: the WebGPU device was lost (${this.lost}); this training run cannot go on (a sweep keeps its finished chunks: --resume)`);
  }

  private get(name: string): { buffer: any; length: number; init?: Float32Array } {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`device program: no buffer named '${name}'`);
    return b;
  }

  /** Free every buffer and kernel; the program cannot run again. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.scoped) {
      this.scoped = false;
      void this.device.popErrorScope().catch(() => {}); // a failed build: close the scope it left open
    }
    for (const { buffer } of this.buffers.values()) buffer?.destroy();
    this.staging?.buffer.destroy();
    for (const p of this.programs.values()) {
      p.paramsBuffer.destroy();
      if (p.owned) p.kernel.destroy?.();
      else p.cached!.users--;
    }
    this.buffers.clear();
    this.programs.clear();
    this.bindGroups.clear();
  }
}
