/**
 * Numerical check of vector-Jacobian products by random projections (JAX's check_vjp, HIPS's check_grads):
 * for random directions u (on the inputs) and v (on the output), the VJP must satisfy
 *   <u, VJP(v)>  ~=  <(f(x + eps u) - f(x - eps u)) / (2 eps), v>.
 * Two evaluations of f per input instead of a full Jacobian. Defaults suit float32 storage: a central difference
 * in float32 carries a relative error near 1e-4 at eps = 1e-3, so the tolerance is 1e-2 relative to the scale
 * sum_i |u_i VJP(v)_i| (which, unlike |<u, VJP(v)>|, cannot cancel to zero by chance).
 */
import { createRng } from '../random.ts';
import { noGrad } from './engine.ts';
import { Tensor } from './tensor.ts';

/** Options for gradcheck; the defaults suit float32 storage. */
export interface GradcheckOptions {
  seed?: number | string;
  /** Step of the central difference along the unit-variance random direction. */
  eps?: number;
  /** Relative tolerance, against sum_i |u_i g_i|. */
  rtol?: number;
  /** Absolute tolerance. */
  atol?: number;
}

/** The check for one input: analytic and numeric projections, their error and the tolerance it must meet. */
export interface GradcheckInputReport {
  /** <u, VJP(v)> from the gradient rules. */
  analytic: number;
  /** <central difference along u, v>. */
  numeric: number;
  error: number;
  tolerance: number;
  ok: boolean;
}

/** The result of gradcheck: `ok` when every input passes. */
export interface GradcheckReport {
  ok: boolean;
  /** One entry per input, in order: a failing input names the gradient that is wrong. */
  inputs: GradcheckInputReport[];
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Check f's gradients at `inputs` (only values and shapes are read; the caller's tensors are not touched).
 * @example expect(gradcheck((a, b) => mul(a, b), [x, y]).ok).toBe(true)
 */
export function gradcheck(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const { seed = 0, eps = 1e-3, rtol = 1e-2, atol = 1e-5 } = options;
  const rng = createRng(`gradcheck/${seed}`);
  const leaves = inputs.map((x) => new Tensor(x.data.slice(), x.shape, true));
  const out = f(...leaves);
  if (!out.requiresGrad) throw new Error('gradcheck: the output does not depend on any input through differentiable ops');
  const v = rng.fillNormal(new Float32Array(out.size));
  out.backward(new Tensor(v, out.shape));

  const report = leaves.map((leaf, i): GradcheckInputReport => {
    const u = rng.fillNormal(new Float32Array(leaf.size));
    const g = leaf.grad?.data ?? new Float32Array(leaf.size);
    const shifted = (sign: number): Float32Array => {
      const args = leaves.map((x) => new Tensor(x.data, x.shape));
      const moved = leaf.data.slice();
      for (let k = 0; k < moved.length; k++) moved[k] += sign * eps * u[k];
      args[i] = new Tensor(moved, leaf.shape);
      return noGrad(() => f(...args)).data;
    };
    const plus = shifted(+1);
    const minus = shifted(-1);
    let numeric = 0;
    for (let k = 0; k < v.length; k++) numeric += ((plus[k] - minus[k]) / (2 * eps)) * v[k];
    const analytic = dot(u, g);
    let scale = 0;
    for (let k = 0; k < u.length; k++) scale += Math.abs(u[k] * g[k]);
    const error = Math.abs(analytic - numeric);
    const tolerance = atol + rtol * Math.max(scale, Math.abs(numeric));
    return { analytic, numeric, error, tolerance, ok: error <= tolerance };
  });
  return { ok: report.every((r) => r.ok), inputs: report };
}
