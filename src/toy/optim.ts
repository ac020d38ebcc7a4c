/**
 * Adam and AdamW with PyTorch's semantics (torch.optim, v1.13): bias-corrected moments; AdamW decays weights
 * multiplicatively (p *= 1 - lr*wd) before the Adam step, Adam with weight_decay adds wd*p to the gradient.
 * Defaults are PyTorch's: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 0 for Adam and 1e-2 for AdamW.
 * The update runs in place on the parameters' storage, allocation-free.
 */
import type { Tensor } from '../autograd/tensor.ts';
import { powInt } from '../math.ts';
import { getBackend } from '../kernels/registry.ts';

/** Adam/AdamW hyperparameters; omitted ones take PyTorch's defaults. */
export interface AdamOptions {
  lr?: number;
  betas?: [number, number];
  eps?: number;
  weightDecay?: number;
  /** true: AdamW's decoupled decay; false: Adam's L2 term added to the gradient. */
  decoupled?: boolean;
}

/** PyTorch's Adam/AdamW settings, defaults filled in: weight decay 0 for Adam, 1e-2 for AdamW. */
export function adamSettings(decoupled: boolean, weightDecay?: number): { betas: [number, number]; eps: number; weightDecay: number; decoupled: boolean } {
  return { betas: [0.9, 0.999], eps: 1e-8, weightDecay: weightDecay ?? (decoupled ? 1e-2 : 0), decoupled };
}

/**
 * The scalars of Adam's t-th step (1-based) at learning rate lr, in float64: the bias-corrected step size, the
 * second moment's correction, AdamW's multiplicative decay and Adam's L2 term. The CPU step and the device
 * trainer's schedule both use these, so they cannot drift apart.
 */
export function adamStepScalars(s: { betas: readonly [number, number]; weightDecay: number; decoupled: boolean }, lr: number, t: number): { stepSize: number; bc2Sqrt: number; decay: number; l2: number } {
  const [b1, b2] = s.betas;
  return { stepSize: lr / (1 - powInt(b1, t)), bc2Sqrt: Math.sqrt(1 - powInt(b2, t)), decay: s.decoupled ? 1 - lr * s.weightDecay : 1, l2: s.decoupled ? 0 : s.weightDecay };
}

/** Adam (AdamW with `decoupled`) over a list of parameters, updated in place from their gradients. */
export class Adam {
  readonly lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  readonly decoupled: boolean;
  private readonly m: Float32Array[];
  private readonly v: Float32Array[];
  private t = 0;

  constructor(readonly params: Tensor[], options: AdamOptions = {}) {
    const defaults = adamSettings(options.decoupled ?? false, options.weightDecay);
    this.lr = options.lr ?? 1e-3;
    this.betas = options.betas ?? defaults.betas;
    this.eps = options.eps ?? defaults.eps;
    this.decoupled = defaults.decoupled;
    this.weightDecay = options.weightDecay ?? 0;
    this.m = params.map((p) => new Float32Array(p.size));
    this.v = params.map((p) => new Float32Array(p.size));
  }

  get steps(): number {
    return this.t;
  }

  /** One update from the parameters' current .grad (a missing grad counts as zero, as PyTorch skips it). */
  step(lrScale = 1): void {
    this.t++;
    const [b1, b2] = this.betas;
    const { stepSize, bc2Sqrt, decay, l2 } = adamStepScalars(this, this.lr * lrScale, this.t);
    this.params.forEach((p, k) => {
      const g = p.grad?.data;
      if (!g) return;
      const w = p.data;
      const m = this.m[k];
      const v = this.v[k];
      // The backend's own version of the loop below (the wasm backend's SIMD kernel, the same bits), if it has one.
      if (getBackend().adamUpdate?.({ w, g, m, v, b1, b2, eps: this.eps, stepSize, bc2Sqrt, decay, l2 })) return;
      for (let i = 0; i < w.length; i++) {
        const gi = g[i] + l2 * w[i];
        w[i] *= decay;
        m[i] = b1 * m[i] + (1 - b1) * gi;
        v[i] = b2 * v[i] + (1 - b2) * gi * gi;
        w[i] -= (stepSize * m[i]) / (Math.sqrt(v[i]) / bc2Sqrt + this.eps);
      }
    });
  }

  /** Clear every parameter's gradient (set it to null) before the next backward pass. */
  zeroGrad(): void {
    for (const p of this.params) p.grad = null;
  }
}

/** AdamW: Adam with decoupled weight decay (PyTorch default 1e-2). */
export class AdamW extends Adam {
  constructor(params: Tensor[], options: Omit<AdamOptions, 'decoupled'> = {}) {
    super(params, { weightDecay: 1e-2, ...options, decoupled: true });
  }
}

/**
 * torch.nn.utils.clip_grad_norm_ (L2, coefficient maxNorm / (norm + 1e-6), applied only when below 1) for each
 * instance on its own: every parameter's leading axis is the instance axis, and an instance's norm runs over its
 * slices of all parameters. Clipping over all instances at once (what torch does on the notebook's tensors)
 * would let one instance's gradient shrink another's, and a model's result depend on its batch-mates.
 * Writes each instance's norm before clipping into `norms`.
 */
export function clipGradNormPerInstance(params: readonly Tensor[], maxNorm: number, norms: Float64Array): Float64Array {
  const instances = norms.length;
  norms.fill(0);
  for (const p of params) {
    const g = p.grad?.data;
    if (!g) continue;
    const per = g.length / instances;
    for (let i = 0; i < instances; i++) {
      let s = 0;
      for (let k = i * per; k < (i + 1) * per; k++) s += g[k] * g[k];
      norms[i] += s;
    }
  }
  for (let i = 0; i < instances; i++) norms[i] = Math.sqrt(norms[i]);
  for (const p of params) {
    const g = p.grad?.data;
    if (!g) continue;
    const per = g.length / instances;
    for (let i = 0; i < instances; i++) {
      const coef = maxNorm / (norms[i] + 1e-6);
      if (coef < 1) for (let k = i * per; k < (i + 1) * per; k++) g[k] *= coef;
    }
  }
  return norms;
}
