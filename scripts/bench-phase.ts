/**
 * The paper-size 2x1 phase sweep (20 x 20 cells x 10 seeds = 4000 models, batch 1024) timed against the PyTorch
 * anchor (scripts/anchors/tms_torch_phase.py, the official notebook's code batched the same way) and the TF.js
 * wasm anchor (scripts/anchors/tms_tfjs.mjs: the same 4000 x 2->1 step, one density for all models) in the same
 * command, and, where torch sees a CUDA GPU, PyTorch on it (scripts/anchors/tms_torch_device.py, config P: eager,
 * torch.compile, the whole step as one CUDA graph). Each side runs `--measure-steps` steps. Ours runs a quarter
 * of the steps and all of them, each once untimed and then timed, which splits its wall time into start-up (threads,
 * workers, evaluation; kernels and devices are warm) and a steady time a step; the anchors time their training
 * loops alone. The ratios are of steady-state times (the
 * same thing on both sides), and the full sweep's time is start-up plus `--steps` steady steps; the printed ratios
 * are the figures to compare across machines. Ours runs on each of `--backends`: on a backend with a device trainer (the GPU
 * column, gpujs:webgpu) the whole sweep is one chunk on one device (--gpu-workers to change that).
 *
 *   npx tsx scripts/bench-phase.ts [--backends wasm,gpujs:webgpu] [--measure-steps 20] [--steps 5000] [--workers 2] [--python python3] [--json FILE]
 *
 * PyTorch CPU's BLAS is printed; no ratio against the reference BLAS unless --allow-reference-blas.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { writeAtomic } from '../src/phase/sweep.ts';
import os from 'node:os';
import { join } from 'node:path';
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { BACKEND_CHOICES, useBackend } from '../src/kernels/select.ts';
import { hasDeviceTraining } from '../src/kernels/device/training.ts';
import { blasOf, CUDA_MODES, cudaDeviceName, describeBlas, deviceAnchorArgs, OPENBLAS_HINT, ratioAllowed } from './torch-anchor.ts';
import { logspace } from '../src/phase/experiments.ts';
import { describeThreadPlan, runSweep } from '../src/phase/sweep.ts';
import { splitStartUp } from './timing.ts';

const flags = flagsOrExit('bench-phase', () => {
  const f = parseFlags(process.argv.slice(2), {
  backends: { kind: 'string', default: 'wasm,gpu?', help: `our backends, comma-separated (${BACKEND_CHOICES.filter((b) => b !== 'auto').join(', ')}); a GPU one trains with its device trainer; 'gpu?' adds gpujs:webgpu where it starts on a GPU` },
  'gpu-workers': { kind: 'number', default: 1, min: 1, max: 64, integer: true, help: 'worker threads (devices opened) for a backend with a device trainer; the sweep is split into that many chunks' },
  json: { kind: 'string', default: '', help: "write every figure to this JSON file ('' for none)" },
  'allow-reference-blas': { kind: 'boolean', default: false, help: 'print the ratio against PyTorch even when it runs on the reference BLAS' },
  grid: { kind: 'number', default: 20, min: 1, max: 100, integer: true, help: 'cells per axis' },
  seeds: { kind: 'number', default: 10, min: 1, max: 100, integer: true, help: 'models per cell' },
  steps: { kind: 'number', default: 5000, min: 1, max: 1e6, integer: true, help: 'steps of the full sweep (extrapolated to)' },
  'measure-steps': { kind: 'number', default: 20, min: 1, max: 1e6, integer: true, help: 'steps actually run by each side' },
  batch: { kind: 'number', default: 1024, min: 1, max: 1 << 16, integer: true, help: 'batch size' },
  workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'our worker threads' },
  python: { kind: 'string', default: 'python3', help: "Python with torch (Debian's python3-torch installs it for /usr/bin/python3)" },
  'blas-dir': { kind: 'string', default: '/usr/lib/x86_64-linux-gnu/openblas-pthread', help: "folder of the OpenBLAS that torch should load (Debian's pthreads build by default; '' keeps the environment's)" },
  }, 'usage: npx tsx scripts/bench-phase.ts [flags]   the paper-size 2x1 phase sweep (4000 models) timed against PyTorch and TF.js run in the same command');
  for (const b of f.backends.split(',')) if ((!BACKEND_CHOICES.includes(b) && b !== 'gpu?') || b === 'auto') throw new FlagError(`--backends ${f.backends}: unknown or unsuitable backend '${b}' (allowed: ${BACKEND_CHOICES.filter((c) => c !== 'auto').join(', ')})`);
  return f;
});
const { grid: G, seeds, batch } = flags;
const steps = flags['measure-steps'];
const scale = flags.steps / steps;
console.log(`bench-phase: 2x1 sweep ${G}x${G} cells x ${seeds} seeds = ${G * G * seeds} models, batch ${batch}; each side runs ${steps} steps, extrapolated to ${flags.steps}`);

/** Per backend of ours: seconds for the measured steps at the steady rate (`seconds`), the wall time and its start-up. */
const ours: Array<{ backend: string; device: string; trainer: string; workers: number; seconds: number; wallSeconds: number; startUpSeconds: number }> = [];
const sweep = { experiment: 'feature-2x1', densities: logspace(0.01, 1, G), importances: logspace(0.1, 10, G), seeds, steps, batch, lr: 1e-3, optimizer: 'adamw', schedule: 'constant', seed: 0, init: 'per-instance', evalBatch: 0 } as const;
const shortSteps = Math.max(1, Math.floor(steps / 4));
for (const asked of flags.backends.split(',')) {
  // 'gpu?': the GPU column where a GPU adapter starts (a software one is refused), said either way
  const backend = asked === 'gpu?' ? 'gpujs:webgpu' : asked;
  let kernels: Awaited<ReturnType<typeof useBackend>>;
  try {
    kernels = await useBackend(backend, { log: () => {} });
  } catch (e) {
    if (asked !== 'gpu?') throw e;
    console.log(`GPU column (gpujs:webgpu) not run: ${(e as Error).message.split('\n')[0]}`);
    continue;
  }
  const device = hasDeviceTraining(kernels);
  const workers = device ? flags['gpu-workers'] : flags.workers;
  const wall = async (n: number): Promise<number> => {
    const t0 = performance.now();
    await runSweep({ ...sweep, steps: n }, { workers, backend, ...(device ? { maxInstancesPerChunk: Math.ceil((G * G * seeds) / workers) } : {}) });
    return (performance.now() - t0) / 1000;
  };
  // An untimed run of each length first: both timed runs then find the same caches (kernels built per schedule
  // length, the device, the JIT), and the difference between them is steps alone.
  if (shortSteps < steps) await wall(shortSteps);
  await wall(steps);
  const short = shortSteps < steps ? await wall(shortSteps) : 0;
  const wallSeconds = await wall(steps);
  const { perStep, startUp: startUpSeconds } = splitStartUp(shortSteps, short, steps, wallSeconds);
  const seconds = perStep * steps;
  ours.push({ backend, device: describeBackend(kernels), trainer: device ? 'device' : 'autograd', workers, seconds, wallSeconds, startUpSeconds });
  const threads = describeThreadPlan(sweep, workers, backend);
  console.log(`superposition-lab (backend ${describeBackend(kernels)}, ${device ? 'device' : 'autograd'} trainer, ${threads}): ${wallSeconds.toFixed(1)} s for ${steps} steps = ${startUpSeconds.toFixed(1)} s start-up + ${seconds.toFixed(2)} s of steps (${(perStep * 1000).toFixed(2)} ms a step) -> ${(startUpSeconds + perStep * flags.steps).toFixed(0)} s for ${flags.steps}`);
}
if (ours.length === 0) {
  console.log('bench-phase: none of our backends ran, so there is nothing to compare');
  process.exit(2);
}
/** Our best steady-state seconds for the measured steps: what the anchors' training-loop times compare with. */
const best = Math.min(...ours.map((o) => o.seconds));
const bestWall = Math.min(...ours.map((o) => o.wallSeconds));
/** An anchor's seconds over ours: steady state against its training loop, and, more conservatively, our whole wall time. */
const ratio = (anchorSeconds: number): string => `${(anchorSeconds / best).toFixed(2)} (with our start-up counted: ${(anchorSeconds / bestWall).toFixed(2)})`;
const anchorsOut: Record<string, number | string> = {};

const json = join(mkdtempSync(join(os.tmpdir(), 'bench-phase-')), 'torch.json');
const script = new URL('./anchors/tms_torch_phase.py', import.meta.url).pathname;
// Debian's torch is fastest on its pthreads OpenBLAS with one BLAS thread per OpenMP thread (2 cores).
const env = { ...process.env, LD_LIBRARY_PATH: [flags['blas-dir'], process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
const torch = spawnSync(flags.python, [script, '--threads', String(os.availableParallelism()), '--blas-threads', '1', '--grid', String(G), '--seeds', String(seeds), '--steps', String(steps), '--batch', String(batch), '--json', json], { encoding: 'utf8', env });
if (torch.status !== 0) {
  const why = `${flags.python}: ${(torch.stderr || String(torch.error)).trim().split('\n').pop()}`;
  console.log(`PyTorch anchor did not run (${why}); install Debian's python3-torch to compare.`);
  anchorsOut['PyTorch CPU'] = why;
} else {
  const r = JSON.parse(readFileSync(json, 'utf8')) as { train_wall_s: number; torch: string; threads: number; blas?: string[]; blas_threads?: number };
  const blas = blasOf(r.blas, r.blas_threads);
  console.log(`PyTorch ${r.torch} (${r.threads} threads, ${describeBlas(blas)}; training loop only): ${r.train_wall_s.toFixed(1)} s for ${steps} steps -> ${(r.train_wall_s * scale).toFixed(0)} s for ${flags.steps}`);
  if (ratioAllowed(blas, flags['allow-reference-blas'])) console.log(`ratio: PyTorch time / ours (best) = ${ratio(r.train_wall_s)} (above 1: we are faster)`);
  else console.log(`no ratio against PyTorch on the ${blas.kind} (--allow-reference-blas prints it): ${OPENBLAS_HINT}`);
  anchorsOut[`PyTorch ${r.torch} CPU, ${r.threads} threads, ${blas.kind}`] = r.train_wall_s;
}

// TF.js has no sweep anchor: its A-D step script, run on one configuration of the sweep's size.
const tfJson = join(mkdtempSync(join(os.tmpdir(), 'bench-phase-')), 'tfjs.json');
const tfjs = spawnSync(process.execPath, [new URL('./anchors/tms_tfjs.mjs', import.meta.url).pathname, 'wasm', '--custom', `${G * G * seeds},2,1,${batch}`, '--configs', 'custom', '--no-matmul', '--runs', '1', '--secs', '2', '--json', tfJson], { encoding: 'utf8' });
if (tfjs.status !== 0) {
  console.log(`TF.js anchor did not run: ${(tfjs.stderr || String(tfjs.error)).trim().split('\n').pop()}`);
} else {
  const sps = (JSON.parse(readFileSync(tfJson, 'utf8')) as { tms: { custom: { median: number } } }).tms.custom.median;
  const seconds = steps / sps;
  console.log(`TF.js 4.22 wasm (1 thread, same models and batch): ${seconds.toFixed(1)} s for ${steps} steps -> ${(seconds * scale).toFixed(0)} s for ${flags.steps}`);
  console.log(`ratio: TF.js time / ours (best) = ${ratio(seconds)}`);
  anchorsOut['TF.js 4.22 wasm'] = seconds;
}

// PyTorch on a CUDA GPU, where torch has one: config P of tms_torch_device.py is this sweep's step.
const cudaDevice = cudaDeviceName(flags.python);
if (cudaDevice === null) {
  console.log(`PyTorch CUDA anchor did not run: ${flags.python} has no torch with a CUDA device here`);
  anchorsOut['PyTorch CUDA'] = 'no CUDA device';
} else if (G * G * seeds !== 4000 || batch !== 1024) {
  console.log('PyTorch CUDA anchor did not run: its config P is the paper size (--grid 20 --seeds 10 --batch 1024)');
} else {
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-phase-'));
  for (const [mode, extra] of CUDA_MODES) {
    const file = join(dir, `cuda-${extra.join('') || 'eager'}.json`);
    const args = deviceAnchorArgs(new URL('./anchors/tms_torch_device.py', import.meta.url).pathname, { device: 'cuda', configs: ['P'], mode: extra, runs: 3, secs: 1 });
    const r = spawnSync(flags.python, [...args, '--json', file], { encoding: 'utf8' });
    if (r.status !== 0) {
      console.log(`PyTorch CUDA ${mode} did not run: ${(r.stderr || String(r.error)).trim().split('\n').pop()}`);
      continue;
    }
    const sps = (JSON.parse(readFileSync(file, 'utf8')) as { steps_per_s: { P: { median: number } } }).steps_per_s.P.median;
    const seconds = steps / sps;
    anchorsOut[`PyTorch CUDA ${mode} (${cudaDevice})`] = seconds;
    console.log(`PyTorch CUDA ${mode} (${cudaDevice}): ${seconds.toFixed(2)} s for ${steps} steps -> ${(seconds * scale).toFixed(0)} s for ${flags.steps}; ratio PyTorch time / ours (best) = ${ratio(seconds)}`);
  }
}

if (flags.json) {
  const report = { sweep: { grid: G, seeds, batch, measuredSteps: steps, extrapolatedTo: flags.steps }, ours, anchorsSeconds: anchorsOut };
  writeAtomic(flags.json, `${JSON.stringify(report, null, 1)}\n`);
  console.log(`wrote ${flags.json}`);
}
