/**
 * The file readers under fuzzing (fast-check, fixed seed): valid documents mutated at random (truncated text,
 * a value swapped for another type, a huge or non-finite number, a prototype key, an entry dropped or doubled)
 * must come back as a valid result or fail with a ResultsFileError naming the source, never a raw TypeError or
 * RangeError, and quickly.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from '../../src/phase/classify.ts';
import { checkComparison, checkResults, checkRuns, ResultsFileError } from '../../src/phase/results-check.ts';
import { loadModel, saveModel } from '../../src/toy/io.ts';
import { ToyModel } from '../../src/toy/model.ts';
import { runSweep, trainSweep } from '../../src/phase/sweep.ts';
import { fcParams } from '../helpers.ts';

const tiny: SweepConfig = { experiment: 'feature-2x1', densities: logspace(0.05, 1, 2), importances: logspace(0.2, 5, 2), seeds: 2, steps: 10, batch: 16, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 1, init: 'per-instance', evalBatch: 64 };
const feature = JSON.parse(JSON.stringify(await runSweep(tiny, { workers: 1 })));
const neuron = JSON.parse(JSON.stringify(await runSweep({ ...tiny, experiment: 'neuron', densities: [1, 0.2], importances: [] }, { workers: 1 })));
const runs = JSON.parse(JSON.stringify(await trainSweep(tiny, { workers: 1 })));

/** Every path to a value in a JSON document. */
function paths(doc: unknown, at: (string | number)[] = []): (string | number)[][] {
  if (doc === null || typeof doc !== 'object') return [at];
  const keys = Array.isArray(doc) ? doc.map((_, i) => i) : Object.keys(doc);
  return [at, ...keys.flatMap((k) => paths((doc as Record<string | number, unknown>)[k], [...at, k]))];
}
const REPLACEMENTS: unknown[] = [null, true, 'x', '__proto__', -1, 0, 1e308, -1e308, 2 ** 53, 1.5, [], {}, [[]], { __proto__: { polluted: 1 } }, 'toString', 'constructor'];

/** A mutation of `doc`: a value replaced, a key deleted or added, an array entry doubled, two entries swapped. */
const mutated = (doc: unknown) =>
  fc.tuple(fc.nat(), fc.nat(), fc.constantFrom('replace', 'delete', 'prototype', 'double', 'swap')).map(([p, r, kind]) => {
    const copy = JSON.parse(JSON.stringify(doc));
    const all = paths(copy);
    const path = all[p % all.length];
    if (path.length === 0) return REPLACEMENTS[r % REPLACEMENTS.length];
    const parent = path.slice(0, -1).reduce((o: any, k) => o[k], copy);
    const key = path[path.length - 1];
    if (kind === 'replace') parent[key] = REPLACEMENTS[r % REPLACEMENTS.length];
    else if (kind === 'delete') Array.isArray(parent) ? parent.splice(Number(key), 1) : delete parent[key];
    else if (kind === 'swap') {
      // two entries of one array (runs of two seeds, two cells) or two fields of one object exchanged
      const keys = Array.isArray(parent) ? parent.map((_: unknown, i: number) => i) : Object.keys(parent);
      const other = keys[r % keys.length];
      [parent[key], parent[other]] = [parent[other], parent[key]];
    } else if (kind === 'prototype') Object.defineProperty(parent, ['__proto__', 'toString', 'hasOwnProperty'][r % 3], { value: 1, enumerable: true, configurable: true, writable: true });
    else if (Array.isArray(parent)) parent.push(parent[Number(key)]);
    else parent[`${String(key)}x`] = parent[key];
    return copy;
  });

/** Refusals seen (a fuzz run that refuses nothing would test nothing). */
let refused = 0;

/** Either a result or a ResultsFileError naming the source; never a raw error. */
function readsCleanly(read: () => unknown, source: string): void {
  const t0 = performance.now();
  try {
    read();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(ResultsFileError);
    expect((e as Error).message.startsWith(`${source}: `)).toBe(true);
    refused++;
  }
  expect(performance.now() - t0).toBeLessThan(2000);
}

describe('file readers under fuzzing', () => {
  it.each([['a feature sweep', feature], ['a neuron sweep', neuron]])('checkResults on mutated %s', (_, doc) => {
    refused = 0;
    fc.assert(fc.property(mutated(doc), (bad) => readsCleanly(() => checkResults(bad, 'f.json'), 'f.json')), { ...fcParams, numRuns: 300 });
    expect(refused).toBeGreaterThan(100); // many mutations break something the reader must see (others hit derived fields, re-derived)
  });

  it('checkResults on truncated text (as the readers parse it: a parse error is theirs to name)', () => {
    const text = JSON.stringify(feature);
    fc.assert(
      fc.property(fc.nat({ max: text.length - 1 }), (cut) => {
        let doc: unknown;
        try {
          doc = JSON.parse(text.slice(0, cut));
        } catch {
          return; // the readers wrap the parse error with the file's name (tested with each reader)
        }
        readsCleanly(() => checkResults(doc, 'f.json'), 'f.json');
      }),
      { ...fcParams, numRuns: 200 },
    );
  });

  it('checkComparison on mutated comparison files (what --verify would train)', () => {
    refused = 0;
    const thresholds = { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: DEFAULT_NEURON_THRESHOLDS };
    const comparison = { kind: 'comparison', experiment: 'feature-2x1', a: { label: '', config: tiny, thresholds }, b: { label: '--lr 0.1', config: { ...tiny, lr: 0.1 }, thresholds }, resamples: 2000 };
    fc.assert(fc.property(mutated(comparison), (bad) => readsCleanly(() => checkComparison(bad, 'c.json'), 'c.json')), { ...fcParams, numRuns: 300 });
    expect(refused).toBeGreaterThan(100);
  });

  it('loadModel on mutated saved models: a model or a TypeError naming the field, never another error', () => {
    let refusedModels = 0;
    const doc = JSON.parse(JSON.stringify(saveModel(new ToyModel({ kind: 'abs', instances: 2, features: 3, hidden: 2 }, null))));
    fc.assert(
      fc.property(mutated(doc), (bad) => {
        const t0 = performance.now();
        try {
          loadModel(bad);
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(TypeError);
          expect((e as Error).message, String(e)).toMatch(/^loadModel: (config\.model|instances)/);
          refusedModels++;
        }
        expect(performance.now() - t0).toBeLessThan(2000);
      }),
      { ...fcParams, numRuns: 300 },
    );
    expect(refusedModels).toBeGreaterThan(100);
  });

  it('checkRuns on mutated run tables (shards, partial.json)', () => {
    refused = 0;
    fc.assert(fc.property(mutated(runs), (bad) => readsCleanly(() => checkRuns(bad, tiny, 'p.json', 'cells'), 'p.json')), { ...fcParams, numRuns: 300 });
    expect(refused).toBeGreaterThan(150);
  });
});
