/**
 * The toy-model layer on independently known numbers: Adam/AdamW worked by hand from the published update rules,
 * the closed-form geometry metrics, the linear model's top-m solution, the intro figure's three geometries
 * (orthogonal pair, two antipodal pairs, pentagon), lossless JSON, restarts, gradient clipping, feature sets
 * and the script's flag errors.
 */
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { Tensor } from '../../src/autograd/tensor.ts';
import { createRng, deriveSeed } from '../../src/random.ts';
import { featureSets, sampleBatch, streamKeys } from '../../src/toy/data.ts';
import { float32Decimal, loadModel, saveModel } from '../../src/toy/io.ts';
import { countMonosemantic, countRepresented, featureMetrics, neuronMetrics } from '../../src/toy/metrics.ts';
import { ToyModel } from '../../src/toy/model.ts';
import { Adam, AdamW, clipGradNormPerInstance } from '../../src/toy/optim.ts';
import { trainPreset, type TrainDocument } from '../../src/toy/presets.ts';
import { train } from '../../src/toy/train.ts';

describe('Adam and AdamW, worked by hand from the published update rules', () => {
  // Two steps on p0 = [1, -2] with grads g1 = [0.5, 0.1], g2 = [-0.2, 0.3]; lr 0.1, betas (0.9, 0.999), eps 1e-8.
  // m_t = b1 m + (1-b1) g, v_t = b2 v + (1-b2) g^2, p -= lr * (m_t / (1-b1^t)) / (sqrt(v_t / (1-b2^t)) + eps);
  // AdamW first multiplies p by (1 - lr wd).
  const grads = [[0.5, 0.1], [-0.2, 0.3]];
  function byHand(wd: number, decoupled: boolean): number[][] {
    const p = [1, -2];
    const m = [0, 0];
    const v = [0, 0];
    return grads.map((g, t) => {
      for (let i = 0; i < 2; i++) {
        const gi = g[i] + (decoupled ? 0 : wd * p[i]);
        if (decoupled) p[i] *= 1 - 0.1 * wd;
        m[i] = 0.9 * m[i] + 0.1 * gi;
        v[i] = 0.999 * v[i] + 0.001 * gi * gi;
        const mHat = m[i] / (1 - 0.9 ** (t + 1));
        const vHat = v[i] / (1 - 0.999 ** (t + 1));
        p[i] -= (0.1 * mHat) / (Math.sqrt(vHat) + 1e-8);
      }
      return [...p];
    });
  }
  it.each([
    ['Adam', 0, false, (p: Tensor) => new Adam([p], { lr: 0.1 })],
    ['Adam with L2 0.1', 0.1, false, (p: Tensor) => new Adam([p], { lr: 0.1, weightDecay: 0.1 })],
    ['AdamW, default decay 0.01', 0.01, true, (p: Tensor) => new AdamW([p], { lr: 0.1 })],
  ] as const)('%s', (_name, wd, decoupled, make) => {
    const p = new Tensor(Float32Array.of(1, -2), [2], true);
    const opt = make(p);
    const expected = byHand(wd, decoupled);
    grads.forEach((g, t) => {
      p.grad = new Tensor(Float32Array.from(g), [2]);
      opt.step();
      expected[t].forEach((e, i) => expect(p.data[i]).toBeCloseTo(e, 6));
    });
    // The first Adam step moves every coordinate by lr (times the sign of g): m_hat / sqrt(v_hat) = g / |g|.
    if (!decoupled && wd === 0) expect(expected[0]).toEqual([expect.closeTo(0.9, 7), expect.closeTo(-2.1, 7)]);
  });
});

describe('metrics: the paper reference values on hand-built weights', () => {
  /** W (n x m row-major) from feature directions. */
  const W = (rows: number[][]) => Float32Array.from(rows.flat());
  const polygon = (k: number) => Array.from({ length: k }, (_, i) => [Math.cos((2 * Math.PI * i) / k), Math.sin((2 * Math.PI * i) / k)]);
  it.each([
    ['antipodal pair', 1 / 2, W([[1, 0], [-1, 0]]), 2],
    ['triangle', 2 / 3, W(polygon(3)), 2],
    ['pentagon', 2 / 5, W(polygon(5)), 2],
    ['tetrahedron', 3 / 4, W([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]].map((r) => r.map((v) => v / Math.sqrt(3)))), 3],
    ['dedicated dimensions', 1, W([[1, 0], [0, 1]]), 2],
  ])('%s: every feature has D = %f', (_name, D, w, m) => {
    const n = w.length / m;
    const f = featureMetrics(w, 0, n, m);
    // The notebook's unit vector W_i / (1e-5 + ||W_i||) scales D by up to (1 + 1e-5)^2 for unit features.
    for (const d of f.dimensionality) expect(Math.abs(d - D)).toBeLessThan(3e-5);
    // With unit-norm features, the dimensionalities add up to m / (features per dimension) and D* = m / n.
    expect(f.dimensionsPerFeature).toBeCloseTo(m / n, 5);
    expect(countRepresented(f.norms)).toBe(n);
  });

  it('an unlearned feature has D = 0, no superposition, and does not count as represented', () => {
    const f = featureMetrics(W([[1, 0], [0, 0], [0, 1]]), 0, 3, 2);
    expect(f.dimensionality).toEqual([expect.closeTo(1, 4), 0, expect.closeTo(1, 4)]);
    expect(f.superposition[1]).toBe(0);
    expect(countRepresented(f.norms)).toBe(2);
    expect(featureMetrics(new Float32Array(4), 0, 2, 2).dimensionsPerFeature).toBe(Infinity);
  });

  it('neuron monosemanticity is max_f |W_fn| / ||W_.n||; a dead neuron reads 0', () => {
    // 3 features x 3 neurons: neuron 0 reads feature 1 only, neuron 1 reads (3, -4) -> 4/5, neuron 2 is dead.
    const m = neuronMetrics(W([[0, 3, 0], [2, -4, 0], [0, 0, 0]]), 0, 3, 3);
    expect(m.monosemanticity).toEqual([1, 0.8, 0]);
    expect(m.topFeature).toEqual([1, 1, 0]);
    expect(countMonosemantic(m.monosemanticity)).toBe(1);
  });
});

describe('the linear model keeps exactly the m most important features', () => {
  it('n = 5, m = 2, dense: W^T W is close to diag(1, 1, 0, 0, 0)', () => {
    const r = train({ model: { kind: 'linear', instances: 1, features: 5, hidden: 2 }, importance: [1, 0.9, 0.81, 0.729, 0.6561], density: [1], batch: 1024, steps: 2000, lr: 1e-2, schedule: 'cosine', optimizer: 'adamw', seed: 0 });
    const w = r.model.W.data;
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        const gram = w[2 * i] * w[2 * j] + w[2 * i + 1] * w[2 * j + 1];
        // 0.05: the dropped features' weights decay slowly (the rival solution, another pair kept, is off by ~1).
        expect(Math.abs(gram - (i === j && i < 2 ? 1 : 0)), `(W^T W)[${i}][${j}]`).toBeLessThan(0.05);
      }
    }
    // The dropped features are predicted by their mean, E[x] = 1/2.
    for (const b of r.model.b.data.subarray(2)) expect(b).toBeCloseTo(0.5, 1);
  });
});

describe('the intro preset reproduces the paper\'s first figure (notebook settings: 10,000 steps, batch 1024, lr 1e-3)', () => {
  // Best of 3 restarts per density, as the paper refits its m = 2 models. ~25 s on 2 cores.
  let document: TrainDocument;
  beforeAll(() => {
    document = trainPreset({ experiment: 'intro', densities: [1, 0.3, 0.05], restarts: 3, evalBatch: 8192, seed: 0 }).document;
  }, 300_000);
  const direction = (i: number, f: number) => [document.instances[i].W![0][f], document.instances[i].W![1][f]];
  const cos = (a: number[], b: number[]) => (a[0] * b[0] + a[1] * b[1]) / Math.hypot(...a) / Math.hypot(...b);
  const degrees = (a: number[]) => (Math.atan2(a[1], a[0]) * 180) / Math.PI;

  it('density 1: the two most important features, orthogonal; the rest dropped', () => {
    const { norms } = document.instances[0].metrics;
    expect(norms.slice(0, 2).every((v) => Math.abs(v - 1) < 0.05)).toBe(true);
    expect(norms.slice(2).every((v) => v < 0.1)).toBe(true);
    expect(Math.abs(cos(direction(0, 0), direction(0, 1)))).toBeLessThan(0.05);
  });

  it('density 0.3: four features in two antipodal pairs at 90 degrees; the least important dropped', () => {
    const { norms, represented } = document.instances[1].metrics;
    expect(represented).toBe(4);
    expect(norms[4]).toBeLessThan(0.1);
    const partner = [0, 1, 2, 3].map((f) => [0, 1, 2, 3].find((g) => g !== f && cos(direction(1, f), direction(1, g)) < -0.99));
    expect(partner.every((g) => g !== undefined)).toBe(true);
    const other = [0, 1, 2, 3].find((g) => g !== 0 && g !== partner[0])!;
    expect(Math.abs(cos(direction(1, 0), direction(1, other)))).toBeLessThan(0.05);
  });

  it('density 0.05: all five features as a regular pentagon (neighbours 72 degrees apart)', () => {
    expect(document.instances[2].metrics.represented).toBe(5);
    const angles = [0, 1, 2, 3, 4].map((f) => degrees(direction(2, f))).sort((a, b) => a - b);
    const gaps = angles.map((a, k) => (k === 4 ? angles[0] + 360 - a : angles[k + 1] - a));
    for (const gap of gaps) expect(Math.abs(gap - 72)).toBeLessThan(4);
    for (const d of document.instances[2].metrics.dimensionality) expect(d).toBeCloseTo(0.4, 1);
  });

  it('restarts keep the lowest loss, and restart 0 is the run without restarts', () => {
    for (const inst of document.instances) expect(inst.loss).toBe(Math.min(...inst.restarts!.losses));
  });
});

describe('restarts', () => {
  const base = { model: { kind: 'relu-output' as const, instances: 2, features: 3, hidden: 2 }, importance: [1, 0.8, 0.6], density: [0.5, 0.1], batch: 64, steps: 40, lr: 1e-2, optimizer: 'adamw' as const, seed: 3, evalBatch: 512 };
  it('the kept model is, byte for byte, the one its restart seed trains alone', () => {
    const best = train({ ...base, restarts: 4 });
    for (let i = 0; i < 2; i++) {
      const { kept, losses } = best.restarts![i];
      expect(best.evalLosses![i]).toBe(Math.min(...losses));
      const seed = deriveSeed(3, i);
      const alone = train({ ...base, model: { ...base.model, instances: 1 }, density: [base.density[i]], instanceSeeds: [kept === 0 ? seed : deriveSeed(seed, 3, kept)] });
      expect(Buffer.from(best.model.W.data.slice(i * 6, (i + 1) * 6).buffer)).toEqual(Buffer.from(alone.model.W.data.buffer));
    }
  });

  it('restart 0 is the run without restarts', () => {
    const once = train(base);
    const best = train({ ...base, restarts: 3 });
    const restart0 = best.restarts!.map((r) => r.losses[0]);
    expect(restart0).toEqual([...once.evalLosses!]);
  });
});

describe('JSON round trip', () => {
  it.each([
    ['relu-output', {}],
    ['abs', {}],
    ['relu-hidden', { hiddenBias: true }],
  ] as const)('%s: every float32 bit survives save -> JSON text -> load', (kind, extra) => {
    const r = train({ model: { kind, instances: 2, features: 4, hidden: 3, ...extra }, importance: [1, 0.9, 0.8, 0.7], density: [1, 0.2], batch: 32, steps: 20, lr: 1e-2, optimizer: 'adamw', seed: 8 });
    const text = JSON.stringify(saveModel(r.model));
    const loaded = loadModel(JSON.parse(text));
    expect(loaded.parameters.length).toBe(r.model.parameters.length);
    r.model.parameters.forEach((p, k) => expect(Buffer.from(loaded.parameters[k].data.buffer)).toEqual(Buffer.from(p.data.buffer)));
  });

  it('weights are written in the paper orientation (W is m x n) as the shortest float32 decimals', () => {
    const model = new ToyModel({ kind: 'relu-output', instances: 1, features: 3, hidden: 2 }, null);
    model.W.data.set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6]); // internal [n, m]: feature 0 = (0.1, 0.2)
    expect(saveModel(model).instances[0].W).toEqual([[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]]);
    expect(float32Decimal(Math.fround(1 / 3))).toBe(0.33333334);
  });

  it('a misshapen document is an error naming the field', () => {
    const doc = saveModel(new ToyModel({ kind: 'relu-output', instances: 1, features: 3, hidden: 2 }, null));
    doc.instances[0].W = [[1, 2, 3]];
    expect(() => loadModel(doc)).toThrow('loadModel: instances[0].W: expected 2 entries, found 1');
    const good = saveModel(new ToyModel({ kind: 'relu-output', instances: 1, features: 3, hidden: 2 }, null));
    good.instances[0].b = [0, Infinity, 0];
    expect(() => loadModel(good)).toThrow('loadModel: instances[0].b[1]: expected a number in -3.4028234663852886e+38..3.4028234663852886e+38, found null');
  });

  it('sizes from the document are bounded before anything is allocated from them', () => {
    const doc = (model: object) => ({ config: { model: { kind: 'relu-output', ...model } }, instances: [] }) as unknown as Parameters<typeof loadModel>[0];
    expect(() => loadModel(doc({ instances: 1e9, features: 3, hidden: 2 }))).toThrow('loadModel: config.model.instances: expected an integer in 1..1000000, found 1000000000');
    expect(() => loadModel(doc({ instances: 1, features: -3, hidden: 2 }))).toThrow('loadModel: config.model.features: expected an integer in 1..1000000, found -3');
    expect(() => loadModel(doc({ instances: 1, features: 3, hidden: '2' }))).toThrow("loadModel: config.model.hidden: expected an integer in 1..1000000, found '2'");
    const huge = { config: { model: { kind: 'relu-output', instances: 1000, features: 1000, hidden: 1000 } }, instances: Array.from({ length: 1000 }, () => ({})) } as unknown as Parameters<typeof loadModel>[0];
    expect(() => loadModel(huge)).toThrow('loadModel: config.model describes 1000000000 weights per matrix (instances x features x hidden), more than the 134217728 a saved model may hold');
  });
});

describe('gradient clipping, per instance (torch.nn.utils.clip_grad_norm_ semantics)', () => {
  it('scales an instance by max / (norm + 1e-6) only when its norm is above max', () => {
    const W = new Tensor(new Float32Array(4), [2, 2], true);
    const b = new Tensor(new Float32Array(2), [2], true);
    W.grad = new Tensor(Float32Array.of(3, 0, 0.1, 0.2), [2, 2]); // instance 0: (3, 0) with b 4 -> norm 5
    b.grad = new Tensor(Float32Array.of(4, 0.2), [2]); // instance 1: (0.1, 0.2, 0.2) -> norm 0.3
    const norms = clipGradNormPerInstance([W, b], 1, new Float64Array(2));
    expect([...norms]).toEqual([5, expect.closeTo(0.3, 7)]);
    const c = 1 / (5 + 1e-6);
    expect([...W.grad.data]).toEqual([Math.fround(3 * c), 0, Math.fround(0.1), Math.fround(0.2)]);
    expect(b.grad.data[0]).toBe(Math.fround(4 * c));
  });
});

describe('correlated and anticorrelated feature sets', () => {
  const batch = 20_000;
  const p = 0.3;
  const x = sampleBatch({ instances: 1, batch, features: 5, density: [p], sets: [...featureSets('correlated', 1, 2), ...featureSets('anticorrelated', 1, 2, 2, 'per-set')] }, streamKeys(['sets']), 4);
  const col = (f: number) => Array.from({ length: batch }, (_, r) => x[r * 5 + f]);
  const se = (q: number) => 5 * Math.sqrt((q * (1 - q)) / batch);

  it('a correlated pair is on and off together, each member with the density, values independent U[0,1)', () => {
    const [a, b] = [col(0), col(1)];
    expect(a.every((v, r) => (v !== 0) === (b[r] !== 0))).toBe(true);
    const on = a.filter((v) => v !== 0).length / batch;
    expect(Math.abs(on - p)).toBeLessThan(se(p));
    const both = a.flatMap((v, r) => (v !== 0 ? [[v, b[r]]] : []));
    const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
    const [ma, mb] = [mean(both.map((q) => q[0])), mean(both.map((q) => q[1]))];
    const cov = mean(both.map(([u, v]) => (u - ma) * (v - mb)));
    expect(Math.abs(ma - 0.5)).toBeLessThan(0.02);
    expect(Math.abs(cov)).toBeLessThan(5 * (1 / 12) / Math.sqrt(both.length)); // independent values
  });

  it("an anticorrelated pair with a per-member density (ARENA's rule, the default): each member keeps p, never both", () => {
    const y = sampleBatch({ instances: 1, batch, features: 3, density: [p], sets: featureSets('anticorrelated', 1, 3) }, streamKeys(['arena']), 4);
    const member = (f: number) => Array.from({ length: batch }, (_, r) => y[r * 3 + f]);
    const [a, b, c] = [member(0), member(1), member(2)];
    expect(a.some((v, r) => [v, b[r], c[r]].filter((u) => u !== 0).length > 1)).toBe(false);
    for (const m of [a, b, c]) expect(Math.abs(m.filter((v) => v !== 0).length / batch - p)).toBeLessThan(se(p));
    // size * p above 1 is capped: the set is always on, each member 1/size of the time
    const z = sampleBatch({ instances: 1, batch: 4000, features: 2, density: [0.8], sets: featureSets('anticorrelated', 1, 2) }, streamKeys(['cap']), 0);
    expect(Array.from({ length: 4000 }, (_, r) => (z[2 * r] !== 0) !== (z[2 * r + 1] !== 0)).every(Boolean)).toBe(true);
  });

  it('an anticorrelated pair with a per-set density is never on together: one member with probability p, each p/2', () => {
    const [a, b] = [col(2), col(3)];
    expect(a.some((v, r) => v !== 0 && b[r] !== 0)).toBe(false);
    const any = a.filter((v, r) => v !== 0 || b[r] !== 0).length / batch;
    expect(Math.abs(any - p)).toBeLessThan(se(p));
    expect(Math.abs(a.filter((v) => v !== 0).length / batch - p / 2)).toBeLessThan(se(p / 2));
  });

  it('the feature outside every set stays independent with density p', () => {
    expect(Math.abs(col(4).filter((v) => v !== 0).length / batch - p)).toBeLessThan(se(p));
  });

  it('overlapping or out-of-range sets are errors', () => {
    const spec = { instances: 1, batch: 1, features: 3, density: [1] };
    expect(() => sampleBatch({ ...spec, sets: [{ kind: 'correlated', features: [0, 1] }, { kind: 'anticorrelated', features: [1, 2] }] }, streamKeys(['a']), 0)).toThrow('sampleBatch: feature 1 is in more than one set');
    expect(() => sampleBatch({ ...spec, sets: [{ kind: 'correlated', features: [2, 3] }] }, streamKeys(['a']), 0)).toThrow('sampleBatch: feature set 0 names feature 3, expected an integer in 0..2');
  });
});

describe('scripts/train.ts', () => {
  const run = (...args: string[]) => spawnSync('npx', ['tsx', 'scripts/train.ts', ...args], { encoding: 'utf8' });

  it.each([
    [['--experiment', 'nope'], '--experiment nope: expected one of intro, sparsity, geometry, neuron, computation'],
    [['--density', '0.5,1.5'], "--density 0.5,1.5: '1.5' is not a density; expected numbers in (0, 1], comma-separated"],
    [['--steps', '2.5'], '--steps 2.5: expected an integer in 1..10000000'],
    [['--importance', 'decay:2'], '--importance decay:2: expected preset, uniform or decay:R with R in (0, 1] (e.g. decay:0.9)'],
    [['--importance', 'steep'], '--importance steep: expected preset, uniform or decay:R'],
    [['--features', '3', '--correlated', '2'], '--correlated 2 --anticorrelated 0 --set-size 2: 4 features in sets, the model has 3'],
    [['--set-density', 'half'], '--set-density half: expected one of per-member, per-set'],
  ])('%j exits 2 naming the flag, the value and the range', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('the same seed writes the same bytes, another seed differs', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'train-'));
    const write = (seed: number, name: string) => {
      const r = run('--experiment', 'neuron', '--density', '1,0.1', '--steps', '30', '--batch', '64', '--restarts', '2', '--seed', String(seed), '--json', join(dir, name));
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, name));
    };
    const [a, b, c] = [write(1, 'a.json'), write(1, 'b.json'), write(2, 'c.json')];
    expect(a.equals(b)).toBe(true);
    expect(a.equals(c)).toBe(false);
    const doc = JSON.parse(a.toString());
    expect(doc.instances).toHaveLength(2);
    expect(doc.instances[0].W).toHaveLength(5); // m rows
    expect(doc.instances[0].W[0]).toHaveLength(10); // of n
    expect(doc.instances[0].metrics.neuronMonosemanticity).toHaveLength(5);
  });

  it('--features, --hidden, --importance and --snapshots shape the model and the JSON', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'train-')), 'g.json');
    const r = run('--experiment', 'geometry', '--features', '12', '--hidden', '3', '--importance', 'decay:0.5', '--density', '0.2', '--steps', '25', '--batch', '32', '--snapshots', '10', '--json', file);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(readFileSync(file, 'utf8'));
    expect(doc.config.model).toMatchObject({ features: 12, hidden: 3 });
    expect(doc.config.importance).toEqual(Array.from({ length: 12 }, (_, i) => 0.5 ** i));
    const inst = doc.instances[0];
    expect(inst.snapshots.map((s: { step: number }) => s.step)).toEqual([0, 10, 20, 25]);
    expect(inst.snapshots.at(-1).W).toEqual(inst.W); // the last snapshot is the final model
    expect(inst.snapshots[0].W).toHaveLength(3);
    expect(inst.snapshots[0].W[0]).toHaveLength(12);
  });
});

describe('the monosemanticity cut-off', () => {
  it('is one flag with the sweeps\' default: max|W_fn|/||W_.n|| lies in (0, 1], so a cut-off of 1 counts none and 0 counts every neuron', () => {
    const count = (monosemanticity?: number) => trainPreset({ experiment: 'neuron', densities: [1], steps: 30, batch: 64, seed: 1, ...(monosemanticity === undefined ? {} : { monosemanticity }) }).document.instances[0].metrics.monosemanticNeurons;
    expect(count(1)).toBe(0);
    expect(count(0)).toBe(5);
    const ratios = trainPreset({ experiment: 'neuron', densities: [1], steps: 30, batch: 64, seed: 1 }).document.instances[0].metrics.neuronMonosemanticity!;
    expect(count()).toBe(ratios.filter((r) => r > 0.95).length); // the default is the sweeps' MONOSEMANTIC, 0.95
  });
});
