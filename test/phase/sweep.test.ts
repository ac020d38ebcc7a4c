/** Sweeps end to end: determinism across workers and interruptions, agreement with theory, the neuron regimes. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cellsOf, EXPERIMENTS, logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { sweepFromArgs } from '../../src/phase/flags.ts';
import { writeReport } from '../../src/phase/report.ts';
import { runSweep, sweepMemory, sweepThreadPlan, type FeatureCell, type NeuronCell, type SweepResults } from '../../src/phase/sweep.ts';

const tiny: SweepConfig = {
  experiment: 'feature-2x1',
  densities: logspace(0.05, 1, 3),
  importances: logspace(0.2, 5, 3),
  seeds: 2,
  steps: 40,
  batch: 32,
  lr: 1e-2,
  optimizer: 'adamw',
  schedule: 'constant',
  seed: 7,
  init: 'per-instance',
  evalBatch: 512,
};
const bytes = (x: unknown): string => JSON.stringify(x);

describe('sweep determinism', () => {
  it('one worker, two workers and other chunkings give the same bytes', async () => {
    const one = await runSweep(tiny, { workers: 1 });
    // a 2x1 sweep on 2 cores: chunks in this thread, each with a sampler thread; on 4: two workers, each with one
    expect(sweepThreadPlan(tiny, 2)).toEqual({ trainers: 1, samplerThreads: true });
    expect(sweepThreadPlan(tiny, 4)).toEqual({ trainers: 2, samplerThreads: true });
    expect(sweepThreadPlan({ ...tiny, experiment: 'neuron' }, 4)).toEqual({ trainers: 4, samplerThreads: false });
    expect(sweepThreadPlan(tiny, 4, 'gpujs:webgpu')).toEqual({ trainers: 4, samplerThreads: false }); // samples on the device
    const two = await runSweep(tiny, { workers: 2, maxInstancesPerChunk: 2 });
    const four = await runSweep(tiny, { workers: 4, maxInstancesPerChunk: 2 });
    const inProcessSmallChunks = await runSweep(tiny, { workers: 1, maxInstancesPerChunk: 4 });
    expect(bytes(two)).toBe(bytes(one));
    expect(bytes(four)).toBe(bytes(one));
    expect(bytes(inProcessSmallChunks)).toBe(bytes(one));
    expect(one.cells).toHaveLength(9);
    // The notebook's 3-D Xavier fan counts the whole sweep's runs, not a chunk's.
    const notebook = { ...tiny, init: 'notebook' as const };
    expect(bytes(await runSweep(notebook, { workers: 2, maxInstancesPerChunk: 2 }))).toBe(bytes(await runSweep(notebook, { workers: 1 })));
  });

  it('a one-value axis has no grid step: its cells count as near a boundary', async () => {
    const r = await runSweep({ ...tiny, densities: [0.1], importances: [1], steps: 5 }, { workers: 1 });
    expect(r.agreement!.cellsAway).toBe(0);
  });

  it('a crashed sweep resumes and ends with the same results as an uninterrupted one', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sweep-'));
    const straight = await runSweep(tiny, { workers: 1 });
    await expect(runSweep(tiny, { workers: 1, out, maxInstancesPerChunk: 2, crashAfterChunks: 2 })).rejects.toThrow('simulated crash');
    const saved = JSON.parse(readFileSync(join(out, 'partial.json'), 'utf8'));
    expect(Object.keys(saved.cells)).toHaveLength(2); // two chunks of one cell each were saved before the crash
    const resumed = await runSweep(tiny, { workers: 2, out, resume: true, maxInstancesPerChunk: 2 });
    expect(bytes(resumed)).toBe(bytes(straight));
    await expect(runSweep({ ...tiny, steps: 41 }, { out, resume: true })).rejects.toThrow(/belongs to a different sweep/);
  });
});

describe('the default feature-2x1 sweep (end to end, ~40 s)', () => {
  it('agrees with the closed-form theory on at least 96% of cells away from boundaries, and writes the report', async () => {
    // The same configuration as `npx tsx scripts/phase-diagram.ts` with no flags.
    const config: SweepConfig = { ...tiny, densities: logspace(0.01, 1, 10), importances: logspace(0.1, 10, 10), seeds: 5, steps: 2000, batch: 256, seed: 0, evalBatch: 8192 };
    const results = await runSweep(config, { workers: 2 });
    expect(results.agreement!.cellsAway).toBeGreaterThanOrEqual(20);
    // The run is deterministic (measured 96.7%): the floor the counter-based data stream was required to keep.
    expect(results.agreement!.awayFromBoundary).toBeGreaterThanOrEqual(0.96);
    const cells = results.cells as FeatureCell[];
    // Dense and unimportant: not represented; dense and important: dedicated; sparse: superposition.
    expect(cells.find((c) => c.density === 1 && c.importance === 0.1)!.regime).toBe('not-represented');
    expect(cells.find((c) => c.density === 1 && c.importance === 10)!.regime).toBe('dedicated');
    for (const c of cells.filter((c) => c.density === 0.01 && c.importance > 0.3 && c.importance < 3)) expect(c.regime).toBe('superposition');

    const out = mkdtempSync(join(tmpdir(), 'report-'));
    await writeReport(results, out);
    for (const f of ['results.json', 'index.html', 'phase-diagram.svg', 'phase-diagram.png', 'phase-diagram.vl.json', 'phase-diagram.vg.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(statSync(join(out, 'phase-diagram.png')).size).toBeGreaterThan(20_000);
    const json = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['experiment', 'config', 'cells', 'agreement', 'manifest']));
    expect(Object.keys(json.cells[0])).toEqual(expect.arrayContaining(['density', 'importance', 'regime', 'theory', 'loss', 'runs']));
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain('<svg');
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/); // opens offline: no scripts, no remote resources
  }, 180_000);
});

describe('neuron experiment', () => {
  it('finds all five neurons monosemantic at density >= 0.5', async () => {
    const results = await runSweep({ ...tiny, experiment: 'neuron', densities: [1, 0.5], importances: [], seeds: 2, steps: 8000, batch: 128, schedule: 'cosine', evalBatch: 8192 }, { workers: 2 });
    for (const cell of results.cells as NeuronCell[]) {
      expect(cell.monosemantic, `density ${cell.density}`).toBe(5);
      expect(cell.neurons.map((n) => n.topFeature).sort()).toEqual([0, 1, 2, 3, 4]); // the five most important features
    }
  }, 180_000);
});

describe('phase-diagram.ts flags', () => {
  it('rejects bad input naming the flag, the value and the allowed range, without writing anything', () => {
    const out = mkdtempSync(join(tmpdir(), 'flags-'));
    const run = (...args: string[]) => spawnSync('npx', ['tsx', 'scripts/phase-diagram.ts', '--out', out, ...args], { encoding: 'utf8' });
    const bad = run('--grid', '0');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--grid 0: expected an integer in 1..200');
    expect(run('--experiment', 'feature-9x9').stderr).toContain('--experiment feature-9x9: expected one of feature-2x1, feature-3x2, neuron, computation');
    expect(existsSync(join(out, 'results.json'))).toBe(false);
  }, 60_000);
});

describe('chunk size from memory', () => {
  it('counts the evaluation slice, and a 2^20-sample evaluation runs in slices of 8192', async () => {
    const { instancesPerChunk } = await import('../../src/phase/sweep.ts');
    const computation: SweepConfig = { ...tiny, experiment: 'computation', densities: [1, 0.1], importances: [], batch: 128, evalBatch: 8192 };
    // 256 MB / (rows x 100 features x 4 bytes x 24 live arrays), rows = max(batch, evaluation slice)
    expect(instancesPerChunk(computation)).toBe(Math.floor(256e6 / (8192 * 100 * 4 * 24)));
    expect(instancesPerChunk({ ...computation, evalBatch: 1 << 20 })).toBe(Math.floor(256e6 / (8192 * 100 * 4 * 24)));
    expect(instancesPerChunk({ ...computation, evalBatch: 0 })).toBe(Math.floor(256e6 / (128 * 100 * 4 * 24)));
    // A feature sweep's stratified evaluation holds its whole batch (rounded up to a multiple of 2^features).
    const twoByOne: SweepConfig = { ...tiny, batch: 256, evalBatch: 8192 };
    expect(instancesPerChunk(twoByOne)).toBe(Math.floor(256e6 / (8192 * 2 * 4 * 24)));
    expect(instancesPerChunk({ ...twoByOne, evalBatch: 1 << 20 })).toBe(twoByOne.seeds); // 1.3 by memory: one cell's runs
  });

  it('a sliced evaluation is the size-weighted mean of its slices, slice k drawn at step k of the evaluation stream', async () => {
    const { train, EVAL_KEY, importanceTensor } = await import('../../src/toy/train.ts');
    const { sampleBatch, streamKeys } = await import('../../src/toy/data.ts');
    const { deriveSeed } = await import('../../src/random.ts');
    const { Tensor } = await import('../../src/autograd/tensor.ts');
    const config = { model: { kind: 'abs' as const, instances: 2, features: 3, hidden: 2 }, importance: [1, 0.8, 0.6], density: [0.5, 1], batch: 16, steps: 3, lr: 1e-2, optimizer: 'adamw' as const, seed: 'slices' };
    const { model, evalLosses } = train({ ...config, evalBatch: 8192 + 4096 });
    const keys = streamKeys([0, 1].map((i) => deriveSeed(deriveSeed('slices', i), EVAL_KEY)));
    const lossOf = (rows: number, step: number) => {
      const x = sampleBatch({ instances: 2, batch: rows, features: 3, density: config.density, values: 'signed' }, keys, step);
      return model.instanceLosses(new Tensor(x, [2, rows, 3]), importanceTensor(config.importance, 2, 3)).data;
    };
    const [first, second] = [lossOf(8192, 0), lossOf(4096, 1)];
    expect(Array.from(evalLosses!)).toEqual([0, 1].map((i) => (first[i] * 8192) / 12288 + (second[i] * 4096) / 12288));
    expect(second[0]).not.toBe(first[0]); // another batch, not slice 0 again
  });
});

describe('runs that collapse or get worse', () => {
  it('a learning rate of 10 collapses every model: each run is named in results.warnings; a healthy sweep has none', async () => {
    const collapsed = await runSweep({ ...tiny, lr: 10, steps: 200 }, { workers: 1 });
    expect(collapsed.warnings).toHaveLength(9 * tiny.seeds);
    for (const w of collapsed.warnings!) expect(w.message).toMatch(/^weights collapsed to zero \(largest \|W\| [\d.]+e-\d+\)/);
    expect(collapsed.warnings![0]).toMatchObject({ cell: 0, k: 0, density: tiny.densities[0] });
    const healthy = await runSweep(tiny, { workers: 1 });
    expect(healthy.warnings).toBeUndefined();
    expect(JSON.stringify(healthy)).not.toContain('warning');
  });

  it('phase-diagram.ts prints them and --fail-on-divergence makes them an error', () => {
    const out = mkdtempSync(join(tmpdir(), 'sl-warn-'));
    const r = spawnSync('npx', ['tsx', 'scripts/phase-diagram.ts', '--grid', '2', '--seeds', '1', '--steps', '150', '--lr', '10', '--eval-batch', '0', '--workers', '1', '--out', out, '--fail-on-divergence'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/^warning: cell 0 \(density 0\.01, importance 0\.1\), seed 0: weights collapsed to zero/m);
    const { warnings } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(warnings.length).toBeGreaterThan(0);
    expect(r.stderr).toContain(`phase-diagram: ${warnings.length} run(s) collapsed or diverged (--fail-on-divergence)`);
  }, 150_000);
});

describe('memory, checked before training', () => {
  it('a sweep larger than the machine is refused with what it would need; every default fits in 1 GiB on 2 workers', async () => {
    // computation (100 features, 40 hidden, two layers): one cell of 1000 seeds at batch 65536 is a single chunk
    // of 1000 x 65536 rows x 100 features x 4 bytes x 24 live arrays = 6.29e11 bytes = 586 GiB; its results are
    // 1000 runs x (2 x 4000 + 100) numbers x 32 bytes = 0.241 GiB.
    const huge: SweepConfig = { ...tiny, experiment: 'computation', densities: [0.1], importances: [], seeds: 1000, batch: 65536, evalBatch: 1024 };
    expect(sweepMemory(huge, 1, 1)).toEqual({ training: 1000 * 65536 * 100 * 4 * 24, results: 1000 * 8100 * 32 });
    const t0 = performance.now();
    await expect(runSweep(huge, { workers: 1, memoryBytes: 16 * 2 ** 30 })).rejects.toThrow(
      'this sweep needs about 586 GiB (training: 1 worker(s) x 586 GiB, each a chunk of 1000 runs of 65536 rows; results: 0.241 GiB for 1 cells x 1000 seeds), more than the 16.0 GiB of this machine',
    );
    expect(performance.now() - t0).toBeLessThan(1000); // refused before anything was allocated
    for (const e of EXPERIMENTS) {
      const { config } = sweepFromArgs(['--experiment', e]);
      const { training, results } = sweepMemory(config, cellsOf(config).length, 2);
      expect(training + results, e).toBeLessThan(2 ** 30);
    }
  });
});

describe('run warnings in every command', () => {
  it("a comparison's lines name the variant, a sweep's are warningLines", async () => {
    const { runWarnings, warningLines } = await import('../../src/phase/results.ts');
    const w = { cell: 3, k: 1, density: 0.1, importance: 2, message: 'weights collapsed to zero' };
    const sweep = { warnings: [w] } as unknown as SweepResults;
    expect(runWarnings(sweep)).toEqual(['warning: cell 3 (density 0.1, importance 2), seed 1: weights collapsed to zero']);
    expect(runWarnings({ kind: 'comparison', resultsA: { warnings: [] } as unknown as SweepResults, resultsB: sweep })).toEqual(['B: warning: cell 3 (density 0.1, importance 2), seed 1: weights collapsed to zero']);
    expect(warningLines(sweep)).toEqual(runWarnings(sweep));
  });
});
