/**
 * One figure of the paper, regenerated: what the paper claims, the runs that test the claim, the plots, and
 * checks that pass or fail with the measured numbers. scripts/paper.ts runs a list of these and writes one report.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Figure } from '../phase/plots.ts';
import { sweepFromArgs } from '../phase/flags.ts';
import { assembleResults, trainSweep, type SweepResults, type SweepRuns } from '../phase/sweep.ts';
import type { Progress } from '../progress.ts';
import { describePreset, presetConfig, type PresetRun, type TrainDocument } from '../toy/presets.ts';
import { trainParallel } from '../toy/train-parallel.ts';

/** quick: minutes on 2 cores, smaller models and fewer steps; full: the paper's sizes and step counts. */
export type Scale = 'quick' | 'full';
export const SCALES: readonly Scale[] = ['quick', 'full'];

export interface PaperContext {
  scale: Scale;
  /** Worker threads for training (the same bytes for any number). */
  workers: number;
  /** Kernel backend name, as --backend takes it. */
  backend: string;
  seed: number;
  /** A progress bar for this figure's training, in units of `total`. */
  progress: (label: string, total: number) => Progress;
  /** Training that two figures share (geometry and adversarial): made once per run under `key`. */
  shared: <T>(key: string, make: () => Promise<T>) => Promise<T>;
}

/** A `shared` for one paper run: each key's promise, made on first use. */
export function sharedRuns(): PaperContext['shared'] {
  const made = new Map<string, Promise<unknown>>();
  return <T>(key: string, make: () => Promise<T>): Promise<T> => {
    if (!made.has(key)) made.set(key, make());
    return made.get(key) as Promise<T>;
  };
}

/**
 * A claim of the paper checked against a measurement. `pass` null: reported, not pass/fail (the paper gives no
 * number to hold it to, or the figure is descriptive).
 */
export interface Check {
  claim: string;
  measured: string;
  pass: boolean | null;
  /** A known disagreement with the paper, explained (a failed check still fails the run: it is not hidden). */
  note?: string;
}

export interface FigureOutput {
  /** Plots: [file name, title, Vega-Lite spec]. */
  figures: Figure[];
  checks: Check[];
  /** The settings the figure trained with (shown in the report). */
  settings: Record<string, unknown>;
  /** Everything needed to redraw or audit the figure (saved as NAME.json). */
  data: object;
}

export interface PaperFigure {
  name: string;
  /** The paper's section and its anchor on transformer-circuits.pub. */
  section: string;
  anchor: string;
  title: string;
  /** What the paper shows, in a sentence or two. */
  claim: string;
  /** Rough training time in seconds on 2 cores, for the overall ETA (quick: measured; full: estimated). */
  cost: Record<Scale, number>;
  /** The key of training this figure shares with others (they then run in one shard of a cluster job). */
  shares?: string;
  run: (ctx: PaperContext) => Promise<FigureOutput>;
}

/** Train a preset run over the context's workers, with a progress bar; the train.ts document of its models. */
export async function trainPresetRun(ctx: PaperContext, label: string, run: PresetRun): Promise<TrainDocument> {
  const config = presetConfig(run);
  const bar = ctx.progress(label, config.steps);
  const result = await trainParallel(config, { workers: ctx.workers, backend: ctx.backend }, (step) => bar.update(step + 1));
  bar.finish();
  return describePreset(run.experiment, config, result, run.monosemanticity);
}

/** Train one of phase-diagram.ts's sweeps (its flags as argv, defaults otherwise) and label it. */
export async function trainPhaseSweep(ctx: PaperContext, label: string, argv: readonly string[]): Promise<{ results: SweepResults; runs: SweepRuns }> {
  const { config, thresholds } = sweepFromArgs([...argv, '--seed', String(ctx.seed)]);
  const bar = ctx.progress(label, 1000);
  const runs = await trainSweep(config, { workers: ctx.workers, backend: ctx.backend, onProgress: (p) => bar.update(Math.floor((1000 * p.runSteps) / p.runStepsTotal)) });
  bar.finish();
  return { results: assembleResults(config, runs, thresholds), runs };
}

/** A number for a sentence: 3 significant digits. */
export const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(3))));

/** Ten colours that can be told apart (Tableau 10), for up to ten features named one by one. */
export const CATEGORY_COLORS = { scheme: 'tableau10' } as const;

/** The Vega-Lite header every figure shares. */
export const vl = (spec: object): TopLevelSpec => ({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', config: { view: { stroke: '#ddd' }, axis: { labelFontSize: 11, titleFontSize: 12 }, legend: { labelLimit: 300, titleLimit: 300 } }, ...spec }) as TopLevelSpec;

/** Feature i's direction W_i from a train.ts instance's W (m rows of n): [m]. */
export function featureRows(W: readonly (readonly number[])[]): number[][] {
  const [m, n] = [W.length, W[0].length];
  return Array.from({ length: n }, (_, i) => Array.from({ length: m }, (_, k) => W[k][i]));
}

/** The n x m row-major Float32Array of a train.ts instance's W (m x n), as the metrics read it. */
export function featureMajor(W: readonly (readonly number[])[]): Float32Array {
  return Float32Array.from(featureRows(W).flat());
}

export const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((s, v, k) => s + v * b[k], 0);
export const cosine = (a: readonly number[], b: readonly number[]): number => dot(a, b) / Math.sqrt(dot(a, a) * dot(b, b) || 1);

/** One panel of feature arrows: a 2-D model's feature directions, with a name per feature. */
export interface ArrowPanel {
  panel: string;
  /** W_i per feature ([n][2]). */
  rows: readonly (readonly number[])[];
  names: readonly string[];
}

/**
 * Small multiples of 2-D models, each feature an arrow from the origin to W_i, coloured by name (`scheme`: a
 * Vega colour scheme; 'paired' gives the two members of a pair one hue), hover for norm and angle.
 */
export function arrowFacets(title: string, subtitle: string, panels: readonly ArrowPanel[], scheme = 'tableau10', columns = 5): TopLevelSpec {
  const values = panels.flatMap((p) =>
    p.rows.flatMap((w, f) => {
      const info = { panel: p.panel, feature: p.names[f], norm: Number(Math.hypot(w[0], w[1]).toFixed(3)), angle: Number(((Math.atan2(w[1], w[0]) * 180) / Math.PI).toFixed(1)) };
      return [
        { ...info, x: 0, y: 0, end: 0 },
        { ...info, x: w[0], y: w[1], end: 1 },
      ];
    }),
  );
  const limit = Math.max(1.2, ...values.map((a) => Math.max(Math.abs(a.x), Math.abs(a.y)) * 1.05));
  const axis = (name: string) => ({ type: 'quantitative' as const, scale: { domain: [-limit, limit] }, title: name, axis: { tickCount: 5 } });
  const color = { field: 'feature', type: 'nominal' as const, scale: { scheme }, sort: null, title: 'feature' };
  return vl({
    title: { text: title, subtitle },
    data: { values },
    facet: { field: 'panel', type: 'nominal', sort: panels.map((p) => p.panel), title: null },
    columns,
    spec: {
      width: 150,
      height: 150,
      layer: [
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { x: { field: 'x', ...axis('h1') }, y: { field: 'y', ...axis('h2') }, detail: { field: 'feature' }, order: { field: 'end' }, color } },
        { transform: [{ filter: 'datum.end === 1' }], mark: { type: 'point', filled: true, size: 40 }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color, tooltip: [{ field: 'feature' }, { field: 'norm' }, { field: 'angle', title: 'angle (degrees)' }] } },
      ],
    },
  });
}

/** The panel name of a model at density d, as every figure names it. */
export const densityPanel = (d: number): string => `1 - S = ${fmt(d)}`;

/**
 * Small multiples of W^T W (one heat map per model, feature i against feature j): the diagonal is ||W_i||^2,
 * off it blue is overlap and red opposition. `ticks`: the feature numbers labelled (default: all).
 */
export function gramFacets(title: string, subtitle: string, panels: readonly { panel: string; rows: readonly (readonly number[])[] }[], options: { columns: number; size: number; limit: number; ticks?: number[] }): TopLevelSpec {
  const values = panels.flatMap((p) => p.rows.flatMap((a, i) => p.rows.map((b, j) => ({ panel: p.panel, i, j, value: Number(dot(a, b).toFixed(3)) }))));
  const axis = (name: string) => ({ title: name, ...(options.ticks ? { axis: { values: options.ticks } } : {}) });
  return vl({
    title: { text: title, subtitle },
    data: { values },
    facet: { field: 'panel', type: 'nominal', sort: panels.map((p) => p.panel), title: null },
    columns: options.columns,
    spec: {
      width: options.size,
      height: options.size,
      mark: 'rect',
      encoding: {
        x: { field: 'j', type: 'ordinal', ...axis('feature j') },
        y: { field: 'i', type: 'ordinal', ...axis('feature i') },
        color: { field: 'value', type: 'quantitative', scale: { scheme: 'redblue', domain: [-options.limit, options.limit] }, title: 'W_i . W_j' },
        tooltip: [{ field: 'i' }, { field: 'j' }, { field: 'value' }],
      },
    },
  });
}
