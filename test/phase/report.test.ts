/**
 * What a report shows a reader: disagreement outlined on the phase diagram, every seed in the tooltip, the
 * configuration as a table of readable numbers, a comparison's colour scale that one outlier cannot take over
 * and axes that end at the swept cells.
 */
import { describe, expect, it } from 'vitest';
import type { Comparison } from '../../src/phase/compare.ts';
import { logspace, type SweepConfig } from '../../src/phase/experiments.ts';
import { differenceSpec, featurePhaseSpec, seedSpreadSpec } from '../../src/phase/plots.ts';
import { settingsTable } from '../../src/phase/report.ts';
import { runSweep, type FeatureCell } from '../../src/phase/sweep.ts';

describe('the phase diagram', () => {
  it('outlines exactly the cells whose label disagrees with theory, and lists every seed in the tooltip', async () => {
    const config: SweepConfig = { experiment: 'feature-2x1', densities: logspace(0.05, 1, 3), importances: logspace(0.2, 5, 3), seeds: 2, steps: 30, batch: 32, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 7, init: 'per-instance', evalBatch: 256 };
    const results = await runSweep(config, { workers: 1 });
    const cells = results.cells as FeatureCell[];
    const spec = featurePhaseSpec(results) as any;
    const [experiment, theory] = spec.hconcat;
    const outlines = experiment.layer.filter((l: any) => l.mark.type === 'rect' && l.mark.fillOpacity === 0 && l.data.values);
    expect(outlines).toHaveLength(2); // black under white (the explorer's selected cell is a named, empty data set)
    expect(experiment.layer.filter((l: any) => l.data.name === 'selected-cell')).toHaveLength(1);
    const disagreeing = cells.filter((c) => c.regime !== c.theory).map((c) => [c.density, c.importance]);
    for (const o of outlines) expect(o.data.values.map((v: any) => [v.density, v.importance])).toEqual(disagreeing);
    expect(theory.layer.filter((l: any) => l.mark.fillOpacity === 0 && l.data.values)).toHaveLength(0);
    // the seed-spread figure: per cell, the share of seeds whose own label is the theory's
    const spread = (seedSpreadSpec(results) as any).layer[0].data.values;
    cells.forEach((c, i) => expect(spread[i].seedsWithTheory).toBe(c.runs.filter((r) => r.regime === c.theory).length / c.runs.length));
    expect(new Set(spread.map((v: any) => v.seedsWithTheory)).size).toBeGreaterThan(1); // this sweep has cells where seeds split
    const tooltip = experiment.layer[0];
    expect(tooltip.encoding.tooltip.map((t: any) => t.field)).toContain('seeds');
    expect(tooltip.data.values[4].seeds).toBe(cells[4].runs.map((r) => `${r.regime} ${r.loss.toExponential(2)}`).join(' | '));
  });
});

describe('settingsTable', () => {
  it('shows the configuration by path, numbers to 4 significant digits, long lists as count and range', () => {
    const html = settingsTable({ lr: 0.0010000000474974513, steps: 4000, densities: logspace(0.01, 1, 20), importances: [0.5, 2], thresholds: { normThreshold: 0.5, aggregation: 'best' }, note: '<b>' });
    expect(html).toContain('<tr><th>lr</th><td>0.001</td></tr>');
    expect(html).toContain('<tr><th>steps</th><td>4000</td></tr>');
    expect(html).toContain('<tr><th>densities</th><td>20 values, 0.01 .. 1</td></tr>');
    expect(html).toContain('<tr><th>importances</th><td>0.5, 2</td></tr>');
    expect(html).toContain('<tr><th>thresholds.normThreshold</th><td>0.5</td></tr>');
    expect(html).toContain('<tr><th>note</th><td>&lt;b&gt;</td></tr>');
  });
});

describe('the difference map', () => {
  it('ends its colour scale at the 95th percentile of |difference|, fades cells whose interval includes 0, and fits its axes to the cells', () => {
    const densities = logspace(0.1, 1, 3);
    const importances = logspace(0.5, 2, 7);
    // 21 cells: 20 differences of 1e-3 (one of them with an interval through 0) and one outlier of 1
    const cells = densities.flatMap((density, i) => importances.map((importance, j) => {
      const mean = i === 2 && j === 6 ? 1 : 1e-3;
      return { density, importance, labelA: 'dedicated', labelB: 'dedicated', changed: false, lossDiff: { mean, low: i + j === 0 ? -1e-3 : mean / 2, high: 2 * mean, n: 4 }, relativeWeightDiff: [0] };
    }));
    const config = { densities, importances } as SweepConfig;
    const c = { experiment: 'feature-2x1', a: { label: '', config }, b: { label: '--lr 0.1', config }, cells, summary: { cells: 21, changed: 0 } } as unknown as Comparison;
    const spec = differenceSpec(c) as any;
    const heat = spec.layer[0].encoding;
    expect(heat.color.scale.domain).toEqual([-1e-3, 1e-3]); // sorted |diff|[floor(0.95 * 20)] = 1e-3, not the outlier
    expect(heat.color.scale.clamp).toBe(true);
    expect(heat.color.title).toEqual(['loss B - A', '(clamped)']);
    expect(heat.opacity.condition.test).toBe('datum.low <= 0 && datum.high >= 0');
    // log-spaced cells: each spans a factor sqrt(step) either side of its value
    const step = importances[1] / importances[0];
    expect(heat.x.scale.domain[0]).toBeCloseTo(0.5 / Math.sqrt(step), 12);
    expect(heat.x.scale.domain[1]).toBeCloseTo(2 * Math.sqrt(step), 12);
    expect(heat.y.scale.domain[1]).toBeCloseTo(10 ** 0.25, 12); // densities 0.1, 0.316, 1: a factor sqrt(10) apart
  });
});

describe('density plots', () => {
  it('span the swept densities, not the decades a nice log scale would round them out to', async () => {
    const { geometrySpec } = await import('../../src/phase/plots.ts');
    const config: SweepConfig = { experiment: 'intro', densities: [1, 0.3, 0.05], importances: [], seeds: 1, steps: 10, batch: 32, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 1, init: 'per-instance', evalBatch: 256 };
    const results = await runSweep(config, { workers: 1 });
    const spec = geometrySpec(results) as any;
    expect(spec.encoding.x.scale).toMatchObject({ type: 'log', nice: false, domain: [0.05, 1] });
    // each intro cell keeps its best model's weights (the explorer draws the arrows): its norms are theirs
    for (const cell of results.cells as any[]) {
      expect(cell.W).toHaveLength(10);
      cell.norms.forEach((norm: number, i: number) => expect(Math.hypot(cell.W[2 * i], cell.W[2 * i + 1])).toBeCloseTo(norm, 5));
    }
  });
});
