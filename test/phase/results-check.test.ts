/**
 * Reading results.json files that may be truncated, edited or hostile (results-check.ts): every probe of an
 * adversarial user gets an error naming the file and the field; a good file comes back as it was derived.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from '../../src/phase/classify.ts';
import { logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { checkComparison, checkResults } from '../../src/phase/results-check.ts';
import { runSweep } from '../../src/phase/sweep.ts';
import { verifyResults } from '../../src/phase/verify.ts';
import { writeReport } from '../../src/phase/report.ts';

const tiny: SweepConfig = { experiment: 'feature-2x1', densities: logspace(0.05, 1, 3), importances: logspace(0.2, 5, 3), seeds: 2, steps: 30, batch: 32, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 7, init: 'per-instance', evalBatch: 256 };
const results = await runSweep(tiny, { workers: 1 });
const neuron = await runSweep({ ...tiny, experiment: 'neuron', densities: [1, 0.1], importances: [] }, { workers: 1 });
const json = (x: unknown) => JSON.parse(JSON.stringify(x));
const edit = (f: (doc: any) => void, base: unknown = results) => {
  const doc = json(base);
  f(doc);
  return doc;
};

describe('checkResults', () => {
  const labels = (r: typeof results) => r.cells.map((c: any) => [c.regime, c.theory, c.nearBoundary, c.runs.map((run: any) => run.regime)]);

  it('a good file comes back as written, after its labels, theory and agreement are checked against its runs', () => {
    expect(JSON.stringify(checkResults(json(results), 'r.json'))).toBe(JSON.stringify(results));
    expect(JSON.stringify(checkResults(json(neuron), 'n.json'))).toBe(JSON.stringify(neuron));
  });

  it('an edited agreement is recomputed from the cells; an edited label or norm is refused', () => {
    const back = checkResults(edit((d) => { d.agreement = { all: 1, awayFromBoundary: 1, cells: 9, cellsAway: 9 }; }), 'r.json');
    expect(back.agreement).toEqual(results.agreement);
    expect(labels(back)).toEqual(labels(results));
    const flipped = (r: string) => (r === 'dedicated' ? 'superposition' : 'dedicated');
    expect(() => checkResults(edit((d) => { d.cells[0].regime = flipped(d.cells[0].regime); }), 'r.json')).toThrow(/^r\.json: cells\[0\]: regime '\w+' and loss [\d.e-]+, its runs make them '\w+'/);
    expect(() => checkResults(edit((d) => { d.cells[0].theory = flipped(d.cells[0].theory); }), 'r.json')).toThrow(/^r\.json: cells\[0\]/);
    expect(() => checkResults(edit((d) => { d.cells[0].runs[0].norm += 0.5; }), 'r.json')).toThrow(/^r\.json: cells\[0\]\.runs\[0\]/);
  });

  it.each([
    ['not an object', () => [], 'r.json: the document: expected an object, found []'],
    ['a prototype key as experiment', () => edit((d) => { d.experiment = 'toString'; }), "r.json: experiment: expected one of feature-2x1, feature-3x2, neuron, computation, intro, found 'toString'"],
    ['steps of 10^12', () => edit((d) => { d.config.steps = 1e12; }), 'r.json: config.steps: expected an integer in 1..10000000, found 1000000000000'],
    ['seeds of 10^6', () => edit((d) => { d.config.seeds = 1e6; }), 'r.json: config.seeds: expected an integer in 1..1000, found 1000000'],
    ['a batch as a string', () => edit((d) => { d.config.batch = '32'; }), "r.json: config.batch: expected an integer in 1..65536, found '32'"],
    ['a hex-like lr', () => edit((d) => { d.config.lr = null; }), 'r.json: config.lr: expected a number in 1e-7..10, found null'],
    ['twice the cells', () => edit((d) => { d.cells = [...d.cells, ...d.cells]; }), 'r.json: cells: expected 9 entries, found 18'],
    ['a truncated cell list', () => edit((d) => { d.cells.pop(); }), 'r.json: cells: expected 9 entries, found 8'],
    ['runs filed under another cell', () => edit((d) => { [d.cells[0], d.cells[1]] = [d.cells[1], d.cells[0]]; }), 'r.json: cells[0]: is at density 0.05, importance 1; the configuration puts cell 0 at 0.05, 0.2'],
    ['a run missing', () => edit((d) => { d.cells[4].runs.pop(); }), 'r.json: cells[4].runs: expected 2 entries, found 1'],
    ['a null loss', () => edit((d) => { d.cells[2].runs[1].loss = null; }), 'r.json: cells[2].runs[1].loss: expected a number in 0..1.7976931348623157e+308, found null'],
    ['an empty W', () => edit((d) => { d.cells[3].runs[0].W = []; }), 'r.json: cells[3].runs[0].W: expected 2 entries, found 0'],
    ['an Infinity weight (as JSON null)', () => edit((d) => { d.cells[3].runs[0].W[1] = null; }), 'r.json: cells[3].runs[0].W[1]: expected a number in -1000000..1000000, found null'],
    ['a neuron cell with a bad regime', () => edit((d) => { d.cells[1].neurons[2].regime = 'sleepy'; }, neuron), "r.json: cells[1].neurons[2].regime: expected one of monosemantic, polysemantic, dead, found 'sleepy'"],
  ])('%s: a named error', (_, make, message) => {
    expect(() => checkResults(make(), 'r.json')).toThrow(message);
  });

  it('a comparison file is bounded as its flags are before --verify trains it', () => {
    const thresholds = { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: DEFAULT_NEURON_THRESHOLDS };
    const comparison = { kind: 'comparison', experiment: 'feature-2x1', a: { label: '', config: tiny, thresholds }, b: { label: '--lr 0.1', config: { ...tiny, steps: 1e12 }, thresholds }, resamples: 2000 };
    expect(() => checkComparison(comparison, 'c.json')).toThrow('c.json: b.config.steps: expected an integer in 1..10000000, found 1000000000000');
    expect(() => checkComparison({ ...comparison, b: comparison.a, resamples: 1e9 }, 'c.json')).toThrow('c.json: resamples: expected an integer in 100..1000000, found 1000000000');
    expect(() => checkComparison({ ...comparison, b: { ...comparison.a, thresholds: { ...thresholds, feature: { ...DEFAULT_FEATURE_THRESHOLDS, normThreshold: -1 } } } }, 'c.json')).toThrow(/^c\.json: b\.thresholds\.feature\.normThreshold: expected a number in 0\.\.10, found -1$/);
  });

  it('--verify refuses a tampered file with a named error, before training anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sl-check-'));
    await writeReport(results, dir);
    const file = join(dir, 'results.json');
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    doc.config.steps = 1e12;
    writeFileSync(file, JSON.stringify(doc));
    await expect(verifyResults(dir)).rejects.toThrow(`${file}: config.steps: expected an integer in 1..10000000, found 1000000000000`);
    writeFileSync(file, '{"experiment": "feature-2x1", "con');
    await expect(verifyResults(dir)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
  });
});
