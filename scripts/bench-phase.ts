/**
 * The paper-size 2x1 phase sweep (20 x 20 cells x 10 seeds = 4000 models, batch 1024) timed against the PyTorch
 * anchor (scripts/anchors/tms_torch_phase.py, the official notebook's code batched the same way) and the TF.js
 * wasm anchor (scripts/anchors/tms_tfjs.mjs: the same 4000 x 2->1 step, one density for all models) in the same
 * command. Both run `--measure-steps` steps and the wall time is extrapolated linearly to `--steps` (per-step
 * cost is flat in both); the printed ratio is the figure to compare across machines.
 *
 *   npx tsx scripts/bench-phase.ts [--measure-steps 20] [--steps 5000] [--workers 2] [--python python3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseFlags } from '../src/cli.ts';
import { getBackend } from '../src/kernels/registry.ts';
import { logspace } from '../src/phase/experiments.ts';
import { runSweep } from '../src/phase/sweep.ts';

const flags = parseFlags(process.argv.slice(2), {
  grid: { kind: 'number', default: 20, min: 1, max: 100, integer: true, help: 'cells per axis' },
  seeds: { kind: 'number', default: 10, min: 1, max: 100, integer: true, help: 'models per cell' },
  steps: { kind: 'number', default: 5000, min: 1, max: 1e6, integer: true, help: 'steps of the full sweep (extrapolated to)' },
  'measure-steps': { kind: 'number', default: 20, min: 1, max: 1e6, integer: true, help: 'steps actually run by each side' },
  batch: { kind: 'number', default: 1024, min: 1, max: 1 << 16, integer: true, help: 'batch size' },
  workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'our worker threads' },
  python: { kind: 'string', default: 'python3', help: "Python with torch (Debian's python3-torch installs it for /usr/bin/python3)" },
  'blas-dir': { kind: 'string', default: '/usr/lib/x86_64-linux-gnu/openblas-pthread', help: "folder of the OpenBLAS that torch should load (Debian's pthreads build by default; '' keeps the environment's)" },
});
const { grid: G, seeds, batch } = flags;
const steps = flags['measure-steps'];
const scale = flags.steps / steps;
console.log(`bench-phase: 2x1 sweep ${G}x${G} cells x ${seeds} seeds = ${G * G * seeds} models, batch ${batch}; each side runs ${steps} steps, extrapolated to ${flags.steps}`);

const t0 = performance.now();
await runSweep(
  { experiment: 'feature-2x1', densities: logspace(0.01, 1, G), importances: logspace(0.1, 10, G), seeds, steps, batch, lr: 1e-3, optimizer: 'adamw', schedule: 'constant', seed: 0, init: 'per-instance', evalBatch: 0 },
  { workers: flags.workers },
);
const ours = (performance.now() - t0) / 1000;
console.log(`superposition-lab (backend ${getBackend().name}, ${flags.workers} workers): ${ours.toFixed(1)} s for ${steps} steps -> ${(ours * scale).toFixed(0)} s for ${flags.steps}`);

const json = join(mkdtempSync(join(os.tmpdir(), 'bench-phase-')), 'torch.json');
const script = new URL('./anchors/tms_torch_phase.py', import.meta.url).pathname;
// Debian's torch is fastest on its pthreads OpenBLAS with one BLAS thread per OpenMP thread (2 cores).
const env = { ...process.env, LD_LIBRARY_PATH: [flags['blas-dir'], process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
const torch = spawnSync(flags.python, [script, '--threads', String(os.availableParallelism()), '--blas-threads', '1', '--grid', String(G), '--seeds', String(seeds), '--steps', String(steps), '--batch', String(batch), '--json', json], { encoding: 'utf8', env });
if (torch.status !== 0) {
  console.log(`PyTorch anchor did not run (${flags.python}: ${(torch.stderr || String(torch.error)).trim().split('\n').pop()}); install Debian's python3-torch to compare.`);
} else {
  const r = JSON.parse(readFileSync(json, 'utf8')) as { train_wall_s: number; torch: string; threads: number };
  console.log(`PyTorch ${r.torch} (${r.threads} threads, training loop only): ${r.train_wall_s.toFixed(1)} s for ${steps} steps -> ${(r.train_wall_s * scale).toFixed(0)} s for ${flags.steps}`);
  console.log(`ratio: PyTorch time / ours = ${(r.train_wall_s / ours).toFixed(2)} (above 1: we are faster)`);
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
  console.log(`ratio: TF.js time / ours = ${(seconds / ours).toFixed(2)}`);
}
