/**
 * The expected loss of trained models, stratified over which features are active. At low density the solutions
 * the phase diagrams tell apart differ only when two features are active at once (probability ~s^2): a plain
 * batch holds a handful of such samples, so its loss cannot rank them. Here every activity pattern gets the same
 * number of samples and its exact probability as weight, so rare patterns are measured as well as common ones.
 * Feasible while 2^features is small (the feature sweeps and the intro model).
 */
import { noGrad } from '../autograd/engine.ts';
import { Tensor } from '../autograd/tensor.ts';
import type { Rng } from '../random.ts';
import type { ToyModel } from './model.ts';

export const MAX_STRATIFIED_FEATURES = 8;

/**
 * Per instance: sum over activity patterns P of Pr(P) * mean over `perPattern` samples of the model's loss
 * (importance-weighted squared error, mean over features), active features U[0,1), from rngs[i].
 */
export function stratifiedLoss(model: ToyModel, density: readonly number[], importance: Tensor, perPattern: number, rngs: readonly Rng[]): Float64Array {
  const { instances: I, features: n } = model.spec;
  if (n > MAX_STRATIFIED_FEATURES) throw new RangeError(`stratifiedLoss: ${n} features make 2^${n} patterns (at most ${MAX_STRATIFIED_FEATURES} features)`);
  if (model.spec.kind === 'abs') throw new RangeError('stratifiedLoss: the |x| model draws signed values; use a plain evaluation batch');
  const patterns = 1 << n;
  const B = patterns * perPattern;
  const x = new Float32Array(I * B * n);
  for (let i = 0; i < I; i++) {
    const u = rngs[i].fillUniform(new Float32Array(B * n));
    for (let q = 0; q < B; q++) {
      const pattern = Math.floor(q / perPattern);
      for (let f = 0; f < n; f++) x[(i * B + q) * n + f] = (pattern >> f) & 1 ? u[q * n + f] : 0;
    }
  }
  const xs = new Tensor(x, [I, B, n]);
  const out = noGrad(() => model.forward(xs)).data;
  const imp = importance.data;
  const perInstanceImp = importance.rank === 2;
  const losses = new Float64Array(I);
  for (let i = 0; i < I; i++) {
    const s = density[i];
    for (let pattern = 0; pattern < patterns; pattern++) {
      let prob = 1;
      for (let f = 0; f < n; f++) prob *= (pattern >> f) & 1 ? s : 1 - s;
      if (prob === 0) continue;
      let sum = 0;
      for (let q = pattern * perPattern; q < (pattern + 1) * perPattern; q++) {
        for (let f = 0; f < n; f++) {
          const k = (i * B + q) * n + f;
          const e = x[k] - out[k];
          sum += imp[perInstanceImp ? i * n + f : f] * e * e;
        }
      }
      losses[i] += (prob * sum) / (perPattern * n);
    }
  }
  return losses;
}
