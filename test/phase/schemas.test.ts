/**
 * The published JSON Schemas (docs/schemas/, made by scripts/schemas.ts from the readers' own schemas) are
 * current, accept the files the toolkit writes, and refuse what the readers refuse; checked with ajv, an
 * independent JSON Schema validator.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from '../../scripts/schemas.ts';
import { logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { writeReport } from '../../src/phase/report.ts';
import { findShardFiles, writeShard } from '../../src/phase/shards.ts';
import { runSweep, trainSweep } from '../../src/phase/sweep.ts';
import { DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from '../../src/phase/classify.ts';

const files = schemaFiles();
const validator = (name: string) => new Ajv({ allErrors: false, strict: false }).compile(JSON.parse(files[`${name}.schema.json`]));
const tiny: SweepConfig = { experiment: 'feature-2x1', densities: logspace(0.05, 1, 3), importances: logspace(0.2, 5, 3), seeds: 2, steps: 20, batch: 32, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 7, init: 'per-instance', evalBatch: 256 };
const written = async (config: SweepConfig) => {
  const out = mkdtempSync(join(tmpdir(), 'schemas-'));
  await writeReport(await runSweep(config, { workers: 1 }), out);
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
};

describe('published JSON Schemas', () => {
  it('docs/schemas/ is what scripts/schemas.ts gives now', () => {
    for (const [name, text] of Object.entries(files)) expect(readFileSync(join('docs/schemas', name), 'utf8'), name).toBe(text);
  });

  it("accept the toolkit's results.json of a feature and a neuron sweep, and refuse one with steps 10^12", async () => {
    const feature = await written(tiny);
    const check = validator('results-feature-2x1');
    expect(check(feature), JSON.stringify(check.errors)).toBe(true);
    expect(check({ ...feature, config: { ...feature.config, steps: 1e12 } })).toBe(false);
    expect(check.errors![0]).toMatchObject({ instancePath: '/config/steps', keyword: 'maximum' });
    expect(check({ ...feature, experiment: 'toString' })).toBe(false);
    const neuron = await written({ ...tiny, experiment: 'neuron', densities: [1, 0.1], importances: [] });
    const checkNeuron = validator('results-neuron');
    expect(checkNeuron(neuron), JSON.stringify(checkNeuron.errors)).toBe(true);
    neuron.cells[0].neurons[0].regime = 'sleepy';
    expect(checkNeuron(neuron)).toBe(false);
  });

  it('accept a shard file and refuse one whose job hash is not a sha256', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'schemas-shard-'));
    const thresholds = { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: DEFAULT_NEURON_THRESHOLDS };
    writeShard(dir, { kind: 'sweep', config: tiny, thresholds }, { index: 0, count: 2 }, [await trainSweep(tiny, { workers: 1, shard: { index: 0, count: 2 } })]);
    const shard = JSON.parse(readFileSync(findShardFiles([dir])[0], 'utf8'));
    const check = validator('shard');
    expect(check(shard), JSON.stringify(check.errors)).toBe(true);
    expect(check({ ...shard, jobHash: 'x' })).toBe(false);
  });

  it("accept saveModel's documents of every kind, and refuse 10^9 instances", async () => {
    const { ToyModel, MODEL_KINDS } = await import('../../src/toy/model.ts');
    const { saveModel } = await import('../../src/toy/io.ts');
    const check = validator('model');
    for (const kind of MODEL_KINDS) {
      const doc = JSON.parse(JSON.stringify(saveModel(new ToyModel({ kind, instances: 2, features: 3, hidden: 2 }, null))));
      expect(check(doc), `${kind}: ${JSON.stringify(check.errors)}`).toBe(true);
      expect(check({ ...doc, config: { model: { ...doc.config.model, instances: 1e9 } } })).toBe(false);
    }
  });
});
