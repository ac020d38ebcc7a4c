/**
 * The two figures about neurons, from phase-diagram.ts's neuron sweeps (best of several models per density):
 * the privileged basis (a ReLU hidden layer, 10 features on 5 neurons) and computation in superposition (|x|
 * of 100 features with 40 neurons), with the asymmetric superposition motif counted in the |x| models.
 */
import { cellsOf, SHAPES } from '../phase/experiments.ts';
import { neuronBarsSpec, neuronCountSpec } from '../phase/plots.ts';
import type { NeuronCell, SweepResults, SweepRuns } from '../phase/sweep.ts';
import type { Figure } from '../phase/plots.ts';
import { CATEGORY_COLORS, featureRows, fmt, trainPhaseSweep, trainPresetRun, vl, type Check, type PaperContext, type PaperFigure } from './figure.ts';

const cellsAt = (results: SweepResults, pick: (d: number) => boolean): NeuronCell[] => (results.cells as NeuronCell[]).filter((c) => pick(c.density));
const countsAt = (cells: readonly NeuronCell[]): string => cells.map((c) => `${fmt(c.density)}: ${c.monosemantic}`).join(', ');
/** Monosemantic counts never rise by more than `slack` as the features get sparser (cells run dense to sparse). */
const falling = (cells: readonly NeuronCell[], slack: number): boolean => cells.every((c, k) => k === 0 || c.monosemantic <= cells[k - 1].monosemantic + slack);

export const privilegedBasis: PaperFigure = {
  name: 'privileged-basis',
  section: 'Superposition in a privileged basis',
  anchor: 'privileged-basis',
  title: 'Neurons go from monosemantic to polysemantic as sparsity rises',
  claim: 'With a ReLU hidden layer (10 features of importance 0.75^i on 5 neurons), dense features get one neuron each; from 1 - S of about 0.5 down to 0.2 the 3 most important keep dedicated neurons while the next share the others; by 0.04 and below every neuron is polysemantic.',
  cost: { quick: 10, full: 300 },
  async run(ctx) {
    const full = ctx.scale === 'full';
    const argv = ['--experiment', 'neuron', ...(full ? ['--seeds', '20', '--steps', '20000'] : [])];
    const { results } = await trainPhaseSweep(ctx, 'neuron sweep', argv);
    const cells = results.cells as NeuronCell[];
    const dense = cellsAt(results, (d) => d >= 0.5);
    const middle = cellsAt(results, (d) => d >= 0.2 && d < 0.5);
    const sparse = cellsAt(results, (d) => d <= 0.04);
    const checks: Check[] = [
      { claim: '1 - S >= 0.5: all 5 neurons monosemantic', measured: `monosemantic by 1 - S: ${countsAt(dense)}`, pass: dense.every((c) => c.monosemantic === 5) },
      { claim: '1 - S in 0.2-0.5: the 3 most important features keep dedicated neurons (3 monosemantic)', measured: `monosemantic by 1 - S: ${countsAt(middle)}`, pass: middle.every((c) => c.monosemantic === 3) },
      { claim: '1 - S <= 0.04: every neuron polysemantic', measured: `monosemantic by 1 - S: ${countsAt(sparse)}`, pass: sparse.every((c) => c.monosemantic === 0) },
      { claim: 'Monosemantic neurons only become fewer as sparsity rises (a neuron-level phase change)', measured: `dense to sparse: ${cells.map((c) => c.monosemantic).join(', ')}`, pass: falling(cells, 0) },
    ];
    return {
      figures: [
        ['neuron-counts', 'Monosemantic and polysemantic neurons against density', neuronCountSpec(results)],
        ['neuron-bars', 'Weights into each neuron (stacked by feature)', neuronBarsSpec(results, [1, 0.35, 0.15, 0.08, 0.02])],
      ],
      checks,
      settings: { ...results.config, densities: results.config.densities.map(fmt) },
      data: { cells: cells.map(({ runs, ...c }) => ({ ...c, seeds: runs })) },
    };
  },
};

/** A neuron holding two features with unequal input weights and reciprocal output weights (the paper's motif). */
export interface AsymmetricNeuron {
  neuron: number;
  /** The feature with the larger input weight (it interferes with `weak`) and the one with the smaller. */
  strong: number;
  weak: number;
  inputs: [number, number];
  outputs: [number, number];
  /**
   * The motif's second neuron: one the strong feature also drives (same sign, at least half as strongly) that
   * writes the weak feature's output down (at least half as much as this neuron writes it up), so the strong
   * feature's interference is cancelled, and made harmless by the output ReLU; null when there is none.
   */
  inhibitor: number | null;
}

/** Ratio both the input weights and the (inverted) output weights must reach to count as the motif. */
const MOTIF_RATIO = 2;

/**
 * The |x| model's asymmetric neurons: neuron j reads features a and b, |W1[a,j]| >= MOTIF_RATIO |W1[b,j]| (both
 * among its two largest inputs, b at least a tenth of a), and writes them back the other way round,
 * |W2[j,b]| >= MOTIF_RATIO |W2[j,a]|. W1 is [features][hidden] and W2 [hidden][features], both row-major.
 */
export function asymmetricNeurons(W1: readonly number[], W2: readonly number[], n: number, m: number): AsymmetricNeuron[] {
  const found: AsymmetricNeuron[] = [];
  for (let j = 0; j < m; j++) {
    const order = Array.from({ length: n }, (_, f) => f).sort((p, q) => Math.abs(W1[q * m + j]) - Math.abs(W1[p * m + j]));
    const [a, b] = order;
    const [inA, inB] = [W1[a * m + j], W1[b * m + j]];
    const [outA, outB] = [W2[j * n + a], W2[j * n + b]];
    if (Math.abs(inB) < 0.1 * Math.abs(inA) || Math.abs(inA) < MOTIF_RATIO * Math.abs(inB)) continue;
    if (!(Math.abs(outB) >= MOTIF_RATIO * Math.abs(outA) && Math.abs(outA) > 1e-6)) continue;
    // the partner that cancels a's interference on b: driven by a like j, writing b the other way round
    let inhibitor: number | null = null;
    for (let k = 0; k < m; k++) {
      const [drive, write] = [W1[a * m + k], W2[k * n + b]];
      if (k !== j && Math.sign(drive) === Math.sign(inA) && Math.abs(drive) >= 0.5 * Math.abs(inA) && Math.sign(write) === -Math.sign(outB) && Math.abs(write) >= 0.5 * Math.abs(outB)) {
        if (inhibitor === null || Math.abs(W2[k * n + b]) > Math.abs(W2[inhibitor * n + b])) inhibitor = k;
      }
    }
    found.push({ neuron: j, strong: a, weak: b, inputs: [inA, inB], outputs: [outA, outB], inhibitor });
  }
  return found;
}

export const computation: PaperFigure = {
  name: 'computation',
  section: 'Computation in superposition',
  anchor: 'computation',
  title: '|x| of 100 features with 40 neurons',
  claim: 'Computing |x| with a ReLU hidden layer, dense features each get a pair of monosemantic neurons; as sparsity rises more neurons become polysemantic, those of the most important features last, and at 1 - S = 0.001 all are. The model uses an asymmetric superposition motif: one neuron stores two features with unequal input weights and reciprocal output weights.',
  cost: { quick: 45, full: 600 },
  async run(ctx) {
    const full = ctx.scale === 'full';
    const argv = ['--experiment', 'computation', ...(full ? ['--seeds', '4', '--steps', '10000'] : [])];
    const { results, runs } = await trainPhaseSweep(ctx, 'computation sweep', argv);
    const cells = results.cells as NeuronCell[];
    const { hidden: m } = SHAPES.computation;
    const motifs = motifsOf(results, runs);
    const small = await motifModels(ctx);
    const at = (d: number) => cells.find((c) => Math.abs(c.density - d) < 1e-12)!;
    const live = (c: NeuronCell) => c.monosemantic + c.polysemantic;
    const share = (c: NeuronCell) => c.monosemantic / Math.max(1, live(c));
    const checks: Check[] = [
      { claim: '1 - S = 1 and 0.3: (nearly) all live neurons monosemantic (at least 90%)', measured: [1, 0.3].map((d) => `${d}: ${at(d).monosemantic} of ${live(at(d))} live`).join('; '), pass: share(at(1)) >= 0.9 && share(at(0.3)) >= 0.9 },
      {
        claim: '1 - S = 0.1: only a few neurons slightly polysemantic (at least 75% monosemantic)',
        measured: `${at(0.1).monosemantic} of ${live(at(0.1))} live monosemantic`,
        pass: share(at(0.1)) >= 0.75,
        note: "Known disagreement: the models trained here (and the official notebook's settings, 10,000 steps at lr 1e-3, batch 1024: 8 and 12 of 40) share many more neurons between two features at 1 - S = 0.1 than the paper's figure shows; the paper's training details for this model are not published. See docs/paper.md.",
      },
      { claim: '1 - S = 0.001: all neurons highly polysemantic (at most 10% monosemantic)', measured: `${at(0.001).monosemantic} of ${live(at(0.001))} live monosemantic`, pass: share(at(0.001)) <= 0.1 },
      { claim: 'Monosemantic neurons become fewer as sparsity rises (up to 2 either way)', measured: `dense to sparse: ${cells.map((c) => `${c.monosemantic}/${live(c)}`).join(', ')} (monosemantic/live of ${m})`, pass: falling(cells, 2) },
      {
        claim: `The asymmetric superposition motif appears: a neuron with input weights >= ${MOTIF_RATIO}:1 and reciprocal output weights >= 1:${MOTIF_RATIO}, with a second neuron that cancels the strong feature's interference (in the 100 -> 40 models, or in ${MOTIF_MODELS} small ones of ${MOTIF.features} features on ${MOTIF.hidden} neurons)`,
        measured: `100 -> 40, best model by 1 - S: ${cells.map((c, k) => `${fmt(c.density)}: ${motifs[k].length}`).join(', ')}; small models: ${small.filter((f) => f.length).length} of ${MOTIF_MODELS} have it (${small.flat().length} neurons, ${small.flat().filter((a) => a.inhibitor !== null).length} of them with the second, inhibiting neuron)`,
        pass: [...motifs, ...small].some((found) => found.some((a) => a.inhibitor !== null)),
      },
    ];
    const example = small.flatMap((found, model) => found.map((a) => ({ model, ...a })))[0];
    return {
      figures: [
        ['computation-counts', 'Monosemantic and polysemantic neurons against density', neuronCountSpec(results)],
        ['computation-bars', 'Input weights into each neuron (stacked by feature)', neuronBarsSpec(results, [1, 0.1, 0.01, 0.001])],
        ...(example ? [['computation-motif', 'The asymmetric superposition motif', motifSpec(example)] as Figure] : []),
      ],
      checks,
      settings: { ...results.config, densities: results.config.densities.map(fmt) },
      data: { cells: cells.map(({ runs: seeds, ...c }, k) => ({ ...c, seeds, asymmetric: motifs[k] })), motifModels: { ...MOTIF, models: MOTIF_MODELS, asymmetric: small } },
    };
  },
};

/**
 * Small |x| models where a public replication found the motif (6 features of importance 0.7^i, 10 neurons,
 * 1 - S = 0.2, batch 128, 5000 steps): the paper does not give its example model's sizes.
 */
const MOTIF = { features: 6, hidden: 10, importance: '0.7^i', density: 0.2, batch: 128, steps: 5000 };
const MOTIF_MODELS = 8;

async function motifModels(ctx: PaperContext): Promise<AsymmetricNeuron[][]> {
  const { features: n, hidden: m } = MOTIF;
  const doc = await trainPresetRun(ctx, 'motif models', { experiment: 'computation', features: n, hidden: m, importance: { decay: 0.7 }, densities: Array(MOTIF_MODELS).fill(MOTIF.density), steps: MOTIF.steps, batch: MOTIF.batch, seed: ctx.seed });
  // train.ts's orientation: W1 is m x n and W2 n x m; asymmetricNeurons reads W1 [features][hidden], W2 [hidden][features].
  return doc.instances.map((inst) => asymmetricNeurons(featureRows(inst.W1!).flat(), featureRows(inst.W2!).flat(), n, m));
}

/** One motif neuron: the two features' input and output weights side by side. */
function motifSpec(a: AsymmetricNeuron & { model: number }) {
  const values = [
    { feature: `feature ${a.strong} (strong)`, layer: 'input weight W1', weight: a.inputs[0] },
    { feature: `feature ${a.weak} (weak)`, layer: 'input weight W1', weight: a.inputs[1] },
    { feature: `feature ${a.strong} (strong)`, layer: 'output weight W2', weight: a.outputs[0] },
    { feature: `feature ${a.weak} (weak)`, layer: 'output weight W2', weight: a.outputs[1] },
  ];
  return vl({
    title: { text: `Neuron ${a.neuron} of small model ${a.model}: unequal inputs, reciprocal outputs`, subtitle: 'the strong feature drives the neuron and barely reads back; the weak one reads back strongly' },
    data: { values },
    facet: { column: { field: 'layer', type: 'nominal', title: null } },
    spec: { width: 160, height: 180, mark: 'bar', encoding: { x: { field: 'feature', type: 'nominal', title: null, axis: { labelAngle: 0 } }, y: { field: 'weight', type: 'quantitative', title: 'weight' }, color: { field: 'feature', type: 'nominal', scale: CATEGORY_COLORS, legend: null }, tooltip: [{ field: 'feature' }, { field: 'weight', format: '.3f' }] } },
  });
}

/** The asymmetric neurons of each cell's best model. */
function motifsOf(results: SweepResults, runs: SweepRuns): AsymmetricNeuron[][] {
  const cells = cellsOf(results.config);
  return (results.cells as NeuronCell[]).map((c, k) => {
    const best = runs[cells[k].index].find((r) => r.k === c.bestSeed)!;
    return asymmetricNeurons(best.W, best.W2!, SHAPES.computation.features, SHAPES.computation.hidden);
  });
}
