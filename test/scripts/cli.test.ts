/** The scripts' flag parser: one value per flag, decimal numbers only, errors that name flag, value and rule. */
import { expect, it } from 'vitest';
import { parseFlags } from '../../src/cli.ts';
import { resolveShard } from '../../src/phase/shards.ts';

const specs = {
  steps: { kind: 'number', default: 10, min: 1, max: 1e7, integer: true, help: 'steps' },
  lr: { kind: 'number', default: 1e-3, min: 1e-7, max: 10, help: 'learning rate' },
  experiment: { kind: 'string', default: 'intro', choices: ['intro', 'neuron'], help: 'which' },
} as const;

it('a flag given twice is an error naming both values, in either spelling', () => {
  expect(() => parseFlags(['--experiment=intro', '--experiment', 'neuron'], specs, 'test')).toThrow('--experiment is given twice (intro, then neuron); give it once');
  expect(() => parseFlags(['--steps', '5', '--steps=6'], specs, 'test')).toThrow('--steps is given twice (5, then 6); give it once');
});

it('numbers are decimal: no hex, binary, octal, separators or Infinity; exponents are fine', () => {
  for (const raw of ['0x10', '0b11', '0o7', '1_000', 'Infinity', '', ' ', '1e', '--5']) {
    expect(() => parseFlags(['--steps', raw], specs, 'test'), raw).toThrow(`--steps ${raw}: expected an integer in 1..10000000`);
  }
  expect(parseFlags(['--steps', '16'], specs, 'test').steps).toBe(16);
  expect(parseFlags(['--steps', '1e3'], specs, 'test').steps).toBe(1000);
  expect(parseFlags(['--lr', '.5'], specs, 'test').lr).toBe(0.5);
  expect(parseFlags(['--lr', '2.5E-4'], specs, 'test').lr).toBe(2.5e-4);
});

it('--shard none runs the whole sweep even inside a Slurm array or a Kubernetes indexed job', () => {
  const slurm = { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' };
  expect(resolveShard('', 0, slurm)?.source).toBe('Slurm array task 3 (SLURM_ARRAY_TASK_MIN 0, count 4)');
  expect(resolveShard('none', 0, slurm)).toBeNull();
  expect(resolveShard('none', 0, { JOB_COMPLETION_INDEX: '2' })).toBeNull();
});

it('--help of every script: a usage line saying what it does, every flag with a default, no choice it would refuse', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const scripts = ['phase-diagram', 'compare', 'train', 'report', 'schemas', 'explorer', 'backends', 'build-browser', 'bench-train', 'bench-phase', 'bench-kernels', 'bench-browser', 'bench-rng', 'bench-device'];
  const helps = await Promise.all(scripts.map(async (s) => [s, (await promisify(execFile)('npx', ['tsx', `scripts/${s}.ts`, '--help'], { encoding: 'utf8', timeout: 60_000 })).stdout] as const));
  for (const [script, help] of helps) {
    // the usage line, then what the script does: after three spaces on that line, or on the next
    expect(help, script).toMatch(new RegExp(`^usage: npx tsx scripts/${script}\\.ts [^\\n]*( {3}\\S+ \\S+|\\n\\S+ \\S+)`));
    expect(help, script).not.toMatch(/; default $/m);
  }
  const sweepHelp = helps.find(([s]) => s === 'phase-diagram')![1];
  expect(sweepHelp).toMatch(/--backend .*\(js\|wasm\|gpujs\|gpujs:gpu\|gpujs:webgpu\|gpujs:webasm\|gpujs:cpu\)/);
}, 120_000);

it('a value-taking flag followed by another flag is a forgotten value, not a value that starts with --', () => {
  expect(() => parseFlags(['--experiment', '--steps', '5'], specs, 'test')).toThrow('flag --experiment needs a value, got the flag --steps');
  // written with = it is taken as the value it is (here not one of the choices)
  expect(() => parseFlags(['--experiment=--odd'], specs, 'test')).toThrow('--experiment --odd: expected one of intro, neuron');
});
