/**
 * Learning dynamics: over training, each feature's dimensionality D_i does not drift, it sits on the fractions
 * of the geometry section ("energy levels") and moves between them, the loss dropping a little at each move.
 * Traced from snapshots of the weights of equal-importance models at four sparsities.
 */
import { featureMetrics, REPRESENTED_NORM } from '../toy/metrics.ts';
import { presetConfig } from '../toy/presets.ts';
import { train } from '../toy/train.ts';
import { densityPanel, fmt, vl, type PaperFigure } from './figure.ts';
import { FRACTIONS } from './geometry.ts';

/** The levels D_i settles on: not learned, and the geometry section's named fractions. */
export const LEVELS: readonly number[] = [0, ...FRACTIONS.map((f) => f.value)];
/** D_i is on a level within this distance. */
const ON_LEVEL = 0.02;

export interface LevelChange {
  feature: number;
  /** The last step on the level left, the first on the level reached, and the two levels. */
  left: number;
  reached: number;
  from: number;
  to: number;
}

/** A feature is on a level only after this many snapshots on it (passing through a level is not settling on it). */
const DWELL = 4;

/** The level D is on, or null between levels; a feature not represented (norm below 0.5) is on level 0. */
export const levelOf = (d: number, norm: number): number | null => (norm < REPRESENTED_NORM ? 0 : (LEVELS.find((l) => l > 0 && Math.abs(d - l) <= ON_LEVEL) ?? null));

/**
 * From every feature's D_i and norm at `steps`: the share of snapshots on a level, and every move of a feature
 * from one level to another (each held for at least DWELL snapshots; the snapshots between them are on none).
 */
export function levelChanges(steps: readonly number[], trace: readonly (readonly number[])[], norms: readonly (readonly number[])[]): { onLevel: number; changes: LevelChange[] } {
  const n = trace[0]?.length ?? 0;
  let on = 0;
  const changes: LevelChange[] = [];
  for (let i = 0; i < n; i++) {
    const levels = trace.map((di, k) => levelOf(di[i], norms[k][i]));
    on += levels.filter((l) => l !== null).length;
    // Runs of one level held for DWELL snapshots, in order; a move is a change between consecutive runs.
    let held: { level: number; last: number } | null = null;
    for (let k = 0; k < levels.length; ) {
      let end = k;
      while (end + 1 < levels.length && levels[end + 1] === levels[k]) end++;
      const level = levels[k];
      if (level !== null && end - k + 1 >= DWELL) {
        if (held && held.level !== level) changes.push({ feature: i, left: steps[held.last], reached: steps[k], from: held.level, to: level });
        held = { level, last: end };
      }
      k = end + 1;
    }
  }
  return { onLevel: trace.length && n ? on / (trace.length * n) : 0, changes };
}

/**
 * How much the loss falls across each move between levels, against how much it falls across stretches of the
 * same length at about the same time: the mean loss of the `window` intervals before a move left its level minus
 * that of the `window` intervals after it reached the next, relative to the loss there, beside the same for every
 * stretch starting within `near` intervals of the move (the loss falls faster early in training, when most moves
 * happen, so stretches from anywhere would flatter the moves). Returns the two medians.
 */
export function lossDropsAtMoves(loss: readonly { step: number; loss: number }[], moves: readonly LevelChange[], window = 4, near = 20): { atMoves: number; nearby: number } {
  const index = (step: number) => loss.findIndex((l) => l.step >= step);
  const mean = (a: number, b: number) => loss.slice(a, b).reduce((sum, l) => sum + l.loss, 0) / (b - a);
  const fits = (a: number, b: number) => a - window >= 0 && b >= a && b + window <= loss.length;
  const drop = (before: number, after: number) => (mean(before - window, before) - mean(after, after + window)) / mean(before - window, before);
  const median = (xs: number[]) => (xs.length ? [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] : NaN);
  const atMoves: number[] = [];
  const nearby: number[] = [];
  for (const m of moves) {
    const [a, b] = [index(m.left) + 1, index(m.reached)];
    if (!fits(a, b)) continue;
    atMoves.push(drop(a, b));
    for (let o = -near; o <= near; o++) if (o !== 0 && fits(a + o, b + o)) nearby.push(drop(a + o, b + o));
  }
  return { atMoves: median(atMoves), nearby: median(nearby) };
}

export const dynamics: PaperFigure = {
  name: 'dynamics',
  section: 'Learning dynamics',
  anchor: 'learning-dynamics',
  title: 'Feature dimensionalities move between levels during training',
  claim: 'During training, features\u2019 dimensionalities do not drift: they sit on discrete values ("energy levels", the fractions of the geometry section) and move between them in transitions, each matched by a small drop in the loss.',
  cost: { quick: 25, full: 400 },
  async run(ctx) {
    const quick = ctx.scale === 'quick';
    // Moderate sparsity (D* between 1 and 1/2 and below): features choose between dedicated dimensions, triangles,
    // antipodal pairs and dropping out, and some change their minds.
    const [n, m, steps, every] = quick ? [30, 10, 8000, 25] : [100, 20, 30_000, 50];
    const densities = [0.6, 0.45, 0.3, 0.2];
    const config = { ...presetConfig({ experiment: 'geometry', features: n, hidden: m, importance: 'uniform', densities, steps, snapshotEvery: every, seed: ctx.seed }), name: 'dynamics' };
    const bar = ctx.progress('dynamics', steps);
    const losses: number[][] = densities.map(() => []);
    const result = train(config, (step, l) => {
      densities.forEach((_, i) => losses[i].push(l[i]));
      bar.update(step + 1);
    });
    bar.finish();
    const snapshots = result.snapshots!;
    const stepsAt = snapshots.map((s) => s.step);
    // The first tenth of training sorts features out of the random start; levels are judged after it.
    const from = stepsAt.findIndex((t) => t >= steps / 10);
    const models = densities.map((density, i) => {
      const metrics = snapshots.map((s) => featureMetrics(s.parameters[0].subarray(i * n * m, (i + 1) * n * m), 0, n, m));
      const trace = metrics.map((f) => f.dimensionality);
      const { onLevel, changes } = levelChanges(stepsAt.slice(from), trace.slice(from), metrics.slice(from).map((f) => f.norms));
      // Mean loss of the steps between snapshots (a single batch is too noisy to see the drops).
      const loss = stepsAt.slice(1).map((t, k) => ({ step: t, loss: losses[i].slice(stepsAt[k], t).reduce((a, b) => a + b, 0) / (t - stepsAt[k]) }));
      const drops = lossDropsAtMoves(loss, changes.filter((c) => c.from > 0 && c.to > 0));
      return { density, trace, onLevel, changes, loss, drops };
    });
    const panel = densityPanel;
    const nearest = (d: number) => FRACTIONS.reduce((best, f) => (Math.abs(d - f.value) < Math.abs(d - best.value) ? f : best), { value: 0, label: '0 (not learned)' }).label;
    const values = models.flatMap((x) => x.trace.flatMap((di, k) => di.map((d, i) => ({ panel: panel(x.density), step: stepsAt[k], feature: `feature ${i}`, di: d, final: nearest(x.trace[x.trace.length - 1][i]) }))));
    const moves = models.flatMap((x) => x.changes.map((c) => ({ panel: panel(x.density), ...c, feature: `feature ${c.feature}` })));
    const xAxis = { field: 'step', type: 'quantitative' as const, title: 'training step', scale: { domain: [0, steps] } };
    const spec = vl({
      title: { text: `D_i of each of ${n} features over training (${n} -> ${m}, equal importance)`, subtitle: `one line per feature, coloured by the level it ends nearest; dots: a feature reaching a new level (snapshots every ${every} steps)` },
      vconcat: models.map((x) => ({
        title: { text: `${panel(x.density)}: ${x.changes.length} moves between levels`, fontSize: 12 },
        hconcat: [
          {
            width: 430,
            height: 170,
            layer: [
              { data: { values: LEVELS.map((value) => ({ value })) }, mark: { type: 'rule', strokeDash: [4, 4], color: '#bbb' }, encoding: { y: { field: 'value', type: 'quantitative' } } },
              { data: { values }, transform: [{ filter: `datum.panel === '${panel(x.density)}'` }], mark: { type: 'line', strokeWidth: 1, opacity: 0.8 }, encoding: { x: xAxis, y: { field: 'di', type: 'quantitative', title: 'D_i', scale: { domain: [0, 1.05] } }, detail: { field: 'feature' }, color: { field: 'final', type: 'nominal', scale: { scheme: 'tableau10', domain: ['0 (not learned)', ...FRACTIONS.map((f) => f.label)] }, title: 'ends nearest' }, tooltip: [{ field: 'feature' }, { field: 'step' }, { field: 'di', format: '.3f' }] } },
              { data: { values: moves }, transform: [{ filter: `datum.panel === '${panel(x.density)}'` }], mark: { type: 'circle', size: 30, color: '#222' }, encoding: { x: { field: 'reached', type: 'quantitative' }, y: { field: 'to', type: 'quantitative' }, tooltip: [{ field: 'feature' }, { field: 'left', title: 'left its level at step' }, { field: 'reached', title: 'reached the next at step' }, { field: 'from', format: '.3f' }, { field: 'to', format: '.3f' }] } },
            ],
          },
          // The loss after the first tenth, on its own scale: the start's drop would flatten the small drops after it.
          { width: 200, height: 170, data: { values: x.loss.filter((l) => l.step >= steps / 10) }, mark: { type: 'line', color: '#444' }, encoding: { x: xAxis, y: { field: 'loss', type: 'quantitative', scale: { zero: false }, title: 'training loss (after the first tenth)', axis: { format: '.2e' } }, tooltip: [{ field: 'step' }, { field: 'loss', format: '.3e' }] } },
        ],
      })),
    });
    const onLevel = models.reduce((s, x) => s + x.onLevel, 0) / models.length;
    const changes = models.flatMap((x) => x.changes);
    const between = changes.filter((c) => c.from > 0 && c.to > 0);
    const durations = changes.map((c) => c.reached - c.left).sort((a, b) => a - b);
    const median = durations.length ? durations[Math.floor(durations.length / 2)] : NaN;
    // The share of [0, 1] within ON_LEVEL of a level: what a D_i wandering evenly would spend on one.
    const chance = LEVELS.filter((l) => l > 0).reduce((s, l) => s + Math.min(1, l + ON_LEVEL) - (l - ON_LEVEL), 0);
    // Loss drops at moves, pooled over the models with moves between two represented levels.
    const withDrops = models.filter((x) => Number.isFinite(x.drops.atMoves));
    const dropsAtMoves = withDrops.map((x) => x.drops.atMoves);
    const dropsNearby = withDrops.map((x) => x.drops.nearby);
    const mid = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)];
    const checks = [
      {
        claim: `Features sit on levels (not represented, or D_i within ${ON_LEVEL} of 1, 3/4, 2/3, 1/2, 2/5, 3/8) most of the time after the first tenth of training`,
        measured: `${(100 * onLevel).toFixed(0)}% of feature-snapshots on a level (a represented D_i wandering evenly would be on one about ${(100 * chance).toFixed(0)}% of the time); by 1 - S: ${models.map((x) => `${fmt(x.density)}: ${(100 * x.onLevel).toFixed(0)}%`).join(', ')}`,
        pass: onLevel > 0.5,
      },
      {
        claim: `Features move from one level to another during training (each level held for ${DWELL} snapshots or more)`,
        measured: `${changes.length} moves (${between.length} between two non-zero levels), ${durations.length ? `median ${median} steps off any level on the way (${((100 * median) / steps).toFixed(1)}% of training)` : 'none'}`,
        pass: changes.length > 0,
      },
      {
        claim: 'Each move is matched by a small drop in the loss: the loss falls more across a move than across stretches of the same length starting within 500 steps of it',
        measured: withDrops.length ? `median relative drop across a move ${(100 * mid(dropsAtMoves)).toFixed(2)}%, across stretches nearby ${(100 * mid(dropsNearby)).toFixed(2)}% (by 1 - S: ${withDrops.map((x) => `${fmt(x.density)}: ${(100 * x.drops.atMoves).toFixed(2)}% vs ${(100 * x.drops.nearby).toFixed(2)}%`).join(', ')})` : 'no move between two represented levels far enough from the ends of training',
        pass: withDrops.length > 0 && mid(dropsAtMoves) > mid(dropsNearby),
        note: 'Not found at this scale: in these 30 -> 10 models the moves come while the loss still falls everywhere, and a move\u2019s drop is not told apart from its neighbourhood\u2019s (larger in two of the four models, smaller in two). The paper saw the drops in longer runs of larger models; --full trains 100 -> 20 for 30,000 steps.',
      },
    ];
    return {
      figures: [['dynamics', 'Feature dimensionality over training', spec]],
      checks,
      settings: { features: n, hidden: m, importance: 'uniform', densities, steps, batch: config.batch, lr: config.lr, snapshots: `every ${every} steps` },
      data: { steps: stepsAt, models },
    };
  },
};
