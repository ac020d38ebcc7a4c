/**
 * The device trainer on WebGL2 (`gpujs:gpu` in a browser): the same chain of gpu.js kernels as the WebGPU program
 * (train-step.ts), compiled by gpu.js to GLSL ES 3.00 fragment shaders. Every kernel runs in pipeline mode, so its
 * output stays on the GPU as a float texture that the next kernel reads; nothing crosses to the host between
 * read-back points. The state [parameters | m | v | steps done] ping-pongs between the textures of two instances
 * of the AdamW kernel (a gpu.js kernel may not read the texture it writes), and each step's per-instance losses
 * go into a [steps, instances] texture, itself ping-ponged, that is read once per submission.
 *
 * WebGL has no command encoder to fill: the driver queues the draws as they are issued, and a submission here is
 * the steps between two read-backs (the read waits for them). The tables of the run (stream keys, thresholds,
 * importances, the schedule) and the initial state are uploaded once, through a copy kernel each.
 *
 * What differs from WebGPU: the sampler is a native GLSL function (threefry-glsl.ts: gpu.js's GLSL gets bit
 * operations on negative words wrong), so correlated feature sets, which draw other features' words, are refused
 * with the reason. Synchronous, as WebGL is: this runs on the thread that owns the WebGL context.
 */
import type { DeviceStats } from './program.ts';
import { threefryGlsl } from './threefry-glsl.ts';
import { adamKernel, checkDeviceSize, generalKernels, initialState, kernelConstants, layout, smallKernels, smallTiedModel, type DeviceTrainSpec } from './train-step.ts';
import type { DeviceRun, DeviceTraining } from './training.ts';

/* eslint-disable @typescript-eslint/no-explicit-any -- gpu.js's kernels and textures are untyped here */
type Gpu = { createKernel(source: string, settings: Record<string, unknown>): any };
type Texture = { toArray(): Float32Array; delete?(): void };

const COPY = 'function (a) { return a[this.thread.x]; }';
/**
 * The [steps, instances] loss table after step k (a scalar): row k gets each instance's loss, the other rows are
 * copied. It also finishes the loss, so that a step takes as many passes as on WebGPU: from the small chain's
 * slots (the loss slot of each instance, summed over the chunks of the batch, over B n), or the general chain's per-row sums (their sum over the batch in order,
 * over B n: the WebGPU chain's lossInstances).
 */
const lossTable = (small: boolean) => `function (table, from, k) {
  const t = this.thread.x;
  const row = Math.floor((t + 0.5) / this.constants.I);
  if (row !== k) { return table[t]; }
  const i = t - row * this.constants.I;
  ${small ? `let acc = 0;
  for (let c = 0; c < this.constants.chunks; c++) { acc += from[(i * this.constants.chunks + c) * this.constants.slots + this.constants.lossSlot]; }
  return acc / this.constants.Bn;` : `let acc = 0;
  for (let s = 0; s < this.constants.B; s++) { acc += from[i * this.constants.B + s]; }
  return acc / this.constants.Bn;`}
}`;

/**
 * Built kernels per gpu.js instance, by everything that shapes them, with the number of live runs using each: the
 * chunks of a sweep share one shape, so only the first compiles its shaders. A kernel in use by a run is not
 * handed to another (its output texture is the run's); a second live run of one shape builds its own. Kernels are
 * never destroyed while the instance lives: gpu.js points the context's vertex attributes at the buffer of the
 * kernel it built last and never rebinds them, so destroying that kernel (its buffer) leaves every other kernel
 * of the context, the backend's products included, drawing nothing (measured: evaluation losses 12% off after a
 * second run). The memory held grows with the number of distinct shapes a page trains.
 */
interface CachedKernel {
  kernel: any;
  users: number;
}
const built = new WeakMap<object, Map<string, CachedKernel>>();

function takeKernel(gpu: Gpu, source: string, settings: Record<string, unknown>, slot: number, onBuild: () => void): CachedKernel {
  let cache = built.get(gpu);
  if (!cache) built.set(gpu, (cache = new Map()));
  const key = JSON.stringify([source, settings.output, settings.constants, settings.immutable, slot]);
  const cached = cache.get(key);
  if (cached && cached.users === 0) {
    cached.users++;
    return cached;
  }
  onBuild();
  const entry = { kernel: gpu.createKernel(source, settings), users: 1 };
  if (!cached) cache.set(key, entry);
  return entry;
}

/**
 * The WebGL2 device trainer on a gpu.js instance in WebGL2 mode (the gpujs:gpu backend's own: one WebGL context,
 * where browsers allow only a few), named `device` in logs and results.
 */
export function webglTraining(gpu: Gpu, device: string): DeviceTraining {
  return { device, start: (spec) => startRun(gpu, spec) };
}

function startRun(gpu: Gpu, s: DeviceTrainSpec): DeviceRun {
  checkDeviceSize(s);
  const { instances: I, batch: B, features: n, hidden: m } = s;
  const { P, stateLength } = layout(s);
  if (s.params.length !== P) throw new RangeError(`device trainer: ${s.params.length} initial parameters, expected ${P}`);
  const small = smallTiedModel(s);
  const sources = generalKernels(s, 'native'); // refuses feature sets
  const K = s.stepsPerSubmission;
  const stats: DeviceStats = { passes: 0, submissions: 0, uploads: 0, readbacks: 0, bytesUp: 0, bytesDown: 0, builds: 0 };
  const nativeFunctions = [{ name: 'tfSample', source: threefryGlsl(), returnType: 'Number' }];
  const { constants, loopMax } = kernelConstants(s);
  const taken: CachedKernel[] = [];
  // immutable: every call a texture of its own (the uploads); otherwise a kernel's texture is reused by its next call
  // slot: which of a ping-ponged pair (two kernels of one source)
  const build = (source: string, output: number, extra: Record<string, number> = {}, immutable = false, slot = 0) => {
    const settings = { output: [output], constants: { ...constants, ...extra }, loopMaxIterations: Math.max(1, loopMax), precision: 'single', tactic: 'precision', pipeline: true, immutable, nativeFunctions };
    const entry = takeKernel(gpu, source, settings, slot, () => stats.builds++);
    taken.push(entry);
    const kernel = entry.kernel;
    return (...args: unknown[]): Texture => {
      if (!immutable) stats.passes++;
      const out = kernel(...args) as Texture;
      const ran = kernel.kernel?.constructor?.name;
      if (ran !== 'WebGL2Kernel') throw new Error(`device trainer on WebGL2: gpu.js ran ${ran}, not WebGL2Kernel`);
      if (kernel.kernel.precision !== 'single') throw new Error(`device trainer on WebGL2: the context gives precision '${kernel.kernel.precision}', not 'single' (no float render targets)`);
      return out;
    };
  };
  const copies = new Map<number, ReturnType<typeof build>>();
  const uploaded: Texture[] = [];
  /** An array as a texture of its own (one upload). */
  const upload = (data: Float32Array): Texture => {
    let copy = copies.get(data.length);
    if (!copy) copies.set(data.length, (copy = build(COPY, data.length, {}, true)));
    stats.uploads++;
    stats.bytesUp += data.byteLength;
    const texture = copy(data);
    uploaded.push(texture);
    return texture;
  };
  const read = (texture: Texture, length: number): Float32Array => {
    stats.readbacks++;
    stats.bytesDown += 4 * length;
    return texture.toArray().subarray(0, length);
  };

  let released = false;
  const release = () => {
    released = true;
    for (const texture of uploaded) texture.delete?.();
    for (const entry of taken) entry.users--;
  };
  try {
    const state = initialState(s);
    const keys = upload(s.keys);
    const thr = upload(s.thresholds);
    const imp = upload(s.importance);
    const sched = upload(s.schedule);
    const sets = upload(new Float32Array(5));
    const noNorms = upload(new Float32Array(Math.max(1, I)));
    let current = upload(state);
    let table = upload(new Float32Array(K * I));

    const sample = build(sources.sample, I * B * n);
    const adam = [0, 1].map((slot) => build(adamKernel(s, small), stateLength, {}, false, slot));
    const tableConstants = { I, lossSlot: n * m + n };
    const lossTables = [0, 1].map((slot) => build(lossTable(small), K * I, tableConstants, false, slot));
    let x: Texture | null = null;
    /** One step from state S: its next state (made by `next`) and what the loss table takes (slots or row sums). */
    let step: (S: Texture, next: (S: Texture, grad: Texture, norms: Texture) => Texture) => { S: Texture; losses: Texture };
    if (small) {
      const slotsKernel = build(smallKernels(s).step, I * constants.chunks * constants.slots);
      step = (S, next) => {
        x = sample(keys, thr, sets, S);
        const slots = slotsKernel(x, imp, S);
        return { S: next(S, slots, noNorms), losses: slots };
      };
    } else {
      const k = sources;
      const hidden = build(k.hidden, I * B * m);
      const out = build(k.out, I * B * n);
      const outgrad = build(k.outgrad, I * B * n);
      const gh = build(k.gh, I * B * m);
      const grad = build(k.grad, constants.chunks * P);
      const norms = s.clip > 0 ? build(k.norms, I) : null;
      const lossRows = build(k.lossRows, I * B);
      step = (S, next) => {
        x = sample(keys, thr, sets, S);
        const h = hidden(x, S);
        const y = out(h, S);
        const g = outgrad(x, y, imp);
        const dh = gh(g, h, S);
        const dP = grad(x, h, g, dh);
        const updated = next(S, dP, norms ? norms(dP) : noNorms);
        return { S: updated, losses: lossRows(x, y, imp) };
      };
    }
    const start = { ...stats };
    let done = 0;
    const run: DeviceRun = {
      startStats: start,
      run(steps) {
        if (released) throw new Error('device trainer on WebGL2: the run was freed');
        if (!Number.isInteger(steps) || steps < 1 || steps > K) throw new RangeError(`device trainer: ${steps} steps in one submission, expected 1..${K}`);
        if (done + steps > s.schedule.length / 4) throw new RangeError(`device trainer: step ${done + steps} is past the run's ${s.schedule.length / 4} steps`);
        for (let k = 0; k < steps; k++) {
          const parity = (done + k) % 2;
          const { S, losses } = step(current, (S, g, norms) => adam[parity](S, g, sched, norms));
          current = S;
          table = lossTables[parity](table, losses, k);
        }
        done += steps;
        stats.submissions++;
        const losses = read(table, steps * I).slice();
        return { losses, stats: { ...stats } };
      },
      state: () => read(current, stateLength).slice(),
      // WebGL reads a whole texture: the state's bytes cross, counted as such
      parameters: () => read(current, stateLength).slice(0, P),
      batch: () => {
        if (!x) throw new Error('device trainer on WebGL2: no step has run, so there is no batch');
        return read(x, I * B * n).slice();
      },
      free() {
        if (!released) release();
      },
    };
    return run;
  } catch (e) {
    release();
    throw e;
  }
}
