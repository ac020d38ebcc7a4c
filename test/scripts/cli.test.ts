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
  expect(() => parseFlags(['--experiment=intro', '--experiment', 'neuron'], specs)).toThrow('--experiment is given twice (intro, then neuron); give it once');
  expect(() => parseFlags(['--steps', '5', '--steps=6'], specs)).toThrow('--steps is given twice (5, then 6); give it once');
});

it('numbers are decimal: no hex, binary, octal, separators or Infinity; exponents are fine', () => {
  for (const raw of ['0x10', '0b11', '0o7', '1_000', 'Infinity', '', ' ', '1e', '--5']) {
    expect(() => parseFlags(['--steps', raw], specs), raw).toThrow(`--steps ${raw}: expected an integer in 1..10000000`);
  }
  expect(parseFlags(['--steps', '16'], specs).steps).toBe(16);
  expect(parseFlags(['--steps', '1e3'], specs).steps).toBe(1000);
  expect(parseFlags(['--lr', '.5'], specs).lr).toBe(0.5);
  expect(parseFlags(['--lr', '2.5E-4'], specs).lr).toBe(2.5e-4);
});

it('--shard none runs the whole sweep even inside a Slurm array or a Kubernetes indexed job', () => {
  const slurm = { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' };
  expect(resolveShard('', 0, slurm)?.source).toBe('Slurm array task 3 (SLURM_ARRAY_TASK_MIN 0, count 4)');
  expect(resolveShard('none', 0, slurm)).toBeNull();
  expect(resolveShard('none', 0, { JOB_COMPLETION_INDEX: '2' })).toBeNull();
});
