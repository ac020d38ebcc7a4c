/**
 * Reading a results.json that may be truncated, edited or hostile: every field is checked for its type and
 * bounded by the range of the flag that sets it (src/phase/flags.ts) before anything is drawn or trained from it,
 * the cells must be the configuration's, and what can be derived is derived again rather than read (the
 * agreement; for feature sweeps every label, from the runs' weights). An error names the source and the field.
 * No Node code: the explorer's import uses it as the command line does.
 */
import { AGGREGATIONS, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, type FeatureThresholds, type NeuronThresholds } from './classify.ts';
import { cellsOf, EXPERIMENTS, isFeatureExperiment, SHAPES, type ExperimentName, type SweepConfig } from './experiments.ts';
import { sweepFlags } from './flags.ts';
import { assembleResults, type SweepResults, type SweepRuns } from './results.ts';

export class ResultsFileError extends Error {
  override name = 'ResultsFileError';
}

/** The most cells a file may describe (the grid flag's 200 x 200). */
const MAX_CELLS = 200 * 200;

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks of one file: each names `source` and the field's path. */
function checker(source: string) {
  const fail = (path: string, what: string): never => {
    throw new ResultsFileError(`${source}: ${path}: ${what}`);
  };
  const show = (v: unknown): string => {
    const text = typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
    return text.length > 40 ? `${text.slice(0, 40)}...` : text;
  };
  return {
    fail,
    object(v: unknown, path: string): Json {
      return isObject(v) ? v : fail(path, `expected an object, found ${show(v)}`);
    },
    number(v: unknown, path: string, min: number, max: number, integer = false): number {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) fail(path, `expected ${integer ? 'an integer' : 'a number'} in ${min}..${max}, found ${show(v)}`);
      return v as number;
    },
    choice<T extends string>(v: unknown, path: string, choices: readonly T[]): T {
      if (typeof v !== 'string' || !choices.includes(v as T)) fail(path, `expected one of ${choices.join(', ')}, found ${show(v)}`);
      return v as T;
    },
    array(v: unknown, path: string, min: number, max: number): unknown[] {
      if (!Array.isArray(v)) fail(path, `expected an array, found ${show(v)}`);
      const a = v as unknown[];
      if (a.length < min || a.length > max) fail(path, `expected ${min === max ? min : `${min}..${max}`} entries, found ${a.length}`);
      return a;
    },
  };
}

/** The sweep configuration of a file, every field bounded as its flag is. */
function checkConfig(c: ReturnType<typeof checker>, raw: unknown, experiment: ExperimentName, at = 'config'): SweepConfig & { thresholds: unknown } {
  const o = c.object(raw, at);
  const f = sweepFlags(['--experiment', experiment]);
  const n = (key: string, flag: keyof typeof f) => {
    const spec = f[flag] as { min: number; max: number; integer?: boolean };
    return c.number(o[key], `${at}.${key}`, spec.min, spec.max, spec.integer);
  };
  const s = (key: string, flag: keyof typeof f) => c.choice(o[key], `${at}.${key}`, (f[flag] as { choices: readonly string[] }).choices);
  if (o.experiment !== experiment) c.fail(`${at}.experiment`, `is ${JSON.stringify(o.experiment)}, the file's experiment is '${experiment}'`);
  const feature = isFeatureExperiment(experiment);
  const densities = c.array(o.densities, `${at}.densities`, 1, 200).map((v, i) => c.number(v, `${at}.densities[${i}]`, Number.MIN_VALUE, 1));
  const importances = c.array(o.importances, `${at}.importances`, feature ? 1 : 0, feature ? 200 : 0).map((v, i) => c.number(v, `${at}.importances[${i}]`, Number.MIN_VALUE, 1e6));
  return {
    experiment,
    densities,
    importances,
    seeds: n('seeds', 'seeds'),
    steps: n('steps', 'steps'),
    batch: n('batch', 'batch'),
    lr: n('lr', 'lr'),
    optimizer: s('optimizer', 'optimizer') as SweepConfig['optimizer'],
    schedule: s('schedule', 'schedule') as SweepConfig['schedule'],
    seed: n('seed', 'seed'),
    init: s('init', 'init') as SweepConfig['init'],
    evalBatch: n('evalBatch', 'eval-batch'),
    thresholds: o.thresholds,
  };
}

function checkThresholds(c: ReturnType<typeof checker>, raw: unknown, feature: boolean): { feature: FeatureThresholds; neuron: NeuronThresholds } {
  const o = c.object(raw, 'config.thresholds');
  if (feature || 'normThreshold' in o) {
    const t: FeatureThresholds = {
      normThreshold: c.number(o.normThreshold, 'config.thresholds.normThreshold', 0, 10),
      superpositionThreshold: c.number(o.superpositionThreshold, 'config.thresholds.superpositionThreshold', 0, 10),
      aggregation: c.choice(o.aggregation, 'config.thresholds.aggregation', AGGREGATIONS),
    };
    return { feature: t, neuron: DEFAULT_NEURON_THRESHOLDS };
  }
  const t: NeuronThresholds = {
    monosemanticity: c.number(o.monosemanticity, 'config.thresholds.monosemanticity', 0, 1),
    deadNorm: c.number(o.deadNorm, 'config.thresholds.deadNorm', 0, 10),
    usage: c.number(o.usage, 'config.thresholds.usage', 0, 1),
  };
  return { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: t };
}

/**
 * A results.json document (parsed JSON) as SweepResults, or a ResultsFileError naming `source` and the field.
 * Feature sweeps come back re-derived from their runs' weights and losses (labels, theory, agreement); density
 * sweeps as read, their fields checked and the cell list the configuration's.
 */
export function checkResults(doc: unknown, source: string): SweepResults {
  const c = checker(source);
  const o = c.object(doc, 'the document');
  const experiment = c.choice(o.experiment, 'experiment', EXPERIMENTS);
  const config = checkConfig(c, o.config, experiment);
  const feature = isFeatureExperiment(experiment);
  const thresholds = checkThresholds(c, config.thresholds, feature);
  const cells = cellsOf(config);
  if (cells.length > MAX_CELLS) c.fail('config', `describes ${cells.length} cells, more than ${MAX_CELLS}`);
  const fileCells = c.array(o.cells, 'cells', cells.length, cells.length);
  const { features: n, hidden: m } = SHAPES[experiment];
  if (feature) {
    // Every run's weights are in the file: rebuild the raw runs and derive everything else again.
    const runs: SweepRuns = {};
    fileCells.forEach((raw, i) => {
      const cell = c.object(raw, `cells[${i}]`);
      if (cell.density !== cells[i].density || cell.importance !== cells[i].importance) c.fail(`cells[${i}]`, `is at density ${JSON.stringify(cell.density)}, importance ${JSON.stringify(cell.importance)}; the configuration puts cell ${i} at ${cells[i].density}, ${cells[i].importance}`);
      runs[i] = c.array(cell.runs, `cells[${i}].runs`, config.seeds, config.seeds).map((rawRun, k) => {
        const r = c.object(rawRun, `cells[${i}].runs[${k}]`);
        const at = `cells[${i}].runs[${k}]`;
        return {
          k: c.number(r.seed, `${at}.seed`, 0, config.seeds - 1, true),
          loss: c.number(r.loss, `${at}.loss`, 0, Number.MAX_VALUE),
          W: c.array(r.W, `${at}.W`, n * m, n * m).map((v, q) => c.number(v, `${at}.W[${q}]`, -1e6, 1e6)),
          W2: null,
          b: c.array(r.b, `${at}.b`, n, n).map((v, q) => c.number(v, `${at}.b[${q}]`, -1e6, 1e6)),
        };
      });
    });
    const { thresholds: _t, ...sweep } = config;
    const { warnings: _w, ...derived } = assembleResults(sweep, runs, thresholds);
    return withWarnings(derived, c, o.warnings, cells.length, config.seeds);
  }
  fileCells.forEach((raw, i) => {
    const cell = c.object(raw, `cells[${i}]`);
    const at = `cells[${i}]`;
    if (cell.density !== cells[i].density) c.fail(`${at}.density`, `is ${JSON.stringify(cell.density)}; the configuration puts cell ${i} at ${cells[i].density}`);
    c.number(cell.loss, `${at}.loss`, 0, Number.MAX_VALUE);
    c.number(cell.bestSeed, `${at}.bestSeed`, 0, config.seeds - 1, true);
    c.array(cell.runs, `${at}.runs`, config.seeds, config.seeds).forEach((rawRun, k) => c.number(c.object(rawRun, `${at}.runs[${k}]`).loss, `${at}.runs[${k}].loss`, 0, Number.MAX_VALUE));
    if (experiment === 'intro') {
      c.number(cell.represented, `${at}.represented`, 0, n, true);
      c.array(cell.norms, `${at}.norms`, n, n).forEach((v, q) => c.number(v, `${at}.norms[${q}]`, 0, 1e6));
      c.array(cell.superposition, `${at}.superposition`, n, n).forEach((v, q) => c.number(v, `${at}.superposition[${q}]`, 0, 1e6));
    } else {
      c.number(cell.monosemantic, `${at}.monosemantic`, 0, m, true);
      c.number(cell.polysemantic, `${at}.polysemantic`, 0, m, true);
      c.array(cell.neurons, `${at}.neurons`, m, m).forEach((rawNeuron, j) => {
        const neuron = c.object(rawNeuron, `${at}.neurons[${j}]`);
        c.choice(neuron.regime, `${at}.neurons[${j}].regime`, ['monosemantic', 'polysemantic', 'dead']);
        c.number(neuron.monosemanticity, `${at}.neurons[${j}].monosemanticity`, 0, 1);
        c.number(neuron.topFeature, `${at}.neurons[${j}].topFeature`, 0, n - 1, true);
        c.array(neuron.weights, `${at}.neurons[${j}].weights`, n, n).forEach((v, q) => c.number(v, `${at}.neurons[${j}].weights[${q}]`, -1e6, 1e6));
      });
      c.array(cell.featureNeurons, `${at}.featureNeurons`, n, n).forEach((list, f) => c.array(list, `${at}.featureNeurons[${f}]`, 0, m).forEach((v, q) => c.number(v, `${at}.featureNeurons[${f}][${q}]`, 0, m - 1, true)));
    }
  });
  const { thresholds: _t, ...sweep } = config;
  const used = experiment === 'intro' ? thresholds.feature : thresholds.neuron;
  return withWarnings({ experiment, config: { ...sweep, thresholds: used }, cells: fileCells as SweepResults['cells'], agreement: null }, c, o.warnings, cells.length, config.seeds);
}

/** The file's run warnings, each checked, on the results (they come from training: nothing derives them). */
function withWarnings(results: SweepResults, c: ReturnType<typeof checker>, raw: unknown, cellCount: number, seeds: number): SweepResults {
  if (raw === undefined) return results;
  const warnings = c.array(raw, 'warnings', 1, cellCount * seeds).map((w, i) => {
    const o = c.object(w, `warnings[${i}]`);
    const cell = c.number(o.cell, `warnings[${i}].cell`, 0, cellCount - 1, true);
    if (typeof o.message !== 'string' || o.message.length > 1000) c.fail(`warnings[${i}].message`, 'expected a string of at most 1000 characters');
    return { cell, k: c.number(o.k, `warnings[${i}].k`, 0, seeds - 1, true), density: c.number(o.density, `warnings[${i}].density`, Number.MIN_VALUE, 1), importance: o.importance === null ? null : c.number(o.importance, `warnings[${i}].importance`, Number.MIN_VALUE, 1e6), message: o.message as string };
  });
  return { ...results, warnings };
}

/**
 * What a comparison file (compare.ts) would make --verify train: both variants' configurations, bounded as
 * their flags are (an edited file cannot make the re-run train 10^12 steps). The results inside
 * are re-derived by the re-run itself.
 */
export function checkComparison(doc: unknown, source: string): void {
  const c = checker(source);
  const o = c.object(doc, 'the document');
  const experiment = c.choice(o.experiment, 'experiment', EXPERIMENTS);
  for (const side of ['a', 'b'] as const) {
    const variant = c.object(o[side], side);
    checkConfig(c, variant.config, experiment, `${side}.config`);
  }
  c.number(o.resamples, 'resamples', 100, 1e6, true); // compare.ts's --resamples range
}

/**
 * A table of raw runs read from a shard or a partial.json: only cells of `config` (and, with `cells`, exactly
 * those), each with every seed's run once, its loss finite and its weights of the model's sizes.
 */
export function checkRuns(raw: unknown, config: SweepConfig, source: string, at: string, cells?: readonly number[]): SweepRuns {
  const c = checker(source);
  const table = c.object(raw, at);
  const all = cellsOf(config);
  const { features: n, hidden: m, kind } = SHAPES[config.experiment];
  const keys = Object.keys(table);
  for (const key of keys) {
    if (!/^\d+$/.test(key) || Number(key) >= all.length) c.fail(`${at}`, `holds cell ${JSON.stringify(key)}, not a cell of this sweep (0..${all.length - 1})`);
  }
  if (cells) {
    const missing = cells.filter((i) => !(String(i) in table));
    if (missing.length || keys.length !== cells.length) c.fail(at, `holds cells [${keys.slice(0, 20).join(', ')}${keys.length > 20 ? ', ...' : ''}], expected [${cells.slice(0, 20).join(', ')}${cells.length > 20 ? ', ...' : ''}]`);
  }
  const out: SweepRuns = {};
  for (const key of keys) {
    const seen = new Set<number>();
    out[key] = c.array(table[key], `${at}[${key}]`, config.seeds, config.seeds).map((rawRun, j) => {
      const p = `${at}[${key}][${j}]`;
      const r = c.object(rawRun, p);
      const k = c.number(r.k, `${p}.k`, 0, config.seeds - 1, true);
      if (seen.has(k)) c.fail(`${p}.k`, `seed ${k} appears twice in cell ${key}`);
      seen.add(k);
      const weights = (v: unknown, name: string, length: number) => c.array(v, `${p}.${name}`, length, length).map((x, q) => c.number(x, `${p}.${name}[${q}]`, -1e30, 1e30));
      if (r.warning !== undefined && (typeof r.warning !== 'string' || r.warning.length > 1000)) c.fail(`${p}.warning`, 'expected a string of at most 1000 characters');
      return {
        k,
        loss: c.number(r.loss, `${p}.loss`, 0, Number.MAX_VALUE),
        W: weights(r.W, 'W', n * m),
        W2: kind === 'abs' ? weights(r.W2, 'W2', m * n) : r.W2 === null ? null : c.fail(`${p}.W2`, 'expected null (only the |x| model has a second layer)'),
        b: weights(r.b, 'b', n),
        ...(typeof r.warning === 'string' ? { warning: r.warning } : {}),
      };
    });
  }
  return out;
}

/** A sweep configuration read from a file (a shard's job, a partial.json's sweep), bounded as its flags are. */
export function checkSweepConfig(raw: unknown, source: string, at: string): SweepConfig {
  const c = checker(source);
  const o = c.object(raw, at);
  const experiment = c.choice(o.experiment, `${at}.experiment`, EXPERIMENTS);
  const { thresholds: _t, ...config } = checkConfig(c, { ...o, thresholds: undefined }, experiment, at);
  if (cellsOf(config).length > MAX_CELLS) c.fail(at, `describes ${cellsOf(config).length} cells, more than ${MAX_CELLS}`);
  return config;
}

/** Labelling thresholds read from a file, bounded as their flags are. */
export function checkThresholdsIn(raw: unknown, source: string, at: string, experiment: ExperimentName): { feature: FeatureThresholds; neuron: NeuronThresholds } {
  const c = checker(source);
  const o = c.object(raw, at);
  // A job's thresholds hold both kinds; a results file's config only its experiment's.
  const both = 'feature' in o || 'neuron' in o;
  if (!both) return checkThresholds(c, raw, isFeatureExperiment(experiment) || experiment === 'intro');
  return { feature: checkThresholds(c, o.feature, true).feature, neuron: checkThresholds(c, o.neuron, false).neuron };
}

