import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from '../../src/phase/classify.ts';
import { logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { findShardFiles, mergeShards, parseShard, resolveShard, shardFileName, writeShard } from '../../src/phase/shards.ts';
import { assembleResults, runSweep, trainSweep } from '../../src/phase/sweep.ts';

const config: SweepConfig = {
  experiment: 'feature-2x1',
  densities: logspace(0.05, 1, 3),
  importances: logspace(0.2, 5, 3),
  seeds: 2,
  steps: 30,
  batch: 32,
  lr: 1e-2,
  optimizer: 'adamw',
  schedule: 'constant',
  seed: 3,
  init: 'per-instance',
  evalBatch: 512,
};
const thresholds = { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: DEFAULT_NEURON_THRESHOLDS };

async function shardsInto(dir: string, count: number, cfg = config): Promise<void> {
  for (let index = 0; index < count; index++) writeShard(dir, { kind: 'sweep', config: cfg, thresholds }, { index, count }, [await trainSweep(cfg, { workers: 1, shard: { index, count } })]);
}

describe('shards', () => {
  it('merged shards give exactly the single-machine results', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shards-'));
    await shardsInto(dir, 4);
    const merged = mergeShards(findShardFiles([dir]));
    const single = await runSweep(config, { workers: 1 });
    expect(merged.job.kind).toBe('sweep');
    expect(JSON.stringify(assembleResults(config, merged.runs[0], thresholds))).toBe(JSON.stringify(single));
  });

  it('shard K of N holds the cells with index K mod N', async () => {
    const runs = await trainSweep(config, { workers: 1, shard: { index: 1, count: 4 } });
    expect(Object.keys(runs)).toEqual(['1', '5']);
  });

  it('merge lists missing shards, refuses duplicates and shards of another sweep', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shards-'));
    await shardsInto(dir, 3);
    const files = findShardFiles([dir]);
    expect(() => mergeShards(files.filter((f) => !f.endsWith(shardFileName({ index: 1, count: 3 }))))).toThrow('merge: 1 of 3 shards missing: shard-1-of-3.json');
    const copy = mkdtempSync(join(tmpdir(), 'dup-'));
    copyFileSync(files[0], join(copy, shardFileName({ index: 0, count: 3 })));
    expect(() => mergeShards([...files, join(copy, shardFileName({ index: 0, count: 3 }))])).toThrow(/duplicated shards: shard 0 in/);
    const other = mkdtempSync(join(tmpdir(), 'other-'));
    writeShard(other, { kind: 'sweep', config: { ...config, steps: 31 }, thresholds }, { index: 1, count: 3 }, [await trainSweep({ ...config, steps: 31 }, { workers: 1, shard: { index: 1, count: 3 } })]);
    expect(() => mergeShards([files[0], files[2], join(other, shardFileName({ index: 1, count: 3 }))])).toThrow(/belongs to another sweep/);
    // The same job trained on another backend: equal within float32 rounding only, so not merged.
    const wasm = mkdtempSync(join(tmpdir(), 'wasm-'));
    const shard1 = JSON.parse(readFileSync(files[1], 'utf8'));
    shard1.manifest.backend = 'wasm';
    writeFileSync(join(wasm, shardFileName({ index: 1, count: 3 })), JSON.stringify(shard1));
    expect(() => mergeShards([files[0], files[2], join(wasm, shardFileName({ index: 1, count: 3 }))])).toThrow(/was trained on backend wasm, .* on js/);
  });

  it('a sharded comparison merges to the single-machine comparison', async () => {
    const { compare, trainComparison } = await import('../../src/phase/compare.ts');
    const { mergeAndReport } = await import('../../src/phase/shards.ts');
    const a = { label: '', config, thresholds };
    const b = { label: '--optimizer adam', config: { ...config, optimizer: 'adam' as const }, thresholds };
    const dir = mkdtempSync(join(tmpdir(), 'cmp-shards-'));
    for (let index = 0; index < 2; index++) writeShard(dir, { kind: 'comparison', a, b, resamples: 2000 }, { index, count: 2 }, await trainComparison(a, b, { workers: 1, shard: { index, count: 2 } }));
    const merged = await mergeAndReport(findShardFiles([dir]), join(dir, 'merged'));
    expect(JSON.stringify(merged.results)).toBe(JSON.stringify(await compare(a, b, { workers: 1 })));
    // merge owns its --out as a one-machine run does: a finished result there is replaced only when asked
    const { mergeCommand } = await import('../../src/phase/shards.ts');
    await expect(mergeCommand('compare.ts', [dir, '--out', join(dir, 'merged')])).rejects.toThrow(`${join(dir, 'merged')} holds a finished run (results.json): --overwrite replaces it, or choose another --out`);
    await mergeCommand('compare.ts', [dir, '--out', join(dir, 'merged'), '--overwrite']);
    expect(existsSync(join(dir, 'merged', '.lock'))).toBe(false);
  });

  it('the shard comes from --shard, else Slurm, else Kubernetes; bad values name their source', () => {
    expect(parseShard('2/5')).toEqual({ index: 2, count: 5 });
    expect(() => parseShard('5/5')).toThrow('--shard 5/5: expected K/N with 1 <= N <= 100000 and 0 <= K < N (K is 0-based)');
    expect(resolveShard('', 0, {})).toBeNull();
    expect(resolveShard('1/2', 0, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4' })!.shard).toEqual({ index: 1, count: 2 });
    // An array submitted as --array=1-4 has MIN 1: task 3 is shard 2 of 4.
    expect(resolveShard('', 0, { SLURM_ARRAY_TASK_ID: '3', SLURM_ARRAY_TASK_COUNT: '4', SLURM_ARRAY_TASK_MIN: '1' })!.shard).toEqual({ index: 2, count: 4 });
    expect(resolveShard('', 6, { JOB_COMPLETION_INDEX: '5' })!.shard).toEqual({ index: 5, count: 6 });
    expect(() => resolveShard('', 0, { JOB_COMPLETION_INDEX: '5' })).toThrow(/--shard-count is not/);
    expect(() => resolveShard('', 4, { JOB_COMPLETION_INDEX: '4' })).toThrow('JOB_COMPLETION_INDEX/--shard-count 4/4');
  });
});

describe('shard and partial files that were cut short or edited', () => {
  it('every probe is a named error before anything is allocated from the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'shards-'));
    await shardsInto(dir, 2);
    const [file] = findShardFiles([dir]);
    const original = readFileSync(file, 'utf8');
    const probe = (edit: (s: any) => void) => {
      const s = JSON.parse(original);
      edit(s);
      writeFileSync(file, JSON.stringify(s));
      return () => mergeShards(findShardFiles([dir]));
    };
    const t0 = performance.now();
    expect(probe((s) => (s.shard.count = 1e7))).toThrow(`merge: ${file}: shard.count: expected an integer in 1..100000, found 10000000`);
    expect(probe((s) => (s.shard.count = 2 ** 32 - 1))).toThrow(/shard\.count: expected an integer in 1\.\.100000, found 4294967295/);
    expect(probe((s) => (s.jobHash = 'x'.repeat(1e5)))).toThrow(`merge: ${file}: jobHash: expected 64 hex digits (a sha256), found '${'x'.repeat(39)}...`);
    expect(performance.now() - t0).toBeLessThan(2000); // no allocation sized by the file
    expect(probe((s) => (s.runs[0]['0'][1].loss = null))).toThrow(`merge: ${file}: runs[0][0][1].loss: expected a number in 0..1.7976931348623157e+308, found null`);
    expect(probe((s) => (s.runs[0]['2'][0].W = []))).toThrow(`merge: ${file}: runs[0][2][0].W: expected 2 entries, found 0`);
    expect(probe((s) => { s.runs[0]['1'] = s.runs[0]['0']; delete s.runs[0]['0']; })).toThrow(/runs\[0\]: holds cells \[.*\], expected \[0, 2, 4, 6, 8\]/);
    expect(probe((s) => (s.job.config.steps = 1e12))).toThrow(`merge: ${file}: job.config.steps: expected an integer in 1..10000000, found 1000000000000`);
    writeFileSync(file, original.slice(0, 100));
    expect(() => mergeShards(findShardFiles([dir]))).toThrow(new RegExp(`^merge: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  });

  it('--resume refuses a tampered or truncated partial.json, naming the field', async () => {
    const out = mkdtempSync(join(tmpdir(), 'resume-'));
    await expect(runSweep(config, { workers: 1, out, maxInstancesPerChunk: 2, crashAfterChunks: 2 })).rejects.toThrow('simulated crash');
    const path = join(out, 'partial.json');
    const original = readFileSync(path, 'utf8');
    const saved = JSON.parse(original);
    const [cell] = Object.keys(saved.cells);
    const probe = async (edit: (s: any) => void) => {
      const s = JSON.parse(original);
      edit(s);
      writeFileSync(path, JSON.stringify(s));
      return runSweep(config, { workers: 1, out, resume: true });
    };
    await expect(probe((s) => (s.cells[cell][0].W = [1]))).rejects.toThrow(`resume: ${path}: cells[${cell}][0].W: expected 2 entries, found 1`);
    await expect(probe((s) => (s.cells[cell][0].loss = null))).rejects.toThrow(`resume: ${path}: cells[${cell}][0].loss: expected a number`);
    await expect(probe((s) => s.cells[cell].pop())).rejects.toThrow(`resume: ${path}: cells[${cell}]: expected 2 entries, found 1`);
    await expect(probe((s) => (s.cells['99'] = s.cells[cell]))).rejects.toThrow(`resume: ${path}: cells: holds cell "99", not a cell of this sweep (0..8)`);
    writeFileSync(path, original.slice(0, 50));
    await expect(runSweep(config, { workers: 1, out, resume: true })).rejects.toThrow(new RegExp(`^resume: ${path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: .*a partial\\.json cut short: delete it to start over\\)$`));
    writeFileSync(path, original);
    expect(JSON.stringify(await runSweep(config, { workers: 1, out, resume: true }))).toBe(JSON.stringify(await runSweep(config, { workers: 1 })));
  });
});
