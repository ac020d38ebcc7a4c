import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createRng, deriveSeed } from '../../src/random.ts';
import { DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from '../../src/phase/classify.ts';
import { bootstrapMean, compare, sharedBetween, type Variant } from '../../src/phase/compare.ts';
import { cellsOf, INTRO_DENSITIES, logspace, runSeed, type SweepConfig } from '../../src/phase/experiments.ts';
import { writeReport } from '../../src/phase/report.ts';
import { runSweep } from '../../src/phase/sweep.ts';
import { verifyResults } from '../../src/phase/verify.ts';
import { ToyModel } from '../../src/toy/model.ts';

const thresholds = { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: DEFAULT_NEURON_THRESHOLDS };
const tiny: SweepConfig = {
  experiment: 'feature-2x1',
  densities: logspace(0.05, 1, 3),
  importances: logspace(0.2, 5, 3),
  seeds: 3,
  steps: 40,
  batch: 32,
  lr: 1e-2,
  optimizer: 'adamw',
  schedule: 'constant',
  seed: 1,
  init: 'per-instance',
  evalBatch: 512,
};
const variant = (config: SweepConfig, label = ''): Variant => ({ label, config, thresholds });

describe('compare', () => {
  it('a variant against itself: zero differences, no label changes, identical results', async () => {
    const c = await compare(variant(tiny), variant(tiny), { workers: 1, resamples: 200 });
    expect(c.summary.changed).toBe(0);
    for (const cell of c.cells) {
      expect(cell.lossDiff).toEqual({ mean: 0, low: 0, high: 0, n: 3 });
      expect(cell.weightDiff).toEqual([0, 0, 0]);
    }
    expect(JSON.stringify(c.resultsB)).toBe(JSON.stringify(c.resultsA));
  });

  it('AdamW against Adam on the intro preset: after one step the weights differ by exactly the decay lr*wd*W0', async () => {
    const intro: SweepConfig = { ...tiny, experiment: 'intro', densities: INTRO_DENSITIES, importances: [], seeds: 2, steps: 1, batch: 64, lr: 1e-2 };
    const c = await compare(variant(intro, '--optimizer adamw'), variant({ ...intro, optimizer: 'adam' }, '--optimizer adam'), { workers: 1, resamples: 200 });
    expect(c.shared.initialWeights && c.shared.data).toBe(true);
    // Same W0 and the same first batch, so the same gradient: AdamW's step is Adam's applied to (1 - lr*wd) W0.
    cellsOf(intro).forEach((cell, i) => {
      for (let k = 0; k < intro.seeds; k++) {
        const W0 = new ToyModel({ kind: 'relu-output', instances: 1, features: 5, hidden: 2 }, [createRng(deriveSeed(runSeed(intro, cell, k), 0))]).W.data;
        const decay = 1e-2 * 1e-2 * Math.hypot(...W0);
        expect(Math.abs(c.cells[i].weightDiff[k] - decay) / decay).toBeLessThan(1e-3);
      }
    });
  });

  it('refuses variants that cannot be paired, and says what is not shared', () => {
    expect(() => sharedBetween(tiny, { ...tiny, densities: logspace(0.05, 1, 4) })).toThrow('compare: the variants must share the sweep to be paired; they differ in densities');
    const s = sharedBetween(tiny, { ...tiny, batch: 64, init: 'notebook' });
    expect([s.initialWeights, s.data]).toEqual([false, false]);
    expect(s.notes).toContain('data: differ (batch 32 vs 64)');
  });

  it('bootstrap intervals: a constant has a zero-width interval; a spread one covers its mean', () => {
    expect(bootstrapMean([2, 2, 2, 2], 500, 's')).toEqual({ mean: 2, low: 2, high: 2, n: 4 });
    const i = bootstrapMean([1, 2, 3, 4, 5, 6, 7, 8], 2000, 's');
    expect(i.mean).toBe(4.5);
    expect(i.low).toBeLessThan(4.5);
    expect(i.high).toBeGreaterThan(4.5);
    expect(i.low).toBeGreaterThan(1);
    expect(i.high).toBeLessThan(8);
  });
});

describe('verify', () => {
  it('a saved sweep re-runs bit for bit, and a single changed float is detected and located', async () => {
    const out = mkdtempSync(join(tmpdir(), 'verify-'));
    await writeReport(await runSweep(tiny, { workers: 1 }), out);
    const ok = await verifyResults(out, { workers: 1 });
    expect(ok).toEqual({ intact: true, reproduced: true, details: ['re-run on backend js (the one recorded)'] });

    const path = join(out, 'results.json');
    const json = JSON.parse(readFileSync(path, 'utf8'));
    json.cells[4].runs[1].loss = Math.fround(json.cells[4].runs[1].loss) + 2 ** -30; // one float, changed in a low bit
    writeFileSync(path, JSON.stringify(json, null, 1));
    const bad = await verifyResults(out, { workers: 1 });
    expect(bad.intact).toBe(false);
    expect(bad.reproduced).toBe(true);
    expect(bad.details.join('\n')).toContain('cells[4].runs[1].loss');
  });
});

it('compare.ts: the sweep-wide flags inside a variant are refused (they would compare different cells or seeds)', async () => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync('npx', ['tsx', 'scripts/compare.ts', '--a', '', '--b', '--seed 1'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toBe('compare: --b "--seed 1": --seed applies to both variants; give it outside --a/--b');
  const empty = spawnSync('npx', ['tsx', 'scripts/compare.ts', '--verify', ''], { encoding: 'utf8', timeout: 60_000 });
  expect(empty.status).toBe(2); // not a default comparison trained for minutes
  expect(empty.stderr.trim()).toBe("compare: --verify '': give the folder holding the results.json to re-run");
}, 60_000);
