/**
 * Vega-Lite specs of the phase diagrams, built from a results object. Colours follow Wattenberg's theory
 * notebook: grey = the extra feature is not represented, red = superposition, blue = a dedicated dimension.
 */
import type { TopLevelSpec } from 'vega-lite';
import type { Comparison } from './compare.ts';
import { isFeatureExperiment, SHAPES } from './experiments.ts';
import type { FeatureCell, GeometryCell, NeuronCell, SweepResults } from './results.ts';
import { boundaryCurves, FEATURE_REGIMES, type FeatureExperiment, type FeatureRegime } from './theory.ts';

const REGIME_COLORS = ['#cccccc', '#dd4444', '#2255bb'];
const NEURON_COLORS = { domain: ['monosemantic', 'polysemantic', 'dead'], range: ['#2255bb', '#dd4444', '#cccccc'] };

/** Geometric cell bounds for a log-spaced axis value list. */
function bounds(values: readonly number[], v: number): [number, number] {
  const ratio = values.length > 1 ? Math.sqrt(values[1] / values[0]) : 1.5;
  return [v / ratio, v * ratio];
}

/** The named data set of a phase diagram that holds the explorer's selected cell. */
export const SELECTED_CELL = 'selected-cell';

/**
 * A feature sweep's grid as plots draw it: each cell's rectangle (log-spaced edges), what its tooltip lists,
 * the theory's boundary curves within the swept range, and axes that end at the outer cells.
 */
/**
 * The axes of a density x importance grid (log scales ending at the outer cells' edges), the rectangle of each
 * cell, and the encoding that draws one.
 */
function gridAxes(densities: readonly number[], importances: readonly number[]) {
  const x = { scale: { type: 'log' as const, domain: [bounds(importances, importances[0])[0], bounds(importances, importances[importances.length - 1])[1]], nice: false }, title: 'relative importance of the extra feature' };
  const y = { scale: { type: 'log' as const, domain: [bounds(densities, densities[0])[0], bounds(densities, densities[densities.length - 1])[1]], nice: false }, title: 'feature density (1 - S)' };
  const rect = { x: { field: 'x0', type: 'quantitative' as const, ...x }, x2: { field: 'x1' }, y: { field: 'y0', type: 'quantitative' as const, ...y }, y2: { field: 'y1' } };
  const edges = (density: number, importance: number) => {
    const [x0, x1] = bounds(importances, importance);
    const [y0, y1] = bounds(densities, density);
    return { x0, x1, y0, y1 };
  };
  return { x, y, rect, edges };
}

/** Cells outlined black under white, so that the outline shows on every colour; `select` picks the cells. */
function outlined(select: object, rect: object): object[] {
  return (['black', 'white'] as const).map((stroke) => ({ ...select, mark: { type: 'rect' as const, fillOpacity: 0, stroke, strokeWidth: stroke === 'black' ? 2.5 : 1 }, encoding: rect }));
}

function featureGrid(results: SweepResults) {
  const experiment = results.experiment as FeatureExperiment;
  const { densities, importances } = results.config;
  const { x, y, rect, edges } = gridAxes(densities, importances);
  const cells = (results.cells as FeatureCell[]).map((c) => {
    const { x0, x1, y0, y1 } = edges(c.density, c.importance);
    // every seed's label and loss, for the tooltip: the spread behind the cell's aggregated label
    const seeds = c.runs.map((r) => `${r.regime} ${r.loss.toExponential(2)}`).join(' | ');
    const seedsWithTheory = c.runs.filter((r) => r.regime === c.theory).length / c.runs.length;
    return { x0, x1, y0, y1, density: c.density, importance: c.importance, regime: c.regime, theory: c.theory, loss: c.loss, seeds, seedsWithTheory, disagrees: c.regime !== c.theory };
  });
  const [sMin, sMax] = y.scale.domain;
  const tooltip = [{ field: 'density', format: '.4f' }, { field: 'importance', format: '.3f' }, { field: 'regime' }, { field: 'theory' }, { field: 'loss', format: '.3e' }, { field: 'seeds', title: 'each seed' }];
  const curveLayer = (curves: readonly BoundaryCurve[], mark: object) => boundaryLayer(curves, x, y, mark);
  const overlays: object[] = [
    // the cell selected in the explorer (empty in a report): the page fills this named data set on a click
    { data: { name: SELECTED_CELL }, mark: { type: 'rect' as const, fillOpacity: 0, stroke: '#ffd400', strokeWidth: 3 }, encoding: rect },
    curveLayer(boundaryCurves(experiment, sMin, sMax), { color: 'black', strokeWidth: 1.5 }),
  ];
  return { experiment, cells, rect, tooltip, overlays, curveLayer };
}

/** Boundary curves r(s) as one line layer over a grid, within its swept importances (the paper's black, others as `mark` says). */
function boundaryLayer(curves: readonly BoundaryCurve[], x: ReturnType<typeof gridAxes>['x'], y: ReturnType<typeof gridAxes>['y'], mark: object): object {
  const [rMin, rMax] = x.scale.domain;
  const values = curves.flatMap((c) => c.s.map((s, i) => ({ curve: c.name, density: s, importance: c.r[i], order: i }))).filter((p) => p.importance >= rMin && p.importance <= rMax);
  return {
    data: { values },
    mark: { type: 'line' as const, clip: true, ...mark },
    encoding: { x: { field: 'importance', type: 'quantitative' as const, ...x }, y: { field: 'density', type: 'quantitative' as const, ...y }, detail: { field: 'curve', type: 'nominal' as const }, order: { field: 'order', type: 'quantitative' as const } },
  };
}

type BoundaryCurve = { name: string; s: readonly number[]; r: readonly number[] };

/** One panel of a feature grid: `cells` coloured by the regime in `field`, the cells of `outline` outlined, then the overlays. */
function regimePanel(cells: readonly object[], field: string, title: string, outline: readonly object[], size: number, grid: { rect: object; tooltip: object[]; overlays: readonly object[] }) {
  return {
    title,
    width: size,
    height: size,
    layer: [
      { data: { values: cells }, mark: { type: 'rect' as const, stroke: 'white', strokeWidth: 0.5 }, encoding: { ...grid.rect, color: { field, type: 'nominal' as const, scale: { domain: [...FEATURE_REGIMES], range: REGIME_COLORS }, title: 'extra feature' }, tooltip: grid.tooltip } },
      ...(outline.length ? outlined({ data: { values: outline } }, grid.rect) : []),
      ...grid.overlays,
    ],
  };
}

/** The empirical diagram and the theory's side by side, theory boundaries drawn over both. */
export function featurePhaseSpec(results: SweepResults): TopLevelSpec {
  const grid = featureGrid(results);
  const { experiment, cells } = grid;
  const panel = (field: 'regime' | 'theory', title: string) => regimePanel(cells, field, title, field === 'regime' ? cells.filter((c) => c.disagrees) : [], 320, grid);
  const a = results.agreement!;
  const { features: n, hidden: m } = SHAPES[experiment];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${experiment}: ${n} features in ${m} dimension${m > 1 ? 's' : ''}, ${results.config.seeds} seeds per cell, ${results.config.steps} steps`,
      // two short lines, so the title never makes the figure wider than its panels
      subtitle: [`agreement with theory: ${(100 * a.all).toFixed(0)}% of cells, ${a.cellsAway > 0 ? `${(100 * a.awayFromBoundary).toFixed(0)}%` : 'n/a'} of the ${a.cellsAway} cells away from a boundary`, 'outlined: the experiment disagrees with theory; lines: theory boundaries'],
    },
    hconcat: [panel('regime', 'experiment (trained models)'), panel('theory', 'theory (closed-form candidate losses)')],
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

/**
 * The experiment beside both theories: the paper's (candidates at fixed weights) and the one at each candidate's
 * optimum (optimal-theory.ts), `optimal` holding its label per cell in the results' order. Outlined: in the
 * experiment, cells that disagree with the optimal theory; in the optimal theory, cells where it differs from
 * the paper's. Lines: the paper's boundaries.
 */
export function theoriesSpec(results: SweepResults, optimal: readonly FeatureRegime[], optimalCurves: readonly BoundaryCurve[] = []): TopLevelSpec {
  const grid = featureGrid(results);
  const { experiment } = grid;
  // the optimal theory's boundaries, dashed, over every panel
  const dashed = optimalCurves.length ? [grid.curveLayer(optimalCurves, { color: '#ff8c00', strokeWidth: 2, strokeDash: [5, 3] })] : [];
  const cells = grid.cells.map((c, k) => ({ ...c, optimal: optimal[k], offOptimal: c.regime !== optimal[k], theoriesDiffer: c.theory !== optimal[k] }));
  const withOptimal = { ...grid, tooltip: [...grid.tooltip, { field: 'optimal', title: 'theory at optimum' }], overlays: [...grid.overlays, ...dashed] };
  const panel = (field: 'regime' | 'theory' | 'optimal', title: string, outline: typeof cells) => regimePanel(cells, field, title, outline, 220, withOptimal);
  const share = (xs: boolean[]) => `${((100 * xs.filter(Boolean).length) / xs.length).toFixed(0)}%`;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `${experiment}: the experiment, the paper's theory, and the theory at each candidate's optimum`,
      subtitle: [`agreement: ${share(cells.map((c) => !c.disagrees))} with the paper's theory, ${share(cells.map((c) => !c.offOptimal))} with the optimal one`, `the two theories differ on ${share(cells.map((c) => c.theoriesDiffer))} of cells`, 'outlined: experiment cells off the optimal theory, and optimal-theory cells that differ from the paper\'s', `black lines: the paper's boundaries${dashed.length ? '; dashed orange: the boundaries at the optima' : ''}`],
    },
    hconcat: [panel('regime', 'experiment', cells.filter((c) => c.offOptimal)), panel('theory', "paper's theory (fixed weights)", []), panel('optimal', "theory at the candidates' optima", cells.filter((c) => c.theoriesDiffer))],
    resolve: { scale: { color: 'shared' } },
  } as TopLevelSpec;
}

/** The neuron-level phase diagram: monosemantic and polysemantic neuron counts against density. */
export function neuronCountSpec(results: SweepResults): TopLevelSpec {
  const values = (results.cells as NeuronCell[]).flatMap((c) => [
    { density: c.density, kind: 'monosemantic', count: c.monosemantic },
    { density: c.density, kind: 'polysemantic', count: c.polysemantic },
  ]);
  const m = SHAPES[results.experiment].hidden;
  return densityLines(`${results.experiment}: neurons by regime against density (best of ${results.config.seeds} models each)`, values, 'count', m, 'neurons', {
    field: 'kind',
    type: 'nominal',
    scale: { domain: NEURON_COLORS.domain.slice(0, 2), range: NEURON_COLORS.range.slice(0, 2) },
    title: null,
  });
}

/** Lines of a measure against density (log axis, sparser to the right), one colour per series. */
function densityLines(text: string, values: object[], yField: string, yMax: number, yTitle: string | null, color: object): TopLevelSpec {
  // The axis spans the swept densities, not the decades a "nice" log scale would round them out to.
  const densities = (values as { density: number }[]).map((v) => v.density);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text, subtitle: 'sparser to the right' },
    width: 480,
    height: 260,
    data: { values },
    mark: { type: 'line', point: true },
    encoding: {
      x: { field: 'density', type: 'quantitative', scale: { type: 'log', reverse: true, nice: false, domain: [Math.min(...densities), Math.max(...densities)] }, title: 'feature density (1 - S)' },
      y: { field: yField, type: 'quantitative', scale: { domain: [0, yMax] }, title: yTitle },
      color: { ...color, legend: { labelLimit: 320 } }, // whole series names, not "features per dimen..."

    },
  } as TopLevelSpec;
}

/**
 * The paper's per-neuron stacked bars at the given densities: one column per neuron, one rectangle per feature,
 * height |weight| (negative weights below the axis), colour by feature (importance order).
 */
export function neuronBarsSpec(results: SweepResults, densities: readonly number[]): TopLevelSpec {
  const cells = (results.cells as NeuronCell[]).filter((c) => densities.some((d) => Math.abs(Math.log(c.density / d)) < 1e-9));
  const { features, hidden } = SHAPES[results.experiment];
  const many = features > 20 || hidden > 12;
  const values = cells.flatMap((c) =>
    c.neurons.flatMap((neuron, j) => neuron.weights.map((w, f) => ({ density: `density ${c.density}`, neuron: `${j}${neuron.regime === 'monosemantic' ? ' mono' : neuron.regime === 'dead' ? ' dead' : ' poly'}`, feature: f, weight: w }))),
  );
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${results.experiment}: weights into each neuron of the best model (stacked by feature)` },
    data: { values },
    facet: { column: { field: 'density', type: 'nominal', sort: densities.map((d) => `density ${d}`), title: null } },
    spec: {
      width: 140,
      height: 220,
      mark: { type: 'bar', stroke: 'white', strokeWidth: 0.3 },
      encoding: {
        // With dozens of neurons or features, per-neuron labels and a legend entry per feature become unreadable.
        x: { field: 'neuron', type: 'nominal', title: many ? 'neuron (sorted as trained)' : 'neuron', axis: many ? { labels: false, ticks: false } : { labelAngle: -45 } },
        y: { field: 'weight', type: 'quantitative', stack: 'zero', title: 'weight from each feature' },
        // up to ten features, ten colours that can be told apart; more, a continuous scale by importance rank
        color: features > 10 ? { field: 'feature', type: 'quantitative', scale: { scheme: 'viridis' }, title: 'feature (by importance)' } : { field: 'feature', type: 'nominal', scale: { scheme: 'tableau10' }, sort: 'ascending', title: 'feature (by importance)', legend: { titleLimit: 300 } },
      },
    },
    resolve: { scale: { x: 'independent' } },
  } as TopLevelSpec;
}

/**
 * The spread across seeds: in each cell, the share of its seeds whose own label is the theory's (1: every seed
 * found the optimum; low where seeds land in different solutions, typically near a boundary).
 */
export function seedSpreadSpec(results: SweepResults): TopLevelSpec {
  const { experiment, cells, rect, tooltip, overlays } = featureGrid(results);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: `${experiment}: seeds that find the theory's solution`, subtitle: `${results.config.seeds} seeds per cell; hover a cell for each seed's label and loss` },
    width: 320,
    height: 320,
    layer: [
      {
        data: { values: cells },
        mark: { type: 'rect' as const, stroke: 'white', strokeWidth: 0.5 },
        encoding: { ...rect, color: { field: 'seedsWithTheory', type: 'quantitative', scale: { scheme: 'greys', domain: [0, 1], reverse: true }, title: ['share of seeds', "with theory's label"], legend: { titleLimit: 300, format: '.0%' } }, tooltip: [...tooltip, { field: 'seedsWithTheory', title: 'share with theory', format: '.0%' }] },
      },
      ...overlays,
    ],
  } as TopLevelSpec;
}

/** The intro sweep: features represented by the best model, and its dimensions per feature, against density. */
export function geometrySpec(results: SweepResults): TopLevelSpec {
  const cells = results.cells as GeometryCell[];
  const values = cells.flatMap((c) => [
    { density: c.density, measure: 'features represented', value: c.represented },
    { density: c.density, measure: 'features per dimension (1/D*)', value: 1 / c.dimensionsPerFeature },
  ]);
  const { features: n, hidden: m } = SHAPES[results.experiment];
  return densityLines(`${results.experiment}: ${n} features in ${m} dimensions, best of ${results.config.seeds} models per density`, values, 'value', n, null, { field: 'measure', type: 'nominal', title: null });
}

/**
 * A comparison's difference map: for feature sweeps, the mean paired loss difference (B - A) per cell on the
 * sweep's grid, outlined where the label changed, faded where the interval includes 0; for density sweeps, the
 * difference with its bootstrap interval.
 */
export function differenceSpec(c: Comparison): TopLevelSpec {
  const title = { text: `${c.experiment}: B (${c.b.label || 'defaults'}) minus A (${c.a.label || 'defaults'})`, subtitle: `loss difference paired by seed, 95% bootstrap intervals; ${c.summary.changed} of ${c.summary.cells} cells change label${c.cells[0].importance !== null ? ' (outlined); faded: the interval includes 0' : ''}` };
  const values = c.cells.map((cell) => ({ ...cell, diff: cell.lossDiff.mean, low: cell.lossDiff.low, high: cell.lossDiff.high, label: cell.changed ? 'label changed' : 'same label' }));
  if (c.cells[0].importance !== null) {
    const { densities, importances } = c.a.config;
    // the phase diagram's grid: axes end at the outer edges of the swept cells
    const { rect, edges } = gridAxes(densities, importances);
    const rows = values.map((v) => ({ ...v, ...edges(v.density, v.importance!) }));
    // The colour scale ends at the 95th percentile of |difference| (clamped beyond): one outlier cannot wash out the rest.
    const magnitudes = rows.map((r) => Math.abs(r.diff)).sort((p, q) => p - q);
    const extent = Math.max(1e-12, magnitudes[Math.floor(0.95 * (magnitudes.length - 1))]);
    const clamped = magnitudes[magnitudes.length - 1] > extent;
    return {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      title,
      width: 360,
      height: 360,
      data: { values: rows },
      layer: [
        {
          mark: { type: 'rect', stroke: 'white', strokeWidth: 0.5 },
          encoding: {
            ...rect,
            color: { field: 'diff', type: 'quantitative', scale: { scheme: 'blueorange', domain: [-extent, extent], clamp: true }, title: clamped ? ['loss B - A', '(clamped)'] : 'loss B - A' },
            // faded: the 95% interval includes 0, so the sign of the difference is not established
            opacity: { condition: { test: 'datum.low <= 0 && datum.high >= 0', value: 0.3 }, value: 1 },
            tooltip: [{ field: 'density' }, { field: 'importance' }, { field: 'labelA' }, { field: 'labelB' }, { field: 'diff', format: '.3e' }, { field: 'low', format: '.3e' }, { field: 'high', format: '.3e' }],
          },
        },
        ...outlined({ transform: [{ filter: 'datum.changed' }] }, rect),
      ],
    } as TopLevelSpec;
  }
  const x = { field: 'density', type: 'quantitative' as const, scale: { type: 'log' as const, reverse: true }, title: 'feature density (1 - S)' };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 480,
    height: 260,
    data: { values },
    layer: [
      { mark: { type: 'rule', color: '#999' }, encoding: { y: { datum: 0, type: 'quantitative' } } },
      { mark: { type: 'errorbar' }, encoding: { x, y: { field: 'low', type: 'quantitative', title: 'loss B - A' }, y2: { field: 'high' } } },
      { mark: { type: 'point', filled: true, size: 50 }, encoding: { x, y: { field: 'diff', type: 'quantitative' }, shape: { field: 'label', type: 'nominal', title: null, scale: { domain: ['same label', 'label changed'] } } } },
    ],
  } as TopLevelSpec;
}

export type Figure = [name: string, title: string, spec: TopLevelSpec];

/** A sweep's figures: the phase diagram beside theory, the geometry curve, or the neuron counts and bars. */
export function sweepFigures(results: SweepResults): Figure[] {
  if (isFeatureExperiment(results.experiment)) return [['phase-diagram', 'Phase diagram: experiment beside theory', featurePhaseSpec(results)], ['seed-spread', 'Spread across seeds', seedSpreadSpec(results)]];
  if (results.experiment === 'intro') return [['geometry', 'Features represented against density', geometrySpec(results)]];
  return [
    ['neuron-counts', 'Neuron-level phase diagram', neuronCountSpec(results)],
    ['neuron-bars', 'Per-neuron weights at selected densities', neuronBarsSpec(results, barDensities(results.cells as NeuronCell[]))],
  ];
}

/** Densities for the stacked-bar plots: up to four spread over the sweep (first, last and two between). */
function barDensities(cells: readonly NeuronCell[]): number[] {
  const picks = [0, Math.round((cells.length - 1) / 3), Math.round((2 * (cells.length - 1)) / 3), cells.length - 1];
  return [...new Set(picks)].map((i) => cells[i].density);
}


/**
 * One model in the paper's style: W^T W as a heat map, each feature's norm ||W_i|| as a bar coloured by its
 * superposition sum_{j != i} (W^_i . W_j)^2, and for m = 2 each feature as an arrow in the hidden plane.
 * W is n x m, row-major (row i = feature i's direction).
 */
export function modelSpec(W: readonly number[], n: number, m: number, title: string): TopLevelSpec {
  const row = (i: number) => W.slice(i * m, (i + 1) * m);
  const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, v, k) => s + v * b[k], 0);
  const gram = Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => ({ i, j, value: dot(row(i), row(j)) }))).flat();
  const features = Array.from({ length: n }, (_, i) => {
    const norm = Math.sqrt(dot(row(i), row(i)));
    const unit = row(i).map((v) => v / (1e-5 + norm));
    const superposition = Array.from({ length: n }, (_, j) => (j === i ? 0 : dot(unit, row(j)) ** 2)).reduce((a, b) => a + b, 0);
    return { feature: i, norm, superposition, x: row(i)[0], y: m > 1 ? row(i)[1] : 0 };
  });
  const limit = Math.max(1.2, ...features.map((f) => Math.max(Math.abs(f.x), Math.abs(f.y)) * 1.1));
  const panels: object[] = [
    {
      title: 'W^T W',
      width: 180,
      height: 180,
      data: { values: gram },
      mark: 'rect',
      encoding: {
        x: { field: 'j', type: 'ordinal', title: 'feature' },
        y: { field: 'i', type: 'ordinal', title: 'feature' },
        color: { field: 'value', type: 'quantitative', scale: { scheme: 'redblue', domain: [-1, 1] }, title: 'W_i . W_j' }, // blue: overlap, red: opposite, as the paper's figures here
      },
    },
    {
      title: '||W_i||, coloured by superposition',
      width: Math.max(120, 14 * n),
      height: 180,
      data: { values: features },
      mark: 'bar',
      encoding: {
        x: { field: 'feature', type: 'ordinal' },
        y: { field: 'norm', type: 'quantitative', title: '||W_i||' },
        color: { field: 'superposition', type: 'quantitative', scale: { scheme: 'viridis', domain: [0, 1], clamp: true }, title: 'superposition' },
      },
    },
  ];
  if (m === 2) {
    // up to ten features, ten colours that can be told apart
    const featureColor = n <= 10 ? { field: 'feature', type: 'nominal', scale: { scheme: 'tableau10' } } : { field: 'feature', type: 'quantitative', scale: { scheme: 'viridis' } };
    const arrows = features.flatMap((f) => [
      { feature: f.feature, x: 0, y: 0, end: 0 },
      { feature: f.feature, x: f.x, y: f.y, end: 1 },
    ]);
    panels.push({
      title: 'features in the hidden plane',
      width: 180,
      height: 180,
      data: { values: arrows },
      layer: [
        { mark: 'line', encoding: { x: { field: 'x', type: 'quantitative', scale: { domain: [-limit, limit] }, title: 'h1' }, y: { field: 'y', type: 'quantitative', scale: { domain: [-limit, limit] }, title: 'h2' }, detail: { field: 'feature' }, order: { field: 'end' }, color: featureColor } },
        { transform: [{ filter: 'datum.end === 1' }], mark: { type: 'point', filled: true }, encoding: { x: { field: 'x', type: 'quantitative' }, y: { field: 'y', type: 'quantitative' }, color: featureColor } },
      ],
    });
  }
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title: { text: title }, hconcat: panels, resolve: { scale: { color: 'independent' } } } as TopLevelSpec;
}
