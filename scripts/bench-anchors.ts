/**
 * The four peer configurations (A = 10 x 5->2, B = 1024 x 2->1, C = 20 x 100->20, D = 8 x 400->30; batch 1024,
 * density 0.1, AdamW lr 1e-3 wd 1e-2, importance 0.9^i) trained by our autograd trainer, single-threaded and
 * with instances split over worker threads, beside the PyTorch anchor (scripts/anchors/tms_torch.py) run in the
 * same command; steps per second, the ratio to PyTorch, and the garbage-collection time of our timed steps.
 *
 *   npx tsx scripts/bench-anchors.ts [--configs A,B,C,D] [--steps 20] [--python /usr/bin/python3]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { parseFlags } from '../src/cli.ts';
import { trainSweep } from '../src/phase/sweep.ts';
import type { SweepConfig } from '../src/phase/experiments.ts';
import { createRng } from '../src/random.ts';
import { sampleBatch } from '../src/toy/data.ts';
import { train, type TrainConfig } from '../src/toy/train.ts';

const CONFIGS: Record<string, { I: number; n: number; m: number }> = {
  A: { I: 10, n: 5, m: 2 },
  B: { I: 1024, n: 2, m: 1 },
  C: { I: 20, n: 100, m: 20 },
  D: { I: 8, n: 400, m: 30 },
};

const flags = parseFlags(process.argv.slice(2), {
  configs: { kind: 'string', default: 'A,B,C,D', help: 'comma-separated subset of A,B,C,D' },
  steps: { kind: 'number', default: 20, min: 2, max: 1e5, integer: true, help: 'timed steps per configuration (after 3 untimed)' },
  workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'threads for the split-instances column' },
  python: { kind: 'string', default: 'python3', help: "Python with torch (Debian's python3-torch installs it for /usr/bin/python3)" },
  'blas-dir': { kind: 'string', default: '/usr/lib/x86_64-linux-gnu/openblas-pthread', help: "folder of the OpenBLAS torch should load ('' keeps the environment's)" },
});
const names = flags.configs.split(',').filter((c) => {
  if (!(c in CONFIGS)) throw new RangeError(`--configs ${flags.configs}: unknown configuration '${c}' (allowed: A, B, C, D)`);
  return true;
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

const warmup = 3;
/** Seconds to draw one step's batch (the trainer's sampler alone), to show what sampling costs per step. */
function samplingSeconds(name: string): number {
  const { I, n } = CONFIGS[name];
  const rngs = Array.from({ length: I }, (_, i) => createRng(`sampling/${i}`));
  const out = new Float32Array(I * 1024 * n);
  const spec = { instances: I, batch: 1024, features: n, density: new Array(I).fill(0.1) };
  for (let k = 0; k < 20; k++) sampleBatch(spec, rngs, out); // warm the JIT, as the trainer's steps are
  const t = performance.now();
  for (let k = 0; k < 20; k++) sampleBatch(spec, rngs, out);
  return (performance.now() - t) / 20_000;
}

async function single(name: string): Promise<{ sps: number; gcShare: number }> {
  const { I, n, m } = CONFIGS[name];
  const config: TrainConfig = {
    model: { kind: 'relu-output', instances: I, features: n, hidden: m },
    importance: Array.from({ length: n }, (_, i) => 0.9 ** i),
    density: new Array(I).fill(0.1),
    batch: 1024,
    steps: warmup + flags.steps,
    lr: 1e-3,
    optimizer: 'adamw',
    seed: 0,
  };
  let start = 0;
  train(config, (step) => {
    if (step === warmup - 1) start = performance.now();
  });
  const end = performance.now();
  return { sps: flags.steps / ((end - start) / 1000), gcShare: (await gcWithin(start, end)) / (end - start) };
}

/** The same instances split over worker threads (one chunk each), timed end to end (thread start included). */
async function split(name: string): Promise<number> {
  const { I, n } = CONFIGS[name];
  const sweep: SweepConfig = {
    experiment: n === 2 ? 'feature-2x1' : 'intro',
    // One cell per instance (densities 0.1 apart by rounding only), so chunks can split the instances.
    densities: Array.from({ length: I }, (_, i) => 0.1 * (1 + 1e-9 * i)),
    importances: n === 2 ? [0.9] : [],
    seeds: 1,
    steps: flags.steps,
    batch: 1024,
    lr: 1e-3,
    optimizer: 'adamw',
    schedule: 'constant',
    seed: 0,
    init: 'per-instance',
    evalBatch: 0,
  };
  if (n !== 2 && n !== 5) return NaN; // the split path reuses the sweep shapes (2->1 and 5->2)
  const t = performance.now();
  await trainSweep(sweep, { workers: flags.workers, maxInstancesPerChunk: Math.ceil(I / flags.workers) });
  return flags.steps / ((performance.now() - t) / 1000);
}

const ours = new Map<string, { sps: number; gcShare: number; split: number; sampling: number }>();
for (const name of names) ours.set(name, { ...(await single(name)), split: await split(name), sampling: samplingSeconds(name) });

const json = join(mkdtempSync(join(os.tmpdir(), 'bench-anchors-')), 'torch.json');
const env = { ...process.env, LD_LIBRARY_PATH: [flags['blas-dir'], process.env.LD_LIBRARY_PATH].filter(Boolean).join(':') };
const torch = spawnSync(flags.python, [new URL('./anchors/tms_torch.py', import.meta.url).pathname, '--threads', '2', '--blas-threads', '1', '--configs', names.join(','), '--no-matmul', '--runs', '3', '--secs', '1', '--json', json], { encoding: 'utf8', env });
const theirs = new Map<string, number>();
if (torch.status === 0) {
  const r = JSON.parse(readFileSync(json, 'utf8')) as { tms: Record<string, { median: number }> };
  for (const [k, v] of Object.entries(r.tms)) theirs.set(k, v.median);
} else {
  console.log(`PyTorch anchor did not run (${flags.python}: ${(torch.stderr || String(torch.error)).trim().split('\n').pop()}); install Debian's python3-torch to compare.`);
}

console.log(`bench-anchors: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}; batch 1024, density 0.1, AdamW; ${flags.steps} timed steps`);
console.log('\n| config | ours, 1 thread | GC share | sampling share | ours, instances over ' + flags.workers + ' threads | PyTorch 2 threads | ours / PyTorch (best of ours) |');
console.log('|---|---|---|---|---|---|---|');
for (const name of names) {
  const o = ours.get(name)!;
  const best = Math.max(o.sps, Number.isNaN(o.split) ? 0 : o.split);
  const t = theirs.get(name);
  console.log(`| ${name} ${JSON.stringify(CONFIGS[name])} | ${o.sps.toFixed(2)} | ${(100 * o.gcShare).toFixed(1)}% | ${(100 * o.sampling * o.sps).toFixed(1)}% | ${Number.isNaN(o.split) ? '-' : o.split.toFixed(2)} | ${t === undefined ? '-' : t.toFixed(2)} | ${t === undefined ? '-' : `${(best / t).toFixed(2)}x`} |`);
}
