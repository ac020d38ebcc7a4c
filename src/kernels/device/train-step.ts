/**
 * The device side of the device trainer: the paper's four models trained for a whole run on a WebGPU device, a
 * step being a short fixed chain of gpu.js kernels (sample, forward, gradients, AdamW), many steps a submission.
 * The device holds the parameters, the Adam moments and the step counter from start to end; the host uploads the
 * run's tables once and reads back each step's per-instance losses (every submission) and the final parameters.
 *
 * The state is one buffer, [parameters | m | v | steps done] (3P + 1 floats) and for the tied models on the general
 * chain W transposed after it (see `layout`), ping-ponged between two buffers: the update kernel writes the next
 * state, its thread 3P the step count. Parameters are laid out as the host
 * model's (ToyModel.parameters concatenated: W, W2 for |x|, b, the hidden bias c), so the host reads them back
 * as they are.
 *
 * Two step chains:
 * - general (any model, feature sets, clipping): sample -> hidden -> output -> output gradient -> hidden
 *   gradient -> parameter gradients (-> clip norms) -> AdamW, plus two loss passes (per row from the output, per
 *   instance): 9-10 passes;
 * - small tied models (linear / ReLU-output, at most 64 parameters an instance, no sets or clipping): the sample
 *   pass, then one thread per (instance, parameter, chunk of the batch: batchChunks) runs its rows itself and sums its own
 *   gradient (the loss in one more slot), then AdamW (adding the chunks) and the losses: 4 passes a step. Sampling is its own pass so
 *   that each element is drawn once, not once per parameter (Threefry is most of a 2->1 step's work).
 *
 * The batch is the CPU trainer's bit for bit (the counter-based rule of src/toy/data.ts, here as kernel code);
 * the arithmetic is float32 in the GPU's order, so losses and parameters agree with the autograd trainer within
 * float32 rounding (tested), not bit for bit.
 */
import { threefryStatements } from '../../counter/threefry.ts';
import { DeviceProgram, type DeviceStats, type Pass } from './program.ts';

/** Which of the paper's four toy models the device trains (the same kinds as the host's ModelKind). */
export type DeviceModelKind = 'linear' | 'relu-output' | 'relu-hidden' | 'abs';

/** Everything a run needs, as plain data (it crosses a thread boundary). */
export interface DeviceTrainSpec {
  kind: DeviceModelKind;
  instances: number;
  batch: number;
  features: number;
  hidden: number;
  hiddenBias: boolean;
  values: 'unit' | 'signed';
  /** Per instance, its data stream key as four 16-bit halves (k0 high, k0 low, k1 high, k1 low). */
  keys: Float32Array;
  /** Per instance, its gate threshold fround(p) * 2^24. */
  thresholds: Float32Array;
  /** [instances * features]. */
  importance: Float32Array;
  /** The initial parameters, ToyModel.parameters concatenated. */
  params: Float32Array;
  /** Per step t: lr_t, lr_t / (1 - beta1^(t+1)), sqrt(1 - beta2^(t+1)), 1 - lr_t * wd (AdamW) or 1. */
  schedule: Float32Array;
  betas: [number, number];
  eps: number;
  /** Adam's L2 term (weight decay added to the gradient); 0 for AdamW. */
  l2: number;
  /** Per-instance gradient clipping norm, or 0. */
  clip: number;
  /** Per feature: [kind (0 independent, 1 correlated, 2 anticorrelated), gate feature, chooser feature, member index, set size]; empty without sets. */
  sets: Float32Array;
  /** Steps one submission may hold (sizes the loss buffers). */
  stepsPerSubmission: number;
}

/** Everything index math in a float32 shader must hold exactly. */
const MAX_FLOATS = 2 ** 24;
const TWO_M24 = 2 ** -24;

/**
 * Parameter segment offsets in the flat parameter vector, and the state's layout: [parameters | m | v | steps
 * done], then for the tied models on the general chain W transposed ([instances, hidden, features], written by
 * the AdamW pass with W's own bits), so that the output pass, whose neighbouring threads take neighbouring
 * features, reads contiguous words on a GPU instead of words m apart.
 */
export function layout(s: DeviceTrainSpec) {
  const { instances: I, features: n, hidden: m } = s;
  const oW2 = I * n * m;
  const oB = oW2 + (s.kind === 'abs' ? I * m * n : 0);
  const oC = oB + I * n;
  const P = oC + (s.hiddenBias ? I * m : 0);
  const transposed = s.kind !== 'abs' && !smallTiedModel(s);
  const oWT = 3 * P + 1;
  return { oW2, oB, oC, P, transposed, oWT, stateLength: oWT + (transposed ? I * n * m : 0) };
}

/** The initial state: the parameters, zero moments and step count, and W transposed where the layout has it. */
export function initialState(s: DeviceTrainSpec): Float32Array {
  const { instances: I, features: n, hidden: m } = s;
  const { stateLength, transposed, oWT } = layout(s);
  const state = new Float32Array(stateLength);
  state.set(s.params);
  if (transposed) {
    for (let i = 0; i < I; i++) for (let f = 0; f < n; f++) for (let k = 0; k < m; k++) state[oWT + i * n * m + k * n + f] = s.params[i * n * m + f * m + k];
  }
  return state;
}

/**
 * Refuse a run whose arrays a float32 shader cannot index exactly (thread and element indices are floats in
 * gpu.js's kernels), naming the size and how to lower it.
 */
export function checkDeviceSize(s: DeviceTrainSpec): void {
  const { instances: I, batch: B, features: n, hidden: m } = s;
  const checks: [string, number][] = [
    ['4 x steps (the schedule table)', s.schedule.length],
    ['the state (3 x parameters, and W transposed on the general chain)', layout(s).stateLength],
    ['instances x batch x features', I * B * n],
    ['instances x batch x hidden', I * B * m],
  ];
  for (const [what, size] of checks) {
    if (size >= MAX_FLOATS) throw new RangeError(`device trainer: ${what} = ${size} floats (${I} instances), over the ${MAX_FLOATS} a float32 shader indexes exactly; train fewer instances at once (phase-diagram.ts: a smaller --chunk-size) or a smaller batch`);
  }
}

/** Whether the three-pass chain serves this run. */
export function smallTiedModel(s: DeviceTrainSpec): boolean {
  return (s.kind === 'linear' || s.kind === 'relu-output') && s.features * s.hidden + s.features <= 64 && s.sets.length === 0 && s.clip === 0;
}

/**
 * The batch split of the passes that sum over it per parameter: the small chain's step (one thread per instance
 * and slot) and the general chain's parameter gradients (one thread per parameter) run one thread per chunk of
 * rows too, and the AdamW and loss passes add the chunks' partial sums. Those threads alone are few for a GPU
 * (P: 20,000 threads of 1024 rows, B: 5,120, C: 42,000), so the batch is cut until there are about 2^17 threads,
 * keeping 32 rows or more a thread. Clipping's norm pass reads whole gradients: no split there.
 */
export function batchChunks(s: DeviceTrainSpec): number {
  if (!smallTiedModel(s) && s.clip > 0) return 1;
  const threads = smallTiedModel(s) ? s.instances * (s.features * s.hidden + s.features + 1) : layout(s).P;
  const wanted = 2 ** Math.max(0, Math.ceil(Math.log2(2 ** 17 / threads)));
  return Math.max(1, Math.min(wanted, Math.floor(s.batch / 32)));
}

// --- code generation ----------------------------------------------------------------------------------------

/**
 * `q = floor(t / d)`, `r = t - q d` for integers t, d held in floats (t < 2^24): a float quotient, then the
 * remainder computed exactly and the quotient corrected. WGSL allows division 2.5 ulp of error, which leaves the
 * float quotient at most 2 off near 2^24 (t + 0.5 itself rounds for t >= 2^23): two corrections each way.
 */
const split = (t: string, d: string, q: string, r: string): string =>
  `let ${q} = Math.floor((${t} + 0.5) / ${d}); let ${r} = ${t} - ${q} * ${d};
  if (${r} < 0) { ${q} = ${q} - 1; ${r} = ${r} + ${d}; }
  if (${r} < 0) { ${q} = ${q} - 1; ${r} = ${r} + ${d}; }
  if (${r} >= ${d}) { ${q} = ${q} + 1; ${r} = ${r} - ${d}; }
  if (${r} >= ${d}) { ${q} = ${q} + 1; ${r} = ${r} - ${d}; }`;

/** An integer variable: gpu.js types a variable as i32 only when a ++ touches it (else it becomes f32). */
const int = (name: string, init: string): string => `let ${name} = 0; ${name}++; ${name} = (${init}) | 0;`;

/**
 * Threefry-2x32-20 of (key of instance `i`, (step, counter)) into integer variables g<tag> (gate word) and
 * v<tag> (value word).
 */
function threefry(tag: string, i: string, step: string, counter: string): string {
  const [k0, k1, k2, x0, x1] = ['k0', 'k1', 'k2', 'g', 'v'].map((v) => v + tag);
  return [
    int(k0, `(keys[${i} * 4] << 16) | keys[${i} * 4 + 1]`),
    int(k1, `(keys[${i} * 4 + 2] << 16) | keys[${i} * 4 + 3]`),
    int(k2, '0'),
    int(x0, step),
    int(x1, counter),
    threefryStatements({ k0, k1, k2, x0, x1 }),
  ].join('\n');
}

/** The value of value word v<tag>: (v >>> 8) 2^-24, or (v >>> 8) 2^-23 - 1 (exact in float32 either way). */
const valueOf = (tag: string, signed: boolean): string => (signed ? `((v${tag} >>> 8) * ${2 ** -23} - 1)` : `((v${tag} >>> 8) * ${TWO_M24})`);

/**
 * How a kernel draws Threefry: 'integer', as gpu.js kernel code on integer variables (WGSL has 32-bit integers);
 * 'native', by calling the GLSL function tfSample (threefry-glsl.ts), because gpu.js's GLSL emulates the bit
 * operations on floats, wrongly for negative words. 'native' has no feature sets.
 */
export type SamplerDialect = 'integer' | 'native';

/** The sampled value of element `e` (row start `row`, feature `f`) of instance `i`, into float variable `out`. */
function sampleInto(out: string, s: DeviceTrainSpec, i: string, step: string, row: string, f: string, dialect: SamplerDialect): string {
  const signed = s.values === 'signed';
  if (dialect === 'native') {
    if (s.sets.length > 0) throw new RangeError('device trainer on WebGL2: correlated or anticorrelated feature sets are not supported there (its sampler has no set rules); train them on gpujs:webgpu or a CPU backend');
    return `let ${out} = tfSample(keys[${i} * 4], keys[${i} * 4 + 1], keys[${i} * 4 + 2], keys[${i} * 4 + 3], ${step}, ${row} + ${f}, thr[${i}], ${signed ? 1 : 0});`;
  }
  const own = threefry('o', i, step, `${row} + ${f}`);
  if (s.sets.length === 0) return `${own}\nlet ${out} = 0;\nif ((go >>> 8) < thr[${i}]) { ${out} = ${valueOf('o', signed)}; }`;
  return `${own}
  let ${out} = 0;
  const kind = sets[${f} * 5];
  if (kind === 0) {
    if ((go >>> 8) < thr[${i}]) { ${out} = ${valueOf('o', signed)}; }
  } else {
    ${threefry('a', i, step, `${row} + sets[${f} * 5 + 1]`)}
    let on = 0;
    if ((ga >>> 8) < thr[${i}]) { on = 1; }
    if (kind === 2) {
      ${threefry('b', i, step, `${row} + sets[${f} * 5 + 2]`)}
      const chosen = Math.floor(((gb >>> 8) * sets[${f} * 5 + 4]) * ${TWO_M24});
      if (chosen !== sets[${f} * 5 + 3]) { on = 0; }
    }
    if (on === 1) { ${out} = ${valueOf('o', signed)}; }
  }`;
}

/** W2(i, k, f): the output layer's weight from hidden unit k to feature f (W's row f for the tied models). */
const w2 = (s: DeviceTrainSpec, i: string, k: string, f: string): string =>
  s.kind === 'abs' ? `S[this.constants.oW2 + ${i} * this.constants.mn + ${k} * this.constants.n + ${f}]` : `S[${i} * this.constants.mn + ${f} * this.constants.m + ${k}]`;

/** W2(i, k, f) read from W's transposed copy for the tied models ([i, k, f]: contiguous in f). */
const w2Transposed = (s: DeviceTrainSpec, i: string, k: string, f: string): string =>
  s.kind === 'abs' ? w2(s, i, k, f) : `S[this.constants.oWT + ${i} * this.constants.mn + ${k} * this.constants.n + ${f}]`;

/** The forward output of feature f of row r from hidden activations h and state S, into `pre`/`out`. */
function output(s: DeviceTrainSpec, i: string, r: string, f: string): string {
  return `let pre = 0;
    for (let k = 0; k < this.constants.m; k++) { pre += h[${r} * this.constants.m + k] * ${w2Transposed(s, i, 'k', f)}; }
    pre = pre + S[this.constants.oB + ${i} * this.constants.n + ${f}];
    let out = pre;
    ${s.kind === 'linear' ? '' : 'if (pre < 0) { out = 0; }'}`;
}

const target = (s: DeviceTrainSpec, x: string): string => (s.kind === 'abs' ? `Math.abs(${x})` : x);

/** The general chain's kernel sources (see DeviceTrainer.build for how they are wired). */
export function generalKernels(s: DeviceTrainSpec, dialect: SamplerDialect = 'integer') {
  const hiddenRelu = s.kind === 'relu-hidden' || s.kind === 'abs';
  const sample = `function (keys, thr, sets, S) {
  const t = this.thread.x;
  ${split('t', 'this.constants.Bn', 'i', 'e')}
  ${split('e', 'this.constants.n', 'sr', 'f')}
  const row = e - f;
  ${sampleInto('x', s, 'i', 'S[this.constants.tSlot]', 'row', 'f', dialect)}
  return x;
}`;
  const hidden = `function (x, S) {
  const t = this.thread.x;
  ${split('t', 'this.constants.m', 'r', 'k')}
  ${split('r', 'this.constants.B', 'i', 'sr')}
  let acc = 0;
  for (let f = 0; f < this.constants.n; f++) { acc += x[r * this.constants.n + f] * S[i * this.constants.mn + f * this.constants.m + k]; }
  ${s.hiddenBias ? 'acc = acc + S[this.constants.oC + i * this.constants.m + k];' : ''}
  ${hiddenRelu ? 'if (acc < 0) { acc = 0; }' : ''}
  return acc;
}`;
  // The output y, then its gradient elementwise: the loss pass reads y too (n work a row, not the n m of
  // recomputing the output layer in one thread a row).
  const out = `function (h, S) {
  const t = this.thread.x;
  ${split('t', 'this.constants.n', 'r', 'f')}
  ${split('r', 'this.constants.B', 'i', 'sr')}
  ${output(s, 'i', 'r', 'f')}
  return out;
}`;
  // y <= 0 exactly where the ReLU's input was <= 0 (y = 0 or +-0 there; NaN passes, as pre <= 0 let it).
  const outgrad = `function (x, y, imp) {
  const t = this.thread.x;
  ${split('t', 'this.constants.n', 'r', 'f')}
  ${split('r', 'this.constants.B', 'i', 'sr')}
  let g = this.constants.c * imp[i * this.constants.n + f] * (y[t] - ${target(s, 'x[t]')});
  ${s.kind === 'linear' ? '' : 'if (y[t] <= 0) { g = 0; }'}
  return g;
}`;
  const gh = `function (g, h, S) {
  const t = this.thread.x;
  ${split('t', 'this.constants.m', 'r', 'k')}
  ${split('r', 'this.constants.B', 'i', 'sr')}
  let acc = 0;
  for (let f = 0; f < this.constants.n; f++) { acc += g[r * this.constants.n + f] * ${w2(s, 'i', 'k', 'f')}; }
  ${hiddenRelu ? 'if (h[t] <= 0) { acc = 0; }' : ''}
  return acc;
}`;
  const tied = s.kind !== 'abs';
  // One thread per (chunk of the batch, parameter): [chunks, P] partial sums, which the AdamW pass adds.
  const rows = (body: (r: string) => string) => `for (let sc = 0; sc < this.constants.rows; sc++) {
      const sr = c * this.constants.rows + sc;
      if (sr < this.constants.B) { ${body('sr')} }
    }`;
  const grad = `function (x, h, g, gh) {
  const t = this.thread.x;
  ${split('t', 'this.constants.P', 'c', 'j')}
  let acc = 0;
  if (j < this.constants.oW2) {
    ${split('j', 'this.constants.mn', 'i', 'q')}
    ${split('q', 'this.constants.m', 'f', 'k')}
    ${rows((s) => `const r = i * this.constants.B + ${s};
      acc += x[r * this.constants.n + f] * gh[r * this.constants.m + k]${tied ? ' + g[r * this.constants.n + f] * h[r * this.constants.m + k]' : ''};`)}
  } else if (j < this.constants.oB) {
    const j2 = j - this.constants.oW2;
    ${split('j2', 'this.constants.mn', 'i', 'q')}
    ${split('q', 'this.constants.n', 'k', 'f')}
    ${rows((s) => `const r = i * this.constants.B + ${s};
      acc += h[r * this.constants.m + k] * g[r * this.constants.n + f];`)}
  } else if (j < this.constants.oC) {
    const j2 = j - this.constants.oB;
    ${split('j2', 'this.constants.n', 'i', 'f')}
    ${rows((s) => `acc += g[(i * this.constants.B + ${s}) * this.constants.n + f];`)}
  } else {
    const j2 = j - this.constants.oC;
    ${split('j2', 'this.constants.m', 'i', 'k')}
    ${rows((s) => `acc += gh[(i * this.constants.B + ${s}) * this.constants.m + k];`)}
  }
  return acc;
}`;
  // Per-instance gradient norm over the instance's slices of every parameter (clip_grad_norm_ per instance).
  const norms = `function (grad) {
  const i = this.thread.x;
  let acc = 0;
  for (let q = 0; q < this.constants.mn; q++) { const v = grad[i * this.constants.mn + q]; acc += v * v; }
  ${s.kind === 'abs' ? 'for (let q = 0; q < this.constants.mn; q++) { const v = grad[this.constants.oW2 + i * this.constants.mn + q]; acc += v * v; }' : ''}
  for (let q = 0; q < this.constants.n; q++) { const v = grad[this.constants.oB + i * this.constants.n + q]; acc += v * v; }
  ${s.hiddenBias ? 'for (let q = 0; q < this.constants.m; q++) { const v = grad[this.constants.oC + i * this.constants.m + q]; acc += v * v; }' : ''}
  return Math.sqrt(acc);
}`;
  const lossRows = `function (x, y, imp) {
  const r = this.thread.x;
  ${split('r', 'this.constants.B', 'i', 'sr')}
  let acc = 0;
  for (let f = 0; f < this.constants.n; f++) {
    const d = y[r * this.constants.n + f] - ${target(s, 'x[r * this.constants.n + f]')};
    acc += imp[i * this.constants.n + f] * d * d;
  }
  return acc;
}`;
  const lossInstances = `function (rows) {
  const i = this.thread.x;
  let acc = 0;
  for (let s = 0; s < this.constants.B; s++) { acc += rows[i * this.constants.B + s]; }
  return acc / this.constants.Bn;
}`;
  return { sample, hidden, out, outgrad, gh, grad, norms, lossRows, lossInstances };
}

/**
 * AdamW / Adam over the state [params | m | v | steps done (| W transposed)], torch.optim's update (as
 * src/toy/optim.ts): the gradient of parameter p is grad[gradIndex(p)]; thread 3P writes the step count.
 */
export function adamKernel(s: DeviceTrainSpec, small: boolean): string {
  const { oW2, oB, oC, transposed } = layout(s);
  // Which parameter thread j updates, and which of its state words it writes (0 the parameter, 1 m, 2 v): past
  // the step slot, the transposed copy's (i, k, f) is W's (i, f, k), updated by the same code, so the same bits.
  const target = transposed
    ? `let which = 0; let p = 0;
  if (j < this.constants.tSlot) { ${split('j', 'this.constants.P', 'w0', 'p0')} which = w0; p = p0; }
  else { const jt = j - this.constants.oWT; ${split('jt', 'this.constants.mn', 'it', 'qt')} ${split('qt', 'this.constants.n', 'kt', 'ft')} p = it * this.constants.mn + ft * this.constants.m + kt; }`
    : split('j', 'this.constants.P', 'which', 'p');
  // Parameter p's gradient: at the same index, or the small chain's slot of its instance, summed over the chunks
  // of the batch ([instances, chunks, slots]).
  const gradient = small
    ? `let gi = 0;
    if (p < ${oB}) { ${split('p', 'this.constants.mn', 'i', 'q')} gi = i * this.constants.chunks * this.constants.slots + q; }
    else { const p2 = p - ${oB}; ${split('p2', 'this.constants.n', 'i', 'q')} gi = i * this.constants.chunks * this.constants.slots + this.constants.mn + q; }
  let gr = 0;
  for (let c = 0; c < this.constants.chunks; c++) { gr += grad[gi + c * this.constants.slots]; }`
    : batchChunks(s) === 1
      ? 'let gr = grad[p];'
      : `let gr = 0;
  for (let c = 0; c < this.constants.chunks; c++) { gr += grad[c * this.constants.P + p]; }`;
  // The instance of parameter p, for its clip coefficient.
  const instance = `let inst = 0;
    if (p < ${oW2}) { ${split('p', 'this.constants.mn', 'iw', 'rw')} inst = iw; }
    else if (p < ${oB}) { const pw = p - ${oW2}; ${split('pw', 'this.constants.mn', 'iv', 'rv')} inst = iv; }
    else if (p < ${oC}) { const pb = p - ${oB}; ${split('pb', 'this.constants.n', 'ib', 'rb')} inst = ib; }
    else { const pc = p - ${oC}; ${split('pc', 'this.constants.m', 'ic', 'rc')} inst = ic; }`;
  return `function (S, grad, sched, norms) {
  const j = this.thread.x;
  const steps = S[this.constants.tSlot];
  if (j === this.constants.tSlot) { return steps + 1; }
  ${target}
  ${gradient}
  ${s.clip > 0 ? `${instance}
  const coef = this.constants.clip / (norms[inst] + 0.000001);
  if (coef < 1) { gr = gr * coef; }` : ''}
  const w = S[p];
  gr = gr + this.constants.l2 * w;
  const m = this.constants.b1 * S[this.constants.P + p] + (1 - this.constants.b1) * gr;
  const v = this.constants.b2 * S[2 * this.constants.P + p] + (1 - this.constants.b2) * gr * gr;
  if (which === 1) { return m; }
  if (which === 2) { return v; }
  const row = steps * 4;
  const decayed = w * sched[row + 3];
  return decayed - (sched[row + 1] * m) / (Math.sqrt(v) / sched[row + 2] + this.constants.eps);
}`;
}

/**
 * The small tied models' step for one (instance, chunk of rows, slot) after sampling: slot q < n m is W's (f, k),
 * then b's f, and the last slot the loss. Every thread runs its rows of the instance's batch itself (the work is
 * tiny; redundancy is cheaper than passes), keeping W, b and each row's activations in registers, and writes its
 * partial sum ([instances, chunks, slots]).
 */
export function smallKernels(s: DeviceTrainSpec) {
  const { features: n, hidden: m } = s;
  const F = Array.from({ length: n }, (_, f) => f);
  const K = Array.from({ length: m }, (_, k) => k);
  const relu = s.kind === 'relu-output';
  const pick = (name: string, index: string, count: number) => `let ${name}s = ${name}0;\n${Array.from({ length: count - 1 }, (_, c) => `if (${index} === ${c + 1}) { ${name}s = ${name}${c + 1}; }`).join('\n')}`;
  const step = `function (x, imp, S) {
  const t = this.thread.x;
  ${split('t', 'this.constants.slots', 'ic', 'q')}
  ${split('ic', 'this.constants.chunks', 'i', 'c')}
  ${F.flatMap((f) => K.map((k) => `const w${f}_${k} = S[i * ${n * m} + ${f * m + k}];`)).join('\n')}
  ${F.map((f) => `const b${f} = S[this.constants.oB + i * ${n} + ${f}]; const im${f} = imp[i * ${n} + ${f}];`).join('\n')}
  ${split('q', String(m), 'fs', 'ks')}
  const qb = q - ${n * m};
  let acc = 0;
  for (let s = 0; s < this.constants.rows; s++) {
    const r = c * this.constants.rows + s;
    if (r < this.constants.B) {
    const row = (i * this.constants.B + r) * ${n};
    ${F.map((f) => `const x${f} = x[row + ${f}];`).join('\n')}
    ${K.map((k) => `const h${k} = ${F.map((f) => `x${f} * w${f}_${k}`).join(' + ')};`).join('\n')}
    ${F.map((f) => `const p${f} = ${K.map((k) => `h${k} * w${f}_${k}`).join(' + ')} + b${f};
    let o${f} = p${f};${relu ? ` if (p${f} < 0) { o${f} = 0; }` : ''}
    let d${f} = this.constants.c * im${f} * (o${f} - x${f});${relu ? ` if (p${f} <= 0) { d${f} = 0; }` : ''}`).join('\n')}
    if (q < ${n * m}) {
      ${K.map((k) => `const gh${k} = ${F.map((f) => `d${f} * w${f}_${k}`).join(' + ')};`).join('\n')}
      ${pick('d', 'fs', n)}
      ${pick('x', 'fs', n)}
      ${pick('h', 'ks', m)}
      ${pick('gh', 'ks', m)}
      acc += ds * hs + xs * ghs;
    } else if (q < ${n * m + n}) {
      ${pick('d', 'qb', n)}
      acc += ds;
    } else {
      acc += ${F.map((f) => `im${f} * (o${f} - x${f}) * (o${f} - x${f})`).join(' + ')};
    }
    }
  }
  return acc;
}`;
  const losses = `function (slots) {
  let acc = 0;
  for (let c = 0; c < this.constants.chunks; c++) { acc += slots[(this.thread.x * this.constants.chunks + c) * this.constants.slots + ${n * m + n}]; }
  return acc / this.constants.Bn;
}`;
  return { step, losses };
}

/**
 * The constants every kernel of a run is built with (sizes, parameter offsets, the state's step slot, the small
 * chain's slots per instance, the loss scale, Adam's settings), and the largest loop bound of their sources.
 */
export function kernelConstants(s: DeviceTrainSpec) {
  const { batch: B, features: n, hidden: m } = s;
  const { oW2, oB, oC, P, oWT } = layout(s);
  const chunks = batchChunks(s);
  const constants = {
    n, m, B, mn: n * m, Bn: B * n, oW2, oB, oC, P, tSlot: 3 * P, oWT, slots: n * m + n + 1, chunks, rows: Math.ceil(B / chunks),
    c: 2 / (B * n), b1: s.betas[0], b2: s.betas[1], eps: s.eps, l2: s.l2, clip: s.clip,
  };
  return { constants, loopMax: Math.max(B, n, m, n * m, chunks) };
}

/** A run on the device: build with `create`, then `run` steps (any number up to stepsPerSubmission at a time). */
export class DeviceTrainer {
  /** Steps recorded so far (the state's step count, known here without reading it). */
  private done = 0;
  private constructor(
    private readonly program: DeviceProgram,
    private readonly spec: DeviceTrainSpec,
    private readonly chain: (a: string, b: string, lossBuffer: string) => Pass[],
  ) {}

  get stats(): DeviceStats {
    return { ...this.program.stats };
  }

  static async create(gpu: ConstructorParameters<typeof DeviceProgram>[0], s: DeviceTrainSpec): Promise<DeviceTrainer> {
    const { P } = layout(s);
    checkDeviceSize(s);
    if (s.params.length !== P) throw new RangeError(`device trainer: ${s.params.length} initial parameters, expected ${P}`);
    const program = new DeviceProgram(gpu, `a run of ${s.instances} instances at once (the chunk size); train fewer at once (phase-diagram.ts: a smaller --chunk-size) or a smaller batch`);
    try {
      const trainer = await DeviceTrainer.build(program, s);
      await program.allocated();
      return trainer;
    } catch (e) {
      program.destroy(); // a failed build must not leave the run's buffers and kernels on the device
      throw e;
    }
  }

  private static async build(program: DeviceProgram, s: DeviceTrainSpec): Promise<DeviceTrainer> {
    const { instances: I, batch: B, features: n, hidden: m } = s;
    const { P, stateLength } = layout(s);
    const small = smallTiedModel(s);
    const { constants, loopMax } = kernelConstants(s);
    const { slots, chunks } = constants;
    const state = initialState(s);
    program.buffer('keys', 4 * I, s.keys);
    program.buffer('thr', I, s.thresholds);
    program.buffer('imp', I * n, s.importance);
    program.buffer('sched', s.schedule.length, s.schedule);
    program.buffer('sets', Math.max(5, s.sets.length), s.sets.length ? s.sets : undefined);
    program.buffer('S0', stateLength, state);
    program.buffer('S1', stateLength);
    for (let k = 0; k < s.stepsPerSubmission; k++) program.buffer(`loss${k}`, I);
    program.buffer('x', I * B * n);
    const k = generalKernels(s);
    const build = (name: string, source: string, output: number, args: string[]) => program.kernel(name, { source, output, constants, args, loopMax });
    await build('sample', k.sample, I * B * n, ['keys', 'thr', 'sets', 'S0']);
    if (small) {
      program.buffer('slots', I * chunks * slots);
      program.buffer('norms', 1);
      const small = smallKernels(s);
      await build('step', small.step, I * chunks * slots, ['x', 'imp', 'S0']);
      await build('adam', adamKernel(s, true), stateLength, ['S0', 'slots', 'sched', 'norms']);
      await build('losses', small.losses, I, ['slots']);
      return new DeviceTrainer(program, s, (a, b, loss) => [
        program.pass('sample', ['keys', 'thr', 'sets', a], 'x'),
        program.pass('step', ['x', 'imp', a], 'slots'),
        program.pass('adam', [a, 'slots', 'sched', 'norms'], b),
        program.pass('losses', ['slots'], loss),
      ]);
    }
    program.buffer('h', I * B * m);
    program.buffer('y', I * B * n);
    program.buffer('g', I * B * n);
    program.buffer('gh', I * B * m);
    program.buffer('grad', constants.chunks * P);
    program.buffer('norms', Math.max(1, I));
    program.buffer('rows', I * B);
    await build('hidden', k.hidden, I * B * m, ['x', 'S0']);
    await build('out', k.out, I * B * n, ['h', 'S0']);
    await build('outgrad', k.outgrad, I * B * n, ['x', 'y', 'imp']);
    await build('gh', k.gh, I * B * m, ['g', 'h', 'S0']);
    await build('grad', k.grad, constants.chunks * P, ['x', 'h', 'g', 'gh']);
    if (s.clip > 0) await build('norms', k.norms, I, ['grad']);
    await build('adam', adamKernel(s, false), stateLength, ['S0', 'grad', 'sched', 'norms']);
    await build('lossRows', k.lossRows, I * B, ['x', 'y', 'imp']);
    await build('lossInstances', k.lossInstances, I, ['rows']);
    return new DeviceTrainer(program, s, (a, b, loss) => [
      program.pass('sample', ['keys', 'thr', 'sets', a], 'x'),
      program.pass('hidden', ['x', a], 'h'),
      program.pass('out', ['h', a], 'y'),
      program.pass('outgrad', ['x', 'y', 'imp'], 'g'),
      program.pass('gh', ['g', 'h', a], 'gh'),
      program.pass('grad', ['x', 'h', 'g', 'gh'], 'grad'),
      ...(s.clip > 0 ? [program.pass('norms', ['grad'], 'norms')] : []),
      program.pass('adam', [a, 'grad', 'sched', 'norms'], b),
      program.pass('lossRows', ['x', 'y', 'imp'], 'rows'),
      program.pass('lossInstances', ['rows'], loss),
    ]);
  }

  /** Record `steps` steps into one submission; their per-instance losses, step-major ([steps, instances]). */
  async run(steps: number): Promise<Float32Array> {
    if (!Number.isInteger(steps) || steps < 1 || steps > this.spec.stepsPerSubmission) throw new RangeError(`device trainer: ${steps} steps in one submission, expected 1..${this.spec.stepsPerSubmission}`);
    if (this.done + steps > this.spec.schedule.length / 4) throw new RangeError(`device trainer: step ${this.done + steps} is past the run's ${this.spec.schedule.length / 4} steps`);
    const passes: Pass[] = [];
    for (let k = 0; k < steps; k++) {
      const [a, b] = (this.done + k) % 2 === 0 ? ['S0', 'S1'] : ['S1', 'S0'];
      passes.push(...this.chain(a, b, `loss${k}`));
    }
    const losses = await this.program.run(passes, Array.from({ length: steps }, (_, k) => `loss${k}`));
    this.done += steps;
    const out = new Float32Array(steps * this.spec.instances);
    losses.forEach((l, k) => out.set(l, k * this.spec.instances));
    return out;
  }

  /**
   * Where a step's time goes: each pass of one step's chain timed alone, as `repeats` copies of it in one submission
   * against one copy (the difference over repeats - 1 leaves out the submission's fixed cost), median of `trials`;
   * microseconds a pass. Every pass reads buffers other than the one it writes, so repeats compute the same thing
   * and the run's state is left as it was (the next step overwrites what the profile wrote).
   */
  async profile(repeats = 32, trials = 5): Promise<{ pass: string; us: number }[]> {
    if (!Number.isInteger(repeats) || repeats < 2) throw new RangeError(`device trainer: profile repeats = ${repeats}, expected an integer >= 2`);
    const [a, b] = this.done % 2 === 0 ? ['S0', 'S1'] : ['S1', 'S0'];
    const chain = this.chain(a, b, 'loss0');
    const time = async (passes: Pass[]): Promise<number> => {
      const t0 = performance.now();
      await this.program.run(passes, ['loss0']);
      return performance.now() - t0;
    };
    const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
    const out: { pass: string; us: number }[] = [];
    for (const pass of chain) {
      const many = Array.from({ length: repeats }, () => pass);
      await time(many); // warm-up
      const diffs: number[] = [];
      for (let t = 0; t < trials; t++) diffs.push(((await time(many)) - (await time([pass]))) / (repeats - 1));
      out.push({ pass: pass.program.name, us: median(diffs) * 1000 });
    }
    return out;
  }

  /**
   * One read-back: by default the current state (see `layout`); 'parameters', only its parameters (the end of a
   * run); 'x', the last step's batch (for checking the device sampler against the host's bit for bit).
   */
  async read(buffer: 'state' | 'parameters' | 'x' = 'state'): Promise<Float32Array> {
    const state = this.done % 2 === 0 ? 'S0' : 'S1';
    const [values] = await this.program.run([], [buffer === 'x' ? 'x' : buffer === 'parameters' ? { name: state, floats: layout(this.spec).P } : state]);
    return values;
  }

  destroy(): void {
    this.program.destroy();
  }
}
