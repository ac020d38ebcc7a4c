/**
 * Training steps per second of our trainers on the peer configurations (A = 10 x 5->2, B = 1024 x 2->1,
 * C = 20 x 100->20, D = 8 x 400->30, and P = 4000 x 2->1, the paper-size 2x1 sweep as one model; batch 1024,
 * density 0.1, AdamW lr 1e-3 wd 1e-2, importance 0.9^i), beside the anchors run in the same command: PyTorch
 * CPU (2 threads, OpenBLAS with one thread: its best setting on 2 cores), PyTorch on CUDA (eager,
 * torch.compile, and the whole step as one CUDA graph; only where torch sees a GPU), the hand-fused plain-JS
 * anchor (1 thread and instances over 2), and TF.js with its WebAssembly SIMD backend. Ours is shown per kernel
 * backend (single-threaded) and trainer (a backend with a device trainer, gpujs:webgpu, is timed with it and
 * with the autograd trainer), with instances split over worker threads, with the garbage-collection and
 * batch-sampling shares of its steps, and as ratios. --json FILE writes every figure, with the device
 * trainer's per-step counts (passes, uploads, read-backs, bytes each way), which hold on any adapter.
 *
 *   npx tsx scripts/bench-train.ts [--configs A,B,C,D] [--backend js|wasm|gpujs[:mode]|auto|all] [--anchors torch,torch-cuda,plainjs,tfjs]
 *                                  [--steps 20] [--steps-per-submission 64] [--python /usr/bin/python3] [--json FILE]
 *
 * An anchor that cannot run here (no torch for that Python, no CUDA) is reported as such, not silently left out.
 * PyTorch CPU's BLAS is printed (from the libraries it mapped), and no ratio against the reference BLAS is
 * printed unless --allow-reference-blas: with it PyTorch is 4-30x slower on C and D than on OpenBLAS, its normal
 * setting.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../src/phase/sweep.ts';
import os from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';
import { BACKEND_CHOICES, backendFlag, useBackend } from '../src/kernels/select.ts';
import { hasDevice } from '../src/kernels/types.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { hasDeviceTraining, type DeviceStats } from '../src/kernels/device/training.ts';
import { STEP_BATCH, threadPlan, trainParallel } from '../src/toy/train-parallel.ts';
import { sampleBatch, streamKeys } from '../src/toy/data.ts';
import { train, type TrainConfig, type Trainer } from '../src/toy/train.ts';
import { blasOf, CUDA_MODES, cudaDeviceName, describeBlas, deviceAnchorArgs, OPENBLAS_HINT, ratioAllowed, type BlasInfo } from './torch-anchor.ts';
import { PEER_CONFIGS, peerData, peerTrainConfig } from './peer-configs.ts';

const CONFIGS = PEER_CONFIGS;
const ANCHORS = ['torch', 'torch-cuda', 'plainjs', 'tfjs'] as const;
/** A GPU backend's columns: the device trainer, its kernels with the device chain, every product's operands uploaded. */
const TRAINER_COLUMNS = ['device', 'autograd', 'per-op'] as const;

const { flags, names, anchors, trainerColumns } = flagsOrExit('bench-train', () => {
  const flags = parseFlags(process.argv.slice(2), {
    configs: { kind: 'string', default: 'A,B,C,D', help: 'comma-separated subset of A,B,C,D,P,G (G: the geometry experiment at 400->30, see peer-configs.ts)' },
    backend: { ...backendFlag, choices: [...BACKEND_CHOICES, 'all'], help: `${backendFlag.help}; all: every backend that starts here, against js` },
    anchors: { kind: 'string', default: ANCHORS.join(','), help: `peers to run in the same command, comma-separated subset of ${ANCHORS.join(',')} ('' for none)` },
    steps: { kind: 'number', default: 20, min: 2, max: 1e5, integer: true, help: 'timed steps per configuration (after the warm-up)' },
    warmup: { kind: 'number', default: 3, min: 1, max: 1000, integer: true, help: 'untimed steps first (kernel builds, JIT)' },
    workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'threads for the split-instances column' },
    runs: { kind: 'number', default: 3, min: 1, max: 20, integer: true, help: "anchors' timed runs of >= 1 s each (median)" },
    python: { kind: 'string', default: 'python3', help: "Python with torch (Debian's python3-torch installs it for /usr/bin/python3)" },
    'blas-dir': { kind: 'string', default: '/usr/lib/x86_64-linux-gnu/openblas-pthread', help: "folder of the OpenBLAS torch should load ('' keeps the environment's)" },
    trainers: { kind: 'string', default: TRAINER_COLUMNS.join(','), help: "a GPU backend's columns, comma-separated subset of device (the device trainer), autograd (its kernels with the device chain), per-op (every product's operands uploaded)" },
    'steps-per-submission': { kind: 'number', default: 64, min: 1, max: 4096, integer: true, help: 'device trainer: steps recorded into one submission (the first submission is the warm-up, the timed steps are whole submissions)' },
    json: { kind: 'string', default: '', help: "write every figure to this JSON file ('' for none)" },
    'allow-reference-blas': { kind: 'boolean', default: false, help: 'print ratios against PyTorch even when it runs on the reference BLAS (a slow, unrepresentative anchor)' },
  }, 'usage: npx tsx scripts/bench-train.ts [flags]   training steps/s on the peer configurations A-D and P, beside PyTorch, TF.js and plain JS run in the same command');
  const names = flags.configs.split(',');
  for (const c of names) if (!(c in CONFIGS)) throw new FlagError(`--configs ${flags.configs}: unknown configuration '${c}' (allowed: ${Object.keys(CONFIGS).join(', ')})`);
  const anchors = flags.anchors === '' ? [] : flags.anchors.split(',');
  for (const a of anchors) if (!(ANCHORS as readonly string[]).includes(a)) throw new FlagError(`--anchors ${flags.anchors}: unknown anchor '${a}' (allowed: ${ANCHORS.join(', ')})`);
  const trainerColumns = flags.trainers.split(',');
  for (const t of trainerColumns) if (!(TRAINER_COLUMNS as readonly string[]).includes(t)) throw new FlagError(`--trainers ${flags.trainers}: unknown column '${t}' (allowed: ${TRAINER_COLUMNS.join(', ')})`);
  return { flags, names, anchors, trainerColumns };
});

// GC entries arrive asynchronously: keep them with their start times and sum a window once it is over.
const gcEntries: Array<{ start: number; duration: number }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEntries.push({ start: e.startTime, duration: e.duration });
}).observe({ entryTypes: ['gc'] });
const gcWithin = async (from: number, to: number): Promise<number> => {
  await new Promise((resolve) => setTimeout(resolve, 50));
  return gcEntries.filter((e) => e.start >= from && e.start < to).reduce((sum, e) => sum + e.duration, 0);
};

/** One column of ours: a backend and the trainer (and, for autograd on a device backend, whether products chain there). */
interface Column {
  name: string;
  trainer: Trainer;
  deviceChain: boolean;
  label: string;
}

function trainConfig(name: string, column: Column, steps: number): TrainConfig {
  return peerTrainConfig(name, steps, { deviceChain: column.deviceChain, name: `bench ${name}`, trainer: column.trainer, stepsPerSubmission: flags['steps-per-submission'] });
}

interface Timing {
  sps: number;
  gcShare: number;
  /** Device trainer: what crossed between host and device per step (and at start-up). */
  perStep: DeviceStats | null;
  startUp: DeviceStats | null;
}

/**
 * Steps per second after the warm-up, and the share of that time spent in garbage collection. The autograd
 * trainer reports each step as it ends; the device trainer reports a submission's steps together when it
 * returns, so its warm-up is its first submission and the timed steps are whole submissions after it.
 */
async function single(name: string, column: Column): Promise<Timing> {
  const K = flags['steps-per-submission'];
  const [warmup, timed] = column.trainer === 'device' ? [K, Math.ceil(flags.steps / K) * K] : [flags.warmup, flags.steps];
  let start = 0;
  const result = train(trainConfig(name, column, warmup + timed), (step) => {
    if (step === warmup - 1) start = performance.now();
  });
  const end = performance.now();
  return { sps: timed / ((end - start) / 1000), gcShare: (await gcWithin(start, end)) / (end - start), perStep: result.deviceStats?.steps ?? null, startUp: result.deviceStats?.start ?? null };
}

/** Seconds to draw one step's batch (the trainer's sampler alone). */
function samplingSeconds(name: string): number {
  const { I, n } = CONFIGS[name];
  const keys = streamKeys(Array.from({ length: I }, (_, i) => `sampling/${i}`));
  const out = new Float32Array(I * 1024 * n);
  const spec = { instances: I, batch: 1024, features: n, density: peerData(name).density };
  for (let k = 0; k < 20; k++) sampleBatch(spec, keys, k, out); // warm the JIT, as the trainer's steps are
  const t = performance.now();
  for (let k = 0; k < 20; k++) sampleBatch(spec, keys, k, out);
  return (performance.now() - t) / 20_000;
}

/**
 * The same run with its instances split over worker threads (trainParallel: threads started once, the same bytes
 * as one thread), on the CPU backend asked for (wasm when a GPU one is): steps/s after the first STEP_BATCH
 * steps, and the seconds until then (thread start-up and those steps: what a short run pays on top).
 */
/** `singleSps`: this configuration's steps/s on one CPU thread, which sizes the warm-up (a device's would not). */
async function split(name: string, singleSps: number): Promise<{ sps: number; startUp: number; plan: string }> {
  const backend = flags.backend === 'js' || flags.backend === 'wasm' ? flags.backend : 'wasm';
  // The workers report steps in batches of STEP_BATCH: the warm-up (at least a second, for the threads to start) and
  // the timed steps are whole batches.
  const warm = Math.max(1, Math.ceil(singleSps / STEP_BATCH)) * STEP_BATCH;
  const timed = Math.ceil(flags.steps / STEP_BATCH) * STEP_BATCH;
  const config = { ...trainConfig(name, { name: backend, trainer: 'autograd', deviceChain: false, label: '' }, warm + timed), trainer: 'autograd' as const };
  // The threads a full-length run (10,000 steps) of this configuration gets on --workers cores.
  const plan = threadPlan({ ...config, steps: 10_000 }, flags.workers);
  const t0 = performance.now();
  let start = 0;
  await trainParallel(config, { backend, ...plan }, (step) => {
    if (step === warm - 1) start = performance.now();
  });
  const described = plan.samplerThreads ? (plan.threads > 1 ? `${plan.threads} + ${plan.threads} sampler threads` : 'a sampler thread') : `instances over ${plan.threads} threads`;
  return { sps: timed / ((performance.now() - start) / 1000), startUp: (start - t0) / 1000, plan: described };
}

// --- ours ---------------------------------------------------------------------------------------------------
const wanted = flags.backend === 'all' ? BACKEND_CHOICES.filter((b) => b !== 'gpujs') : [...new Set(['js', flags.backend])];
/**
 * Backends to time: with the device trainer where the backend has one; with the autograd trainer and the device
 * chain on; a backend with device memory with the chain off too (every product's operands uploaded).
 */
const backends: Column[] = [];
const devices = new Map<string, string>();
const notes: string[] = [];
for (const name of wanted) {
  try {
    const kernels = await useBackend(name, { log: (line) => notes.push(line) });
    devices.set(name, describeBackend(kernels));
    // a CPU backend (js, the baseline, or wasm) has the autograd column alone
    const columns = hasDeviceTraining(kernels) || hasDevice(kernels) ? trainerColumns : ['autograd'];
    if (columns.includes('device')) {
      if (hasDeviceTraining(kernels)) backends.push({ name, trainer: 'device', deviceChain: true, label: `${name} device trainer` });
      else notes.push(`${name} has no device trainer here: no device trainer column`);
    }
    if (columns.includes('autograd')) backends.push({ name, trainer: 'autograd', deviceChain: true, label: hasDeviceTraining(kernels) ? `${name} autograd` : name });
    if (hasDevice(kernels) && columns.includes('per-op')) backends.push({ name, trainer: 'autograd', deviceChain: false, label: `${name} autograd per-op` });
  } catch (e) {
    if (flags.backend !== 'all') throw e;
    notes.push(`not run: backend ${name}: ${(e as Error).message}`);
  }
}
const ours = new Map<string, { sps: number[]; timings: Timing[]; gcShare: number; split: { sps: number; startUp: number; plan: string }; sampling: number }>();
/** The single-threaded column with the most steps/s: the shares of GC and sampling are of its steps. */
const fastest = (o: { sps: number[] }): number => o.sps.indexOf(Math.max(...o.sps));
for (const name of names) {
  // Two interleaved rounds over the backends, best of each: the first js run also warms the JIT.
  const timings: Timing[] = backends.map(() => ({ sps: 0, gcShare: 0, perStep: null, startUp: null }));
  for (let round = 0; round < 2; round++) {
    for (const [k, backend] of backends.entries()) {
      await useBackend(backend.name);
      const r = await single(name, backend);
      if (r.sps > timings[k].sps) timings[k] = r;
    }
  }
  await useBackend('js');
    const sampling = samplingSeconds(name); // before the threads of split(), on the main thread's warm JIT
  ours.set(name, { sps: timings.map((t) => t.sps), timings, gcShare: timings[0].gcShare, split: await split(name, Math.max(...timings.filter((_, k) => backends[k].trainer === 'autograd' && ['js', 'wasm'].includes(backends[k].name)).map((t) => t.sps))), sampling });
}

// --- anchors ------------------------------------------------------------------------------------------------
const tmp = mkdtempSync(join(os.tmpdir(), 'bench-train-'));
const anchorDir = fileURLToPath(new URL('./anchors/', import.meta.url));
/** The CPU anchors' shared flags (tms_torch.py, tms_plainjs.mjs, tms_tfjs.mjs); the CUDA anchor has its own. */
const cpuCommon = ['--configs', names.join(','), '--no-matmul', '--runs', String(flags.runs), '--secs', '1'];
/** The BLAS each PyTorch CPU anchor loaded (from the shared libraries it had mapped), by column label. */
const blasOfColumn = new Map<string, BlasInfo>();
/** Run one anchor; its steps/s per configuration, or the reason it did not run. */
function runAnchor(label: string, command: string, args: string[], env: NodeJS.ProcessEnv = process.env, column?: string): Map<string, number> | string {
  const json = join(tmp, `${label}.json`);
  const r = spawnSync(command, [...args, '--json', json], { encoding: 'utf8', env });
  if (r.status !== 0) return `${command}: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`;
  // tms_torch_device.py writes steps_per_s, the other anchors tms
  const out = JSON.parse(readFileSync(json, 'utf8')) as { tms?: Record<string, { median: number }>; steps_per_s?: Record<string, { median: number }>; info?: { blas?: string[]; blas_threads?: number } };
  if (column && out.info) blasOfColumn.set(column, blasOf(out.info.blas, out.info.blas_threads));
  return new Map(Object.entries(out.tms ?? out.steps_per_s ?? {}).map(([k, v]) => [k, v.median]));
}
const columns: Array<[string, Map<string, number> | string]> = [];
if (anchors.includes('torch')) {
  const env = { ...process.env, LD_LIBRARY_PATH: [flags['blas-dir'], process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
  const r = runAnchor('torch', flags.python, [join(anchorDir, 'tms_torch.py'), '--threads', '2', '--blas-threads', '1', ...cpuCommon], env, 'PyTorch, 2 threads');
  columns.push(['PyTorch, 2 threads', typeof r === 'string' ? `${r} (install Debian's python3-torch and pass --python /usr/bin/python3)` : r]);
}
if (anchors.includes('torch-cuda')) {
  // PyTorch on a GPU: eager, torch.compile, and the whole step as one CUDA graph (the least overhead it offers).
  const cudaDevice = cudaDeviceName(flags.python);
  if (cudaDevice === null) columns.push(['PyTorch CUDA', `${flags.python} has no torch with a CUDA device here`]);
  else {
    for (const [mode, extra] of CUDA_MODES) {
      const column = `PyTorch CUDA ${mode} (${cudaDevice})`;
      let args: string[];
      try {
        args = deviceAnchorArgs(join(anchorDir, 'tms_torch_device.py'), { device: 'cuda', configs: names, mode: extra, runs: flags.runs, secs: 1 });
      } catch (e) {
        columns.push([column, (e as Error).message]); // none of the configurations asked for
        continue;
      }
      columns.push([column, runAnchor(`cuda-${extra.join('') || 'eager'}`, flags.python, args)]);
    }
  }
}
if (anchors.includes('plainjs')) {
  columns.push(['plain JS, 1 thread', runAnchor('plainjs1', process.execPath, [join(anchorDir, 'tms_plainjs.mjs'), '--workers', '1', ...cpuCommon])]);
  columns.push(['plain JS, 2 threads', runAnchor('plainjs2', process.execPath, [join(anchorDir, 'tms_plainjs.mjs'), '--workers', '2', ...cpuCommon])]);
}
if (anchors.includes('tfjs')) columns.push(['TF.js wasm', runAnchor('tfjs', process.execPath, [join(anchorDir, 'tms_tfjs.mjs'), 'wasm', ...cpuCommon])]);

// --- table --------------------------------------------------------------------------------------------------
const measured = columns.filter((c): c is [string, Map<string, number>] => typeof c[1] !== 'string');
const torchBlas = blasOfColumn.get('PyTorch, 2 threads');
const torchRatios = torchBlas === undefined || ratioAllowed(torchBlas, flags['allow-reference-blas']);
const torch = torchRatios ? measured.find(([label]) => label.startsWith('PyTorch,'))?.[1] : undefined;
const cudaGraph = measured.find(([label]) => label.startsWith('PyTorch CUDA CUDA graph'))?.[1];
const tfjs = measured.find(([label]) => label.startsWith('TF.js'))?.[1];
console.log(`bench-train: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}; batch 1024, density 0.1 (G: 1 to 0.05), AdamW; ours: ${flags.steps} timed steps after ${flags.warmup}`);
const header = [
  'config',
  ...backends.map((b, k) => (k === 0 ? `ours ${b.label}, 1 thread` : `ours ${b.label} (x js)`)),
  `ours on ${flags.workers} cores (after a second's warm-up)`,
  'GC share (fastest 1-thread column)',
  'sampling share (same)',
  ...measured.map(([label]) => label),
  ...(torch ? ['best of ours / PyTorch'] : []),
  ...(cudaGraph ? ['best of ours / PyTorch CUDA graph'] : []),
  ...(tfjs ? ['best of ours / TF.js'] : []),
];
console.log(`\n| ${header.join(' | ')} |\n|${header.map(() => '---|').join('')}`);
for (const name of names) {
  const o = ours.get(name)!;
  const best = Math.max(...o.sps, o.split.sps);
  const ratio = (peer: Map<string, number> | undefined) => (peer?.has(name) ? [`${(best / peer.get(name)!).toFixed(2)}x`] : peer ? ['-'] : []);
  const cells = [
    `${name} ${CONFIGS[name].I} x ${CONFIGS[name].n}->${CONFIGS[name].m}`,
    ...o.sps.map((v, k) => (k === 0 ? v.toFixed(2) : `${v.toFixed(2)} (${(v / o.sps[0]).toFixed(2)}x)`)),
    `${o.split.sps.toFixed(2)} (${o.split.plan})`,
    `${(100 * o.timings[fastest(o)].gcShare).toFixed(1)}%`,
    `${(100 * o.sampling * o.sps[fastest(o)]).toFixed(1)}%`,
    ...measured.map(([, m]) => m.get(name)?.toFixed(2) ?? '-'),
    ...ratio(torch),
    ...ratio(cudaGraph),
    ...ratio(tfjs),
  ];
  console.log(`| ${cells.join(' | ')} |`);
}
for (const [label, r] of columns) if (typeof r === 'string') console.log(`\n${label} did not run: ${r}`);
if (torchBlas) console.log(`\nPyTorch CPU loaded ${describeBlas(torchBlas)}, 2 torch threads${torchRatios ? '' : `: no ratio printed against the reference BLAS (--allow-reference-blas prints it); ${OPENBLAS_HINT}`}`);
if (notes.length) console.log(`\n${notes.join('\n')}`);
const perStepLines = names.flatMap((name) =>
  backends.flatMap((b, k) => {
    const t = ours.get(name)!.timings[k];
    return t.perStep ? [`${name} ${b.label}: per step ${t.perStep.passes} passes, ${t.perStep.uploads} uploads, ${t.perStep.readbacks.toFixed(4)} read-backs, ${t.perStep.bytesUp} B up, ${t.perStep.bytesDown} B down (start-up: ${t.startUp!.uploads} uploads, ${t.startUp!.bytesUp} B)`] : [];
  }),
);
if (perStepLines.length) console.log(`\ndevice trainer (${flags['steps-per-submission']} steps a submission):\n${perStepLines.join('\n')}`);

if (flags.json) {
  // configs[X] is the backend asked for (its device trainer where it has one); every column is under `ours`.
  const primary = Math.max(0, backends.findIndex((b) => b.name === flags.backend));
  const entry = (name: string, k: number) => {
    const t = ours.get(name)!.timings[k];
    return { backend: backends[k].name, device: devices.get(backends[k].name), trainer: backends[k].trainer, deviceChain: backends[k].deviceChain, stepsPerSec: t.sps, perStep: t.perStep, startUp: t.startUp };
  };
  const report = {
    machine: { cpu: os.cpus()[0]?.model ?? null, cores: os.cpus().length, node: process.version },
    settings: { steps: flags.steps, warmup: flags.warmup, stepsPerSubmission: flags['steps-per-submission'], batch: 1024, density: 0.1 },
    configs: Object.fromEntries(names.map((name) => [name, { ...entry(name, primary), split: ours.get(name)!.split, samplingShare: ours.get(name)!.sampling * ours.get(name)!.sps[fastest(ours.get(name)!)] }])),
    ours: Object.fromEntries(names.map((name) => [name, backends.map((_, k) => entry(name, k))])),
    anchors: Object.fromEntries(columns.map(([label, r]) => [label, typeof r === 'string' ? { notRun: r } : { stepsPerSec: Object.fromEntries(r), ...(blasOfColumn.has(label) ? { blas: blasOfColumn.get(label) } : {}) }])),
  };
  writeAtomic(flags.json, `${JSON.stringify(report, null, 1)}\n`);
  console.log(`\nwrote ${flags.json}`);
}
