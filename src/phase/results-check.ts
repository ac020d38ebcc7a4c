/**
 * Reading the files the toolkit writes (results.json, comparisons, shards, partial.json) when they may be
 * truncated, edited or hostile. Each format is a valibot schema (built from src/schema.ts), declared once here and used by every reader
 * (merge, --resume, --verify, the explorer's import): every field is typed and bounded by the range of the flag
 * that sets it (src/phase/flags.ts), arrays by the sizes the file's own configuration implies, before anything is
 * allocated or trained from the file. What can be derived is derived again and checked (for feature sweeps every
 * label, theory and norm against the runs' weights); the agreement is recomputed. An error names the source and
 * the field. publishedSchemas() gives the whole documents for docs/schemas/ (scripts/schemas.ts).
 *
 * valibot over zod or ajv (measured with esbuild, minified, one small schema: valibot 5.4 KB (1.9 KB gzipped),
 * ~13 ms to load and run in Node; zod 4 454 KB (93 KB gzipped), ~60 ms): the explorer ships it to the browser.
 * No Node code.
 */
import * as v from 'valibot';
import { aggregateRuns, AGGREGATIONS, type FeatureThresholds, type NeuronThresholds, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS } from './classify.ts';
import { cellsOf, EXPERIMENTS, isFeatureExperiment, SHAPES, type ExperimentName, type SweepConfig } from './experiments.ts';
import { sweepFlags } from './flags.ts';
import { list, num, oneOf, parseOrThrow, record, show, sized, text, type Count } from '../schema.ts';
import { agreementOf, assembleResults, type FeatureCell, type RunWarning, type SweepResults, type SweepRuns } from './results.ts';

export class ResultsFileError extends Error {
  override name = 'ResultsFileError';
}

/** The most cells a file may describe (the grid flag's 200 x 200). */
const MAX_CELLS = 200 * 200;

/** Parse `doc` with `schema`, or throw a ResultsFileError naming the source and the first failing field. */
function parse<T extends v.GenericSchema>(schema: T, doc: unknown, source: string, root = ''): v.InferOutput<T> {
  return parseOrThrow(schema, doc, (message) => new ResultsFileError(message), source, root);
}

// --- the formats --------------------------------------------------------------------------------------------------

/** A sweep configuration of `experiment`: every field in the range of its flag. */
function configEntries(experiment: ExperimentName) {
  const f = sweepFlags(['--experiment', experiment]);
  const flag = (name: keyof typeof f) => {
    const spec = f[name] as { min?: number; max?: number; integer?: boolean; choices?: readonly string[] };
    return spec.choices ? oneOf(spec.choices) : num(spec.min!, spec.max!, spec.integer);
  };
  const feature = isFeatureExperiment(experiment);
  return {
    experiment: v.literal(experiment, (issue) => `is ${show(issue.input)}, the file's experiment is '${experiment}'`),
    densities: list(num(Number.MIN_VALUE, 1), 1, 200),
    importances: list(num(Number.MIN_VALUE, 1e6), feature ? 1 : 0, feature ? 200 : 0),
    seeds: flag('seeds'),
    steps: flag('steps'),
    batch: flag('batch'),
    lr: flag('lr'),
    optimizer: flag('optimizer'),
    schedule: flag('schedule'),
    seed: flag('seed'),
    init: flag('init'),
    evalBatch: flag('eval-batch'),
  };
}
const configSchema = (experiment: ExperimentName) => record(configEntries(experiment));

const featureThresholds = record({ normThreshold: num(0, 10), superpositionThreshold: num(0, 10), aggregation: oneOf(AGGREGATIONS) });
const neuronThresholds = record({ monosemanticity: num(0, 1), deadNorm: num(0, 10), usage: num(0, 1) });
/** The thresholds a results file's config holds: its experiment's kind (the feature kind for intro). */
const thresholdsOf = (experiment: ExperimentName) => (isFeatureExperiment(experiment) || experiment === 'intro' ? featureThresholds : neuronThresholds);

/** A sweep configuration read from a file, bounded as its flags are. */
function sweepConfig(doc: unknown, source: string, at: string): SweepConfig {
  const experiment = parse(record({ experiment: oneOf(EXPERIMENTS) }), doc, source, at).experiment;
  const { experiment: _e, densities, importances, seeds, steps, batch, lr, optimizer, schedule, seed, init, evalBatch } = parse(configSchema(experiment), doc, source, at);
  const n = (x: unknown) => x as number; // the flag's kind: a number field of a number flag
  const config: SweepConfig = { experiment, densities, importances, seeds: n(seeds), steps: n(steps), batch: n(batch), lr: n(lr), optimizer: optimizer as SweepConfig['optimizer'], schedule: schedule as SweepConfig['schedule'], seed: n(seed), init: init as SweepConfig['init'], evalBatch: n(evalBatch) };
  const cells = cellsOf(config).length;
  if (cells > MAX_CELLS) throw new ResultsFileError(`${source}: ${at}: describes ${cells} cells, more than ${MAX_CELLS}`);
  return config;
}

/** One cell's saved runs (shards, partial.json): every seed once, finite losses, weights of the model's sizes. */
function runsSchema(config: SweepConfig, seeds: Count = config.seeds) {
  const { features: n, hidden: m, kind } = SHAPES[config.experiment];
  const weights = (length: number) => list(num(-1e30, 1e30), length);
  const run = record({
    k: num(0, config.seeds - 1, true),
    loss: num(0, Number.MAX_VALUE),
    W: weights(n * m),
    W2: kind === 'abs' ? weights(m * n) : v.null_(() => 'expected null (only the |x| model has a second layer)'),
    b: weights(n),
    warning: v.optional(text(1000)),
  });
  return v.pipe(
    sized(run, seeds),
    v.check((runs) => new Set(runs.map((r) => r.k)).size === runs.length, () => 'a seed index appears twice'),
  );
}

/** The warnings a file lists (they come from training: nothing derives them). */
const warningsSchema = (cells: number, seeds: number) =>
  v.optional(
    list(record({ cell: num(0, cells - 1, true), k: num(0, seeds - 1, true), density: num(Number.MIN_VALUE, 1), importance: v.union([v.null_(), num(Number.MIN_VALUE, 1e6)], (issue) => `expected null or a number in 5e-324..1000000, found ${show(issue.input)}`), message: text(1000) }), 1, cells * seeds),
  );

/** The cells of a feature sweep: every run's seed, loss, label, measures and weights. */
function featureCellsSchema(config: SweepConfig, cells: Count, seeds: Count = config.seeds) {
  const { features: n, hidden: m } = SHAPES[config.experiment];
  const regime = oneOf(['not-represented', 'superposition', 'dedicated'] as const);
  const run = record({ seed: num(0, config.seeds - 1, true), loss: num(0, Number.MAX_VALUE), regime, norm: num(0, 1e6), superposition: num(0, 1e12), W: list(num(-1e6, 1e6), n * m), b: list(num(-1e6, 1e6), n) });
  const cell = record({ density: num(Number.MIN_VALUE, 1), importance: num(Number.MIN_VALUE, 1e6), regime, theory: regime, loss: num(0, Number.MAX_VALUE), nearBoundary: v.boolean(() => 'expected true or false'), runs: sized(run, seeds) });
  return sized(cell, cells);
}

/** The cells of a density sweep (neuron, computation, intro): the best model's labels and every run's loss. */
function densityCellsSchema(config: SweepConfig, cells: Count, seeds: Count = config.seeds) {
  const { features: n, hidden: m } = SHAPES[config.experiment];
  const common = { density: num(Number.MIN_VALUE, 1), loss: num(0, Number.MAX_VALUE), bestSeed: num(0, config.seeds - 1, true), runs: sized(record({ loss: num(0, Number.MAX_VALUE) }), seeds) };
  if (config.experiment === 'intro') {
    return sized(record({ ...common, represented: num(0, n, true), norms: list(num(0, 1e6), n), superposition: list(num(0, 1e6), n), W: v.optional(list(num(-1e6, 1e6), n * m)) }), cells);
  }
  const neuron = record({ regime: oneOf(['monosemantic', 'polysemantic', 'dead']), monosemanticity: num(0, 1), topFeature: num(0, n - 1, true), weights: list(num(-1e6, 1e6), n) });
  return sized(record({ ...common, monosemantic: num(0, m, true), polysemantic: num(0, m, true), neurons: list(neuron, m), featureNeurons: list(list(num(0, m - 1, true), 0, m), n) }), cells);
}

// --- the formats as whole documents, for publication -------------------------------------------------------------

const MAX_SEEDS = 1000; // --seeds' range
const manifestSchema = record({
  package: text(200), gitCommit: v.nullable(text(200)), backend: text(200), trainer: v.optional(text(200)), dataStream: v.optional(text(200)),
  node: text(200), configHash: text(64), resultsHash: text(64),
});
/** The runs of one cell as shards and partial.json hold them, keyed by cell index, for any experiment. */
const runsTableOf = (experiment: ExperimentName) => v.record(v.pipe(v.string(), v.regex(/^\d+$/)), runsSchema({ experiment, seeds: MAX_SEEDS } as SweepConfig, [1, MAX_SEEDS]));
const anyOf = <T extends v.GenericSchema>(schemas: T[]) => v.union(schemas);

/**
 * Every format read back, as a whole document with the sizes a configuration would fix left to the flags'
 * ranges: the same schemas the readers use, for other tools (scripts/schemas.ts writes them to docs/schemas/ as
 * JSON Schema). The readers also check what no JSON Schema can say (a cell at the position its density and
 * importance give, labels that match the weights).
 */
export function publishedSchemas(shardFormat: string, maxShards: number): Record<string, v.GenericSchema> {
  const schemas: Record<string, v.GenericSchema> = {};
  for (const experiment of EXPERIMENTS) {
    const generic = { experiment, seeds: MAX_SEEDS } as SweepConfig; // what the cell schemas read of a configuration
    const feature = isFeatureExperiment(experiment);
    schemas[`results-${experiment}`] = record({
      experiment: v.literal(experiment),
      config: record({ ...configEntries(experiment), thresholds: thresholdsOf(experiment) }),
      cells: feature ? featureCellsSchema(generic, [1, MAX_CELLS], [1, MAX_SEEDS]) : densityCellsSchema(generic, [1, MAX_CELLS], [1, MAX_SEEDS]),
      agreement: feature ? record({ all: v.nullable(num(0, 1)), awayFromBoundary: v.nullable(num(0, 1)), cells: num(0, MAX_CELLS, true), cellsAway: num(0, MAX_CELLS, true) }) : v.null_(),
      warnings: warningsSchema(MAX_CELLS, MAX_SEEDS),
      manifest: manifestSchema,
    });
  }
  const anyConfig = anyOf(EXPERIMENTS.map((e) => configSchema(e)));
  const bothThresholds = record({ feature: featureThresholds, neuron: neuronThresholds });
  const variant = record({ label: text(10_000), config: anyConfig, thresholds: bothThresholds });
  schemas.comparison = record({ kind: v.literal('comparison'), experiment: oneOf(EXPERIMENTS), a: variant, b: variant, resamples: num(100, 1e6, true), manifest: manifestSchema });
  schemas.shard = record({
    format: v.literal(shardFormat),
    job: anyOf([
      record({ kind: v.literal('sweep'), config: anyConfig, thresholds: bothThresholds }),
      record({ kind: v.literal('comparison'), a: variant, b: variant, resamples: num(100, 1e6, true) }),
    ]),
    jobHash: v.pipe(v.string(), v.regex(/^[0-9a-f]{64}$/)),
    shard: record({ index: num(0, maxShards - 1, true), count: num(1, maxShards, true) }),
    runs: list(anyOf(EXPERIMENTS.map(runsTableOf)), 1, 2),
    manifest: manifestSchema,
  });
  schemas.partial = record({ configHash: text(64), backend: v.optional(text(200)), cells: anyOf(EXPERIMENTS.map(runsTableOf)) });
  return schemas;
}

// --- the readers --------------------------------------------------------------------------------------------------

/**
 * A results.json document (parsed JSON) as SweepResults, or a ResultsFileError naming `source` and the field.
 * Feature sweeps: every label derived again from the runs' weights and required to agree with the file's, the
 * agreement derived from the cells; density sweeps: every field checked, the cell list the configuration's.
 * A valid file comes back as written (its bytes), the agreement excepted.
 */
export function checkResults(doc: unknown, source: string): SweepResults {
  parse(record({}), doc, source);
  const o = doc as Record<string, unknown>;
  const experiment = parse(oneOf(EXPERIMENTS), o.experiment, source, 'experiment');
  const config = sweepConfig(o.config, source, 'config');
  parse(record({ thresholds: thresholdsOf(experiment) }), o.config, source, 'config');
  // Checked; kept as written (valibot's output orders an object's keys its own way, and bytes matter here).
  const thresholds = (o.config as { thresholds: FeatureThresholds | NeuronThresholds }).thresholds;
  const cells = cellsOf(config);
  parse(warningsSchema(cells.length, config.seeds), o.warnings, source, 'warnings');
  const warnings = o.warnings as RunWarning[] | undefined;
  const withWarnings = (r: SweepResults): SweepResults => {
    const { warnings: _w, ...rest } = r;
    return warnings ? { ...rest, warnings } : rest;
  };
  if (isFeatureExperiment(experiment)) {
    const fileCells = parse(featureCellsSchema(config, cells.length), o.cells, source, 'cells');
    // Every run's weights are in the file: derive every label again and require the file's to agree. The file
    // keeps weights to 7 significant digits, so its measures are compared within that, and each run's label
    // with the one its own measures give (a measure within rounding of a threshold must not flip it).
    const runs: SweepRuns = {};
    fileCells.forEach((cell, i) => {
      if (cell.density !== cells[i].density || cell.importance !== cells[i].importance) {
        throw new ResultsFileError(`${source}: cells[${i}]: is at density ${cell.density}, importance ${cell.importance}; the configuration puts cell ${i} at ${cells[i].density}, ${cells[i].importance}`);
      }
      runs[i] = cell.runs.map((r) => ({ k: r.seed, loss: r.loss, W: r.W, W2: null, b: r.b }));
    });
    const t = thresholds as FeatureThresholds;
    const derived = assembleResults(config, runs, { feature: t }).cells as FeatureCell[];
    const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * Math.max(1, Math.abs(b));
    fileCells.forEach((cell, i) => {
      const at = `${source}: cells[${i}]`;
      const d = derived[i];
      if (cell.theory !== d.theory) throw new ResultsFileError(`${at}.theory: is '${cell.theory}', the theory gives '${d.theory}' there`);
      if (cell.nearBoundary !== d.nearBoundary) throw new ResultsFileError(`${at}.nearBoundary: is ${cell.nearBoundary}, the grid gives ${d.nearBoundary}`);
      cell.runs.forEach((r, k) => {
        const dr = d.runs[k];
        if (!close(r.norm, dr.norm) || !close(r.superposition, dr.superposition)) throw new ResultsFileError(`${at}.runs[${k}]: norm ${r.norm} and superposition ${r.superposition} do not match its weights (${dr.norm}, ${dr.superposition})`);
        const own = r.norm < t.normThreshold ? 'not-represented' : r.superposition < t.superpositionThreshold ? 'dedicated' : 'superposition';
        if (r.regime !== own) throw new ResultsFileError(`${at}.runs[${k}].regime: is '${r.regime}', its norm and superposition make it '${own}'`);
      });
      const agg = aggregateRuns(cell.runs, t.aggregation);
      if (cell.regime !== agg.regime || cell.loss !== agg.loss) throw new ResultsFileError(`${at}: regime '${cell.regime}' and loss ${cell.loss}, its runs make them '${agg.regime}' and ${agg.loss} (aggregation '${t.aggregation}')`);
    });
    // Checked; kept as written (bytes matter: an import and an export must give the file back), the agreement
    // derived from the cells.
    const kept = o.cells as FeatureCell[];
    return withWarnings({ experiment, config: { ...config, thresholds }, cells: kept, agreement: agreementOf(kept) });
  }
  const fileCells = parse(densityCellsSchema(config, cells.length), o.cells, source, 'cells');
  fileCells.forEach((cell, i) => {
    if (cell.density !== cells[i].density) throw new ResultsFileError(`${source}: cells[${i}].density: is ${cell.density}; the configuration puts cell ${i} at ${cells[i].density}`);
  });
  // Checked; the cells kept as written (see thresholds above).
  return withWarnings({ experiment, config: { ...config, thresholds }, cells: o.cells as SweepResults['cells'], agreement: null });
}

/**
 * What a comparison file (compare.ts) would make --verify train: both variants' configurations, bounded as
 * their flags are (an edited file cannot make the re-run train 10^12 steps). The results inside are re-derived
 * by the re-run itself.
 */
export function checkComparison(doc: unknown, source: string): void {
  parse(record({ experiment: oneOf(EXPERIMENTS), a: record({}), b: record({}), resamples: num(100, 1e6, true) }), doc, source); // compare.ts's --resamples range
  const o = doc as { experiment: string; a: { config: unknown }; b: { config: unknown } };
  for (const side of ['a', 'b'] as const) {
    const config = sweepConfig(o[side].config, source, `${side}.config`);
    if (config.experiment !== o.experiment) throw new ResultsFileError(`${source}: ${side}.config.experiment: is '${config.experiment}', the file's experiment is '${o.experiment}'`);
    checkThresholdsIn((o[side] as { thresholds?: unknown }).thresholds, source, `${side}.thresholds`, config.experiment);
  }
}

/**
 * A table of raw runs read from a shard or a partial.json: only cells of `config` (and, with `cells`, exactly
 * those), each with every seed's run once, its loss finite and its weights of the model's sizes.
 */
export function checkRuns(raw: unknown, config: SweepConfig, source: string, at: string, cells?: readonly number[]): SweepRuns {
  const table = parse(record({}), raw, source, at) as Record<string, unknown>;
  const all = cellsOf(config).length;
  const keys = Object.keys(table);
  const stray = keys.find((key) => !/^\d+$/.test(key) || Number(key) >= all);
  if (stray !== undefined) throw new ResultsFileError(`${source}: ${at}: holds cell ${JSON.stringify(stray)}, not a cell of this sweep (0..${all - 1})`);
  if (cells && (keys.length !== cells.length || cells.some((i) => !(String(i) in table)))) {
    const shown = (xs: readonly (string | number)[]) => `${xs.slice(0, 20).join(', ')}${xs.length > 20 ? ', ...' : ''}`;
    throw new ResultsFileError(`${source}: ${at}: holds cells [${shown(keys)}], expected [${shown(cells)}]`);
  }
  const schema = runsSchema(config);
  const out: SweepRuns = {};
  for (const key of keys) {
    out[key] = parse(schema, table[key], source, `${at}[${key}]`).map(({ k, loss, W, W2, b, warning }) => ({ k, loss, W, W2, b, ...(warning === undefined ? {} : { warning }) }));
  }
  return out;
}

/** A sweep configuration read from a file (a shard's job), bounded as its flags are. */
export function checkSweepConfig(raw: unknown, source: string, at: string): SweepConfig {
  return sweepConfig(raw, source, at);
}

/**
 * Labelling thresholds read from a file, bounded as their flags are: a job's hold both kinds ({feature,
 * neuron}); a results file's config only its experiment's.
 */
export function checkThresholdsIn(raw: unknown, source: string, at: string, experiment: ExperimentName): { feature: FeatureThresholds; neuron: NeuronThresholds } {
  const o = parse(record({}), raw, source, at);
  if (!('feature' in o) && !('neuron' in o)) {
    const t = parse(thresholdsOf(experiment), raw, source, at);
    return isFeatureExperiment(experiment) || experiment === 'intro' ? { feature: t as FeatureThresholds, neuron: DEFAULT_NEURON_THRESHOLDS } : { feature: DEFAULT_FEATURE_THRESHOLDS, neuron: t as NeuronThresholds };
  }
  const both = parse(record({ feature: featureThresholds, neuron: neuronThresholds }), raw, source, at);
  return { feature: both.feature as FeatureThresholds, neuron: both.neuron as NeuronThresholds };
}
