/**
 * The paper's toy models, many instances at once. Weights follow the official notebook's layout: W is
 * [instances, features, hidden] (row f of an instance is feature f's direction), b is [instances, features].
 *
 *   linear          x' = W^T W x + b
 *   relu-output     x' = ReLU(W^T W x + b)            (tied weights; the paper's main model)
 *   relu-hidden     x' = ReLU(W^T ReLU(W x + c) + b)  (privileged basis: hidden neurons; bias c optional, off by default)
 *   abs             y' = ReLU(W2 ReLU(W1 x) + b)      (untied; computes |x|)
 *
 * Everything is built from autograd ops, so gradients come from the engine, not from hand-written rules.
 */
import { add, matmul, mean, mul, relu, reshape, square, sub, sum, abs as absOp } from '../autograd/ops.ts';
import { Tensor } from '../autograd/tensor.ts';
import type { Rng } from '../random.ts';
import { getBackend } from '../kernels/registry.ts';
import { hasDevice } from '../kernels/types.ts';
import { biasRelu, importanceMse, isSmallTiedModel, reluOutputLoss, tiedOutputLoss, tiedProduct, tiedReluLoss } from './fused.ts';

/** The toy model variants (see the module comment for each one's formula). */
export type ModelKind = 'linear' | 'relu-output' | 'relu-hidden' | 'abs';
/** Every model kind (what a saved model's kind is checked against). */
export const MODEL_KINDS: readonly ModelKind[] = ['linear', 'relu-output', 'relu-hidden', 'abs'];

/**
 * How W is initialised (normal, mean 0). 'per-instance': Xavier for one n x m matrix, sqrt(2/(n+m)), what the
 * paper's single model gets. 'notebook': what torch.nn.init.xavier_normal_ gives on the notebook's 3-D tensor,
 * sqrt(2/(m(n+I))), which shrinks as instances are added.
 */
export type InitScheme = 'per-instance' | 'notebook';

/** A model's kind and sizes (instances, features, hidden dimensions), and how it is initialised and run. */
export interface ToyModelSpec {
  kind: ModelKind;
  instances: number;
  features: number;
  hidden: number;
  init?: InitScheme;
  /**
   * Instances the notebook's 3-D fan counts (default: this model's). A sweep trained in chunks passes its total
   * run count, so a run's initial weights do not depend on which chunk it landed in.
   */
  fanInstances?: number;
  /**
   * Use the fused bias+ReLU and loss primitives (default): the same functions as the plain op compositions,
   * in fewer passes over the batch. false builds the model from the primitive ops alone.
   */
  fused?: boolean;
  /** relu-hidden only: a hidden-layer bias c [instances, hidden] (the paper's model has none). */
  hiddenBias?: boolean;
  /**
   * On a backend with device memory (gpu.js), run the tied models' two products as one primitive that keeps
   * the hidden activations on the device between forward and backward (tiedProduct; default). The same bits
   * as the two matmuls; false runs them as separate ops, each uploading its operands and reading back.
   */
  deviceChain?: boolean;
}

/** Standard deviation of W's normal initialisation under the spec's InitScheme. */
export function initStd(spec: ToyModelSpec): number {
  const { features: n, hidden: m } = spec;
  const I = spec.fanInstances ?? spec.instances;
  // torch's fans on a 3-D tensor: fan_in = size(1)*size(2), fan_out = size(0)*size(2).
  return (spec.init ?? 'per-instance') === 'notebook' ? Math.sqrt(2 / (n * m + I * m)) : Math.sqrt(2 / (n + m));
}

/** Many instances of one toy model trained side by side: W [instances, features, hidden], b [instances, features]. */
export class ToyModel {
  readonly W: Tensor;
  /** Second layer [instances, hidden, features], only for the untied 'abs' model. */
  readonly W2: Tensor | null;
  readonly b: Tensor;
  /** Hidden-layer bias [instances, hidden], only for relu-hidden with `hiddenBias`. */
  readonly bHidden: Tensor | null;

  /**
   * With one Rng per instance, instance i's weights come from rngs[i] alone (W, then W2). rng null leaves every
   * parameter zero (for loading weights). Biases start at zero, as in the notebook.
   */
  constructor(readonly spec: ToyModelSpec, rng: Rng | readonly Rng[] | null) {
    const { instances: I, features: n, hidden: m } = spec;
    for (const [name, v] of Object.entries({ instances: I, features: n, hidden: m })) {
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`ToyModel: ${name} = ${v}, expected an integer >= 1`);
    }
    if (spec.hiddenBias && spec.kind !== 'relu-hidden') throw new RangeError(`ToyModel: hiddenBias is for the relu-hidden model, not ${spec.kind}`);
    if (Array.isArray(rng) && rng.length !== I) throw new RangeError(`ToyModel: ${rng.length} generators for ${I} instances`);
    const std = initStd(spec);
    this.W = new Tensor(new Float32Array(I * n * m), [I, n, m], true);
    this.W2 = spec.kind === 'abs' ? new Tensor(new Float32Array(I * m * n), [I, m, n], true) : null;
    this.b = new Tensor(new Float32Array(I * n), [I, n], true);
    this.bHidden = spec.hiddenBias ? new Tensor(new Float32Array(I * m), [I, m], true) : null;
    if (rng === null) return;
    for (let i = 0; i < I; i++) {
      const r = Array.isArray(rng) ? (rng as readonly Rng[])[i] : (rng as Rng);
      r.fillNormal(this.W.data.subarray(i * n * m, (i + 1) * n * m), 0, std);
      if (this.W2) r.fillNormal(this.W2.data.subarray(i * m * n, (i + 1) * m * n), 0, std);
    }
  }

  get parameters(): Tensor[] {
    return [this.W, ...(this.W2 ? [this.W2] : []), this.b, ...(this.bHidden ? [this.bHidden] : [])];
  }

  /** x: [instances, batch, features] -> [instances, batch, features]. */
  forward(x: Tensor): Tensor {
    const { instances: I, features: n, kind } = this.spec;
    const pre = this.outputPre(x);
    return kind === 'linear' ? add(pre, reshape(this.b, [I, 1, n])) : this.reluWithBias(pre, this.b);
  }

  /** relu(pre + bias) over the last axis: one fused op, or the plain composition. */
  private reluWithBias(pre: Tensor, bias: Tensor): Tensor {
    const I = this.spec.instances;
    return (this.spec.fused ?? true) ? biasRelu(pre, bias) : relu(add(pre, reshape(bias, [I, 1, bias.shape[1]])));
  }

  /** The output layer's input before its bias: h W^T for the tied models, h W2 for |x| ([instances, batch, features]). */
  private outputPre(x: Tensor): Tensor {
    const { kind } = this.spec;
    const fused = this.spec.fused ?? true;
    if (kind === 'abs') return matmul(relu(matmul(x, this.W)), this.W2!);
    const chained = fused && kind !== 'relu-hidden' && (this.spec.deviceChain ?? true) && hasDevice(getBackend());
    if (chained) return tiedProduct(x, this.W);
    let h = matmul(x, this.W); // [I, B, m]
    if (kind === 'relu-hidden') h = this.bHidden ? this.reluWithBias(h, this.bHidden) : relu(h);
    return matmul(h, this.W, { transposeB: true });
  }

  /** The target the model should reproduce: x itself, or |x| for the computation model. */
  target(x: Tensor): Tensor {
    return this.spec.kind === 'abs' ? absOp(x) : x;
  }

  /**
   * Per-instance loss [instances]: mean over batch and features of importance * (target - out)^2 (the
   * notebook's reduction; the paper's sum over features is n times this). importance: [features] or [instances, features].
   */
  instanceLosses(x: Tensor, importance: Tensor): Tensor {
    const { kind } = this.spec;
    if ((this.spec.fused ?? true) && isSmallTiedModel(this.spec)) return tiedReluLoss(x, this.W, this.b, importance);
    // (on a backend with device memory, tiedProduct keeps h there instead)
    if ((this.spec.fused ?? true) && kind === 'relu-output' && !hasDevice(getBackend())) return tiedOutputLoss(x, this.W, this.b, importance);
    if ((this.spec.fused ?? true) && kind !== 'linear') return reluOutputLoss(this.outputPre(x), this.b, this.target(x), importance);
    if (this.spec.fused ?? true) return importanceMse(this.forward(x), this.target(x), importance);
    const imp = importance.rank === 2 ? reshape(importance, [this.spec.instances, 1, this.spec.features]) : importance;
    return mean(mul(imp, square(sub(this.target(x), this.forward(x)))), [1, 2]);
  }

  /** The training objective: per-instance losses summed, so each instance's gradient is its own. */
  loss(x: Tensor, importance: Tensor): Tensor {
    return sum(this.instanceLosses(x, importance));
  }
}
