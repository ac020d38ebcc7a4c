/**
 * Superposition and adversarial vulnerability, on the geometry models (equal importance, across sparsity). The
 * attack is the paper's: an L2 perturbation of a tenth of the mean input norm along the analytic direction
 * (W^T W)_i / ||(W^T W)_i|| for a feature i, which moves output i most per unit of input; for each input the
 * feature and sign that raise the loss most are taken.
 *
 * Vulnerability is the attack's loss increase L' - L over that of a model of the same sparsity without
 * superposition (m features on dedicated dimensions, the rest dropped; no bias), whose increase under the same
 * attack is exactly eps^2 / n per input: one feature read off by eps. The paper reports that vulnerability rises
 * sharply (over 3x) as superposition forms and tracks features per dimension ||W||_F^2 / m.
 */
import { deriveSeed } from '../random.ts';
import { sampleBatch, streamKeys } from '../toy/data.ts';
import { gram } from '../phase/optimal-theory.ts';
import { featureRows, fmt, vl, type PaperFigure } from './figure.ts';
import { geometryRun } from './geometry.ts';

/** The attack's L2 norm as a share of the mean input norm (the paper's). */
const ATTACK_SHARE = 0.1;
/** Inputs the loss increase is averaged over, per model. */
const INPUTS = 512;

/**
 * Mean loss increase of the worst single-feature attack on one tied ReLU-output model (rows: W_i, [n][m]; bias
 * b) over inputs xs ([inputs][n], uniform importance, mean over features), at L2 norm eps.
 */
export function attackIncrease(rows: readonly (readonly number[])[], b: readonly number[], xs: Float32Array, inputs: number, eps: number): number {
  const n = rows.length;
  const G = gram(rows);
  // The output moves by G delta = +-eps G G_i / ||G_i|| for the attack along feature i.
  const shift = G.map((gi) => {
    const norm = Math.hypot(...gi);
    return norm > 1e-9 ? G.map((gj) => (eps * gj.reduce((s, v, k) => s + v * gi[k], 0)) / norm) : null;
  });
  let total = 0;
  const pre = new Float64Array(n);
  for (let q = 0; q < inputs; q++) {
    const x = xs.subarray(q * n, (q + 1) * n);
    let clean = 0;
    for (let i = 0; i < n; i++) {
      let s = b[i];
      for (let j = 0; j < n; j++) s += G[i][j] * x[j];
      pre[i] = s;
      clean += (x[i] - Math.max(0, s)) ** 2;
    }
    let worst = clean;
    for (const d of shift) {
      if (!d) continue;
      for (const sign of [1, -1]) {
        let loss = 0;
        for (let j = 0; j < n; j++) loss += (x[j] - Math.max(0, pre[j] + sign * d[j])) ** 2;
        worst = Math.max(worst, loss);
      }
    }
    total += (worst - clean) / n;
  }
  return total / inputs;
}

/** Spearman's rank correlation of two equally long series (no ties expected). */
export function spearman(a: readonly number[], b: readonly number[]): number {
  const rank = (xs: readonly number[]) => {
    const order = xs.map((v, i) => [v, i] as const).sort((p, q) => p[0] - q[0]);
    const r = new Array<number>(xs.length);
    order.forEach(([, i], k) => (r[i] = k));
    return r;
  };
  const [ra, rb] = [rank(a), rank(b)];
  const n = a.length;
  const d2 = ra.reduce((s, v, i) => s + (v - rb[i]) ** 2, 0);
  return 1 - (6 * d2) / (n * (n * n - 1));
}

export const adversarial: PaperFigure = {
  name: 'adversarial',
  section: 'Superposition and adversarial robustness',
  anchor: 'adversarial',
  title: 'Adversarial vulnerability against superposition',
  claim: 'Models in superposition are more vulnerable to adversarial inputs: as superposition forms, vulnerability rises by more than 3x, tracking features per dimension ||W||_F^2 / m.',
  cost: { quick: 3, full: 30 },
  shares: 'geometry',
  async run(ctx) {
    const { features: n, hidden: m, doc } = await geometryRun(ctx);
    const keys = streamKeys([deriveSeed(ctx.seed, 7, 1)]);
    const models = doc.instances.map((inst) => {
      const xs = sampleBatch({ instances: 1, batch: INPUTS, features: n, density: [inst.density] }, keys, 0);
      let norm = 0;
      for (let q = 0; q < INPUTS; q++) norm += Math.hypot(...xs.subarray(q * n, (q + 1) * n));
      const eps = (ATTACK_SHARE * norm) / INPUTS;
      const increase = attackIncrease(featureRows(inst.W!), inst.b, xs, INPUTS, eps);
      const perDimension = 1 / (inst.metrics.dimensionsPerFeature ?? Infinity);
      return { ratio: 1 / inst.density, density: inst.density, eps, increase, vulnerability: increase / ((eps * eps) / n), featuresPerDimension: perDimension };
    });
    const x = { field: 'ratio', type: 'quantitative' as const, scale: { type: 'log' as const, nice: false, domain: [1, Math.max(...models.map((v) => v.ratio))] }, title: '1 / (1 - S)' };
    const spec = vl({
      title: { text: 'Vulnerability to the analytic single-feature attack, and features per dimension', subtitle: 'vulnerability: loss increase over that of a model without superposition at the same sparsity' },
      width: 520,
      height: 280,
      layer: [
        { data: { values: models }, mark: { type: 'line', point: true, color: '#c62828' }, encoding: { x, y: { field: 'vulnerability', type: 'quantitative', title: 'vulnerability', axis: { titleColor: '#c62828' } }, tooltip: [{ field: 'ratio', title: '1/(1-S)', format: '.3' }, { field: 'vulnerability', format: '.3' }, { field: 'featuresPerDimension', format: '.3' }] } },
        { data: { values: models }, mark: { type: 'line', point: true, color: '#2255bb', strokeDash: [5, 3] }, encoding: { x, y: { field: 'featuresPerDimension', type: 'quantitative', title: 'features per dimension ||W||_F^2 / m', axis: { titleColor: '#2255bb' } } } },
      ],
      resolve: { scale: { y: 'independent' } },
    });
    const v = models.map((r) => r.vulnerability);
    const rise = Math.max(...v) / v[0];
    const rho = spearman(v, models.map((r) => r.featuresPerDimension));
    const checks = [
      { claim: 'Vulnerability rises by more than 3x as superposition forms (largest over the dense model\u2019s)', measured: `${fmt(v[0])} dense, ${fmt(Math.max(...v))} at most: ${fmt(rise)}x`, pass: rise > 3 },
      { claim: 'Vulnerability tracks features per dimension (Spearman rank correlation above 0.8)', measured: `rho = ${fmt(rho)} over ${models.length} sparsities`, pass: rho > 0.8 },
    ];
    return {
      figures: [['adversarial', 'Vulnerability against sparsity', spec]],
      checks,
      settings: { models: `the geometry figure's ${n} -> ${m} models`, attack: `L2 norm ${ATTACK_SHARE} x the mean input norm, along (W^T W)_i / ||(W^T W)_i||, worst feature and sign per input`, inputs: INPUTS },
      data: { models },
    };
  },
};
