/**
 * The device trainer's costs on a WebGPU device, in one command:
 * 1. the per-pass cost curve: a tiny kernel chained 1 to 512 times in one submission (the device program's own
 *    executor, src/kernels/device/program.ts), ms per submission, and the fit: microseconds per pass and the
 *    fixed cost of a submission with its read-back;
 * 2. device-trainer steps per second at several steps-per-submission K, on configurations of bench-train
 *    (default P = 4000 x 2->1, C = 20 x 100->20, D = 8 x 400->30), with the per-step counts;
 * 3. where a step's time goes: each pass of the configuration's step chain timed alone (DeviceTrainer.profile:
 *    many copies of the pass in one submission against one copy), microseconds a pass.
 *
 *   npx tsx scripts/bench-device.ts [--software] [--configs P,C,D] [--k 16,64,256] [--json FILE]
 *
 * --software accepts a CPU rasteriser (Mesa llvmpipe through Dawn's OpenGL ES backend): the numbers then say
 * nothing about a GPU, only that the path runs. Everything is timed in this process; on a GPU compare against
 * bench-train's PyTorch CUDA columns, run on the same machine.
 */
import { writeAtomic } from '../src/phase/sweep.ts';
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';
import { chooseAdapter } from '../src/kernels/dawn-adapter.ts';
import { DeviceProgram } from '../src/kernels/device/program.ts';
import { useBackend } from '../src/kernels/select.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { DeviceTrainer } from '../src/kernels/device/train-step.ts';
import { deviceTrainSpec } from '../src/toy/device-trainer.ts';
import { initialModel, train, type TrainConfig } from '../src/toy/train.ts';
import { PEER_CONFIGS, peerTrainConfig } from './peer-configs.ts';

const CONFIGS = PEER_CONFIGS;

const flags = flagsOrExit('bench-device', () => {
  const f = parseFlags(process.argv.slice(2), {
    software: { kind: 'boolean', default: false, help: 'accept a software adapter (a CPU rasteriser: checks the path, not a GPU)' },
    configs: { kind: 'string', default: 'P,C,D', help: `comma-separated subset of ${Object.keys(CONFIGS).join(',')}` },
    k: { kind: 'string', default: '16,64,256', help: 'steps per submission to time, comma-separated' },
    submissions: { kind: 'number', default: 2, min: 1, max: 100, integer: true, help: 'timed submissions per (config, K), after one untimed' },
    passes: { kind: 'string', default: '1,8,64,256,512', help: 'passes per submission for the per-pass curve' },
    'peak-tflops': { kind: 'number', default: 0, min: 0, max: 1e4, help: "the GPU's fp32 peak in TFLOP/s, for the products' fraction of it (0: from the adapter's name, where known)" },
    'profile-repeats': { kind: 'number', default: 32, min: 0, max: 4096, integer: true, help: 'copies of each pass per submission in the per-pass breakdown (0: no breakdown)' },
    json: { kind: 'string', default: '', help: "write every figure to this JSON file ('' for none)" },
  }, 'usage: npx tsx scripts/bench-device.ts [flags]   per-pass cost and device-trainer steps/s on a WebGPU device');
  const list = (flag: string, text: string, max: number) =>
    text.split(',').map((v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1 || n > max) throw new FlagError(`--${flag} ${text}: '${v}' is not an integer in 1..${max}`);
      return n;
    });
  for (const c of f.configs.split(',')) if (!(c in CONFIGS)) throw new FlagError(`--configs ${f.configs}: unknown configuration '${c}' (allowed: ${Object.keys(CONFIGS).join(', ')})`);
  if (f['profile-repeats'] === 1) throw new FlagError('--profile-repeats 1: the breakdown compares many copies of a pass with one, so 0 (none) or 2..4096');
  return { ...f, ks: list('k', f.k, 4096), passCounts: list('passes', f.passes, 4096) };
});
if (flags.software) process.env.SUPERPOSITION_WEBGPU_SOFTWARE = '1';
if (flags.software && !process.env.EGL_PLATFORM && !process.env.DISPLAY) process.env.EGL_PLATFORM = 'surfaceless';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// --- 1. per-pass cost ------------------------------------------------------------------------------------------
const { summary } = await chooseAdapter(flags.software);
const gpujs = (await import('gpu.js')) as unknown as { GPU?: new (s: { mode: string }) => ConstructorParameters<typeof DeviceProgram>[0]; default?: { GPU: new (s: { mode: string }) => ConstructorParameters<typeof DeviceProgram>[0] } };
const GPU = (gpujs.GPU ?? gpujs.default!.GPU);
const program = new DeviceProgram(new GPU({ mode: 'webgpu' }));
const N = 16384;
program.buffer('u0', N, new Float32Array(N).fill(1));
program.buffer('u1', N);
await program.kernel('step', { source: 'function (u) { return u[this.thread.x] * 0.999 + 0.001; }', output: N, args: ['u0'], loopMax: 1 });
await program.allocated();
console.log(`bench-device: ${summary.description}`);
console.log(`\nper-pass cost: a ${N}-float elementwise kernel chained N times in one submission, with one read-back\n`);
console.log('| passes | ms per submission |\n|---|---|');
const curve: Array<{ passes: number; ms: number }> = [];
for (const passes of flags.passCounts) {
  const chain = Array.from({ length: passes }, (_, k) => program.pass('step', [k % 2 ? 'u1' : 'u0'], k % 2 ? 'u0' : 'u1'));
  const times: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    await program.run(chain, [passes % 2 ? 'u1' : 'u0']);
    if (r > 1) times.push(performance.now() - t0);
  }
  curve.push({ passes, ms: median(times) });
  console.log(`| ${passes} | ${median(times).toFixed(3)} |`);
}
const [first, last] = [curve[0], curve[curve.length - 1]];
const perPassUs = last.passes > first.passes ? ((last.ms - first.ms) / (last.passes - first.passes)) * 1000 : NaN;
console.log(`=> ~${perPassUs.toFixed(1)} us per pass; ~${((first.ms - (first.passes * perPassUs) / 1000) * 1000).toFixed(0)} us fixed per submission (submit, read-back, map)`);
program.destroy();

/**
 * fp32 peaks (TFLOP/s, without tensor cores) of GPUs by adapter name, from NVIDIA's datasheets: the denominator of
 * "the fraction of peak the products reach". Others: --peak-tflops.
 */
const FP32_PEAKS: Array<[RegExp, number]> = [[/H100.*PCIe/i, 51.2], [/H100.*NVL/i, 60], [/H100|H200|GH200/i, 66.9], [/A100/i, 19.5], [/L40S/i, 91.6], [/\bL4\b/i, 30.3], [/\bA10G?\b/i, 31.2]];
const peakTflops = flags['peak-tflops'] || (FP32_PEAKS.find(([re]) => re.test(summary.description))?.[1] ?? 0);
/** The model's products a step (two forward, three backward, each 2 I B n m FLOPs), whatever the chain. */
const productFlops = (name: string): number => 10 * CONFIGS[name].I * peerTrainConfig(name, 1).batch * CONFIGS[name].n * CONFIGS[name].m;
/** Of the general chain's passes, the product ones and their FLOPs as multiples of 2 I B n m. */
const PRODUCT_PASSES: Record<string, number> = { hidden: 1, out: 1, gh: 1, grad: 2 };
const rate = (flops: number, seconds: number): string => {
  if (!(seconds > 0)) return 'n/a (a time difference at or under zero: more --profile-repeats)';
  const tflops = flops / seconds / 1e12;
  return `${tflops >= 1 ? `${tflops.toFixed(2)} TFLOP/s` : `${(tflops * 1000).toFixed(1)} GFLOP/s`}${peakTflops ? ` (${((100 * tflops) / peakTflops).toFixed(2)}% of ${peakTflops})` : ''}`;
};

// --- 2. device trainer steps/s by K ----------------------------------------------------------------------------
const kernels = await useBackend('gpujs:webgpu', { log: () => {} });
console.log(`\ndevice trainer on ${describeBackend(kernels)}: steps/s by steps per submission K (batch 1024, density 0.1, AdamW)\n`);
console.log(`| config | ${flags.ks.map((k) => `K = ${k}`).join(' | ')} | passes a step | the products at the best K${peakTflops ? ` (of the ${peakTflops} TFLOP/s fp32 peak)` : ' (no fp32 peak known for this adapter: --peak-tflops)'} |\n|---|${flags.ks.map(() => '---|').join('')}---|---|`);
const rows: Record<string, Record<string, number>> = {};
const products: Record<string, { flopsPerStep: number; stepsPerSec: number; tflops: number; peakFraction: number | null }> = {};
/** bench-train's configuration `name` on the device trainer, K steps a submission. */
const benchConfig = (name: string, K: number, steps: number): TrainConfig => peerTrainConfig(name, steps, { trainer: 'device', stepsPerSubmission: K });
for (const name of flags.configs.split(',')) {
  const { I, n, m } = CONFIGS[name];
  rows[name] = {};
  let passes = NaN;
  for (const K of flags.ks) {
    const config = benchConfig(name, K, K * (1 + flags.submissions));
    let start = 0;
    const result = train(config, (step) => {
      if (step === K - 1) start = performance.now(); // the first submission (shader builds) is the warm-up
    });
    const sps = (K * flags.submissions) / ((performance.now() - start) / 1000);
    passes = result.deviceStats!.steps.passes;
    rows[name][K] = sps;
  }
  const best = Math.max(...flags.ks.map((K) => rows[name][K]));
  const flopsPerSec = productFlops(name) * best;
  products[name] = { flopsPerStep: productFlops(name), stepsPerSec: best, tflops: flopsPerSec / 1e12, peakFraction: peakTflops ? flopsPerSec / 1e12 / peakTflops : null };
  console.log(`| ${name} ${I} x ${n}->${m} | ${flags.ks.map((K) => rows[name][K].toFixed(1)).join(' | ')} | ${passes} | ${rate(flopsPerSec, 1)} |`);
}

// --- 3. where a step's time goes -------------------------------------------------------------------------------
const breakdown: Record<string, { pass: string; us: number }[]> = {};
if (flags['profile-repeats'] > 0) {
  const R = flags['profile-repeats'];
  console.log(`\nwhere a step's time goes: each pass of the step chain alone, ${R} copies in one submission against one (us a pass; the sum is a step's time without the submission's fixed cost)\n`);
  const gpu = new GPU({ mode: 'webgpu' });
  for (const name of flags.configs.split(',')) {
    const config = benchConfig(name, 1, 2);
    const { seeds, model } = initialModel(config);
    const trainer = await DeviceTrainer.create(gpu, deviceTrainSpec(config, model, seeds, 1));
    try {
      await trainer.run(1); // builds nothing more; fills every buffer the passes read
      breakdown[name] = await trainer.profile(R);
    } finally {
      trainer.destroy();
    }
    const total = breakdown[name].reduce((a, p) => a + p.us, 0);
    console.log(`${name}: ${breakdown[name].map((p) => `${p.pass} ${p.us.toFixed(1)}`).join(', ')}; sum ${total.toFixed(1)} us (${(1e6 / total).toFixed(0)} steps/s without fixed costs)`);
    const inProducts = breakdown[name].filter((p) => p.pass in PRODUCT_PASSES);
    if (inProducts.length) console.log(`  its product passes: ${inProducts.map((p) => `${p.pass} ${rate((PRODUCT_PASSES[p.pass] * productFlops(name)) / 5, p.us / 1e6)}`).join(', ')}`);
  }
}

if (flags.json) {
  writeAtomic(flags.json, `${JSON.stringify({ adapter: summary.description, perPass: { curve, perPassUs }, trainer: { device: describeBackend(kernels), stepsPerSec: rows }, products: { peakTflops: peakTflops || null, configs: products }, breakdown }, null, 1)}\n`);
  console.log(`\nwrote ${flags.json}`);
}
process.exit(0); // the in-thread Dawn device would keep Node alive
