/**
 * Training steps per second of the toy models on each kernel backend, with the ratio to the reference backend
 * measured in the same process. Two configurations: the intro model (10 instances of 5 -> 2, batch 1024; each
 * step's matmuls are tiny) and a wider one (20 instances of 100 -> 20, batch 1024: the [20,1024,100]x[20,100,20]
 * shape of bench-kernels). The first steps (kernel builds, JIT, auto's micro-benchmarks) are not timed, and the
 * backends run in two interleaved rounds (best of each), so JIT warm-up and load from other jobs hit all alike.
 *
 *   npx tsx scripts/bench-train.ts [--backend js|gpujs[:mode]|auto|all] [--steps 60] [--warmup 5] [--seed 0]
 */
import os from 'node:os';
import { parseFlags } from '../src/cli.ts';
import { BACKEND_CHOICES, backendFlag, useBackend } from '../src/kernels/select.ts';
import { train, type TrainConfig } from '../src/toy/train.ts';

const flags = parseFlags(process.argv.slice(2), {
  backend: { ...backendFlag, default: 'all', choices: [...BACKEND_CHOICES, 'all'], help: `${backendFlag.help}; all: every backend that starts here, against js` },
  steps: { kind: 'number', default: 60, min: 2, max: 1e6, integer: true, help: 'timed training steps per configuration and backend' },
  warmup: { kind: 'number', default: 5, min: 1, max: 1000, integer: true, help: 'untimed steps before timing' },
  seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32 - 1, integer: true, help: 'seed for weights and data' },
});

const configs: Array<[string, TrainConfig]> = [
  ['intro 10x(5->2)', config(10, 5, 2)],
  ['wide 20x(100->20)', config(20, 100, 20)],
];

function config(instances: number, features: number, hidden: number): TrainConfig {
  return {
    model: { kind: 'relu-output', instances, features, hidden },
    importance: Array.from({ length: features }, (_, i) => 0.9 ** i),
    density: Array.from({ length: instances }, (_, i) => 20 ** -(i / Math.max(1, instances - 1))),
    batch: 1024,
    steps: flags.warmup + flags.steps,
    lr: 1e-3,
    optimizer: 'adamw',
    seed: flags.seed,
    name: 'bench-train',
  };
}

/** Steps per second after the warm-up steps. */
function stepsPerSecond(cfg: TrainConfig): number {
  let start = 0;
  train(cfg, (step) => {
    if (step === flags.warmup - 1) start = performance.now();
  });
  return flags.steps / ((performance.now() - start) / 1000);
}

const wanted = flags.backend === 'all' ? BACKEND_CHOICES.filter((b) => b !== 'gpujs') : ['js', flags.backend];
const names: string[] = [];
const autoLines: string[] = []; // auto's choices, printed after the table
for (const name of new Set(wanted)) {
  try {
    await useBackend(name, { log: (line) => autoLines.push(line) });
    names.push(name);
  } catch (e) {
    if (flags.backend !== 'all') throw e;
    console.log(`  not run: ${name}: ${(e as Error).message}`);
  }
}

console.log(`bench-train: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}; ${flags.steps} timed steps after ${flags.warmup}, batch 1024, AdamW`);
console.log('Training steps per second (matmuls on the backend; elementwise ops, sums and the optimiser on js), and the ratio to js.\n');
console.log(`| configuration | ${names.map((n) => `${n} steps/s${n === 'js' ? '' : ' | x js'}`).join(' | ')} |`);
console.log(`|---|${names.map((n) => (n === 'js' ? '---|' : '---|---|')).join('')}`);
for (const [label, cfg] of configs) {
  // Two interleaved rounds, best of each: the first js run also warms the JIT for everything after it.
  const best = names.map(() => 0);
  for (let round = 0; round < 2; round++)
    for (const [i, name] of names.entries()) {
      await useBackend(name);
      best[i] = Math.max(best[i], stepsPerSecond(cfg));
    }
  const cells = best.map((sps, i) => (i === 0 ? sps.toFixed(1) : `${sps.toFixed(1)} | ${(sps / best[0]).toFixed(2)}x`));
  console.log(`| ${label} | ${cells.join(' | ')} |`);
}
await useBackend('js');
if (autoLines.length) console.log(`\n${autoLines.join('\n')}`);
