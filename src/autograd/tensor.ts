/**
 * Tensor: a row-major contiguous Float32Array with a shape, an optional gradient, and (when it was produced by an
 * op that needs gradients) the graph node that made it. Plus the ways to create one.
 */
import { fmt, sizeOf, type Shape } from '../kernels/shape.ts';
import type { Rng } from '../random.ts';
import { backward, type GraphNode } from './engine.ts';

function checkShape(shape: Shape, what: string): Shape {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) throw new RangeError(`${what}: invalid shape ${fmt(shape)} (dimensions must be integers >= 0)`);
  return shape;
}

export type NestedArray = number | NestedArray[];
export interface TensorOptions {
  requiresGrad?: boolean;
}

export class Tensor {
  /** Gradient accumulated by backward() (leaves only, as in PyTorch); same shape as the tensor. */
  grad: Tensor | null = null;
  readonly size: number;

  constructor(
    readonly data: Float32Array,
    readonly shape: Shape,
    public requiresGrad = false,
    /** The op and inputs that produced this tensor, when gradients flow through it; null for leaves. */
    readonly node: GraphNode | null = null,
  ) {
    this.size = sizeOf(checkShape(shape, 'Tensor'));
    if (data.length !== this.size) {
      throw new RangeError(`Tensor: data has ${data.length} elements but shape ${fmt(shape)} needs ${this.size}`);
    }
  }

  get rank(): number {
    return this.shape.length;
  }

  /**
   * Back-propagate from this tensor. A tensor of one element is seeded with 1; any other needs `gradient`
   * (the vector of the vector-Jacobian product), of the same shape.
   */
  backward(gradient?: Tensor): void {
    backward(this, gradient);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new RangeError(`item: tensor of shape ${fmt(this.shape)} has ${this.size} elements, not 1`);
    return this.data[0];
  }

  /** A nested JavaScript array of the values (a number for rank 0). */
  toArray(): NestedArray {
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return this.data[offset];
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /** The same values, cut from the graph (shares storage). */
  detach(): Tensor {
    return new Tensor(this.data, this.shape);
  }

  /** A deep copy, cut from the graph. */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  /** A short description: shape, requiresGrad, and the values when there are at most 64. */
  toString(): string {
    const body = this.size <= 64 ? JSON.stringify(this.toArray()) : `${this.size} values`;
    return `Tensor(${fmt(this.shape)}${this.requiresGrad ? ', requiresGrad' : ''}) ${body}`;
  }
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let level: NestedArray = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    level = level[0];
  }
  return shape;
}

function flatten(data: NestedArray, shape: Shape, out: Float32Array): void {
  let k = 0;
  const walk = (x: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (typeof x !== 'number') throw new TypeError(`tensor: ragged nested array: expected a number at ${path || 'top'}, got ${Array.isArray(x) ? 'an array' : typeof x}`);
      out[k++] = x;
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[dim]) {
      throw new TypeError(`tensor: ragged nested array at ${path || 'top'}: expected ${shape[dim]} entries like the first row (inferred shape ${fmt(shape)})`);
    }
    x.forEach((v, i) => walk(v, dim + 1, `${path}[${i}]`));
  };
  walk(data, 0, '');
}

/**
 * Make a tensor from a number, a nested array, or flat values with an explicit shape. The values are copied.
 * @example tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true })
 */
export function tensor(data: NestedArray | ArrayLike<number>, shape?: Shape, options: TensorOptions = {}): Tensor {
  let out: Float32Array;
  let finalShape: number[];
  if (typeof data === 'number') {
    finalShape = [];
    out = Float32Array.of(data);
  } else if (Array.isArray(data) && (data.length === 0 || Array.isArray(data[0]) || shape === undefined)) {
    finalShape = inferShape(data);
    out = new Float32Array(sizeOf(finalShape));
    flatten(data, finalShape, out);
  } else {
    out = Float32Array.from(data as ArrayLike<number>);
    finalShape = [out.length];
  }
  if (shape !== undefined) {
    if (sizeOf(shape) !== out.length) {
      throw new RangeError(`tensor: ${out.length} values cannot fill shape ${fmt(shape)} (${sizeOf(shape)} elements)`);
    }
    finalShape = [...shape];
  }
  return new Tensor(out, finalShape, options.requiresGrad ?? false);
}

export function full(shape: Shape, value: number, options: TensorOptions = {}): Tensor {
  return new Tensor(new Float32Array(sizeOf(checkShape(shape, 'full'))).fill(value), [...shape], options.requiresGrad ?? false);
}

export function zeros(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 0, options);
}

export function ones(shape: Shape, options: TensorOptions = {}): Tensor {
  return full(shape, 1, options);
}

/** Uniform values in [0, 1), drawn from `rng`. */
export function rand(shape: Shape, rng: Rng, options: TensorOptions = {}): Tensor {
  return new Tensor(rng.fillUniform(new Float32Array(sizeOf(checkShape(shape, 'rand')))), [...shape], options.requiresGrad ?? false);
}

/** Normal values N(mean, std^2), drawn from `rng`. */
export function randn(shape: Shape, rng: Rng, options: TensorOptions & { mean?: number; std?: number } = {}): Tensor {
  const data = rng.fillNormal(new Float32Array(sizeOf(checkShape(shape, 'randn'))), options.mean ?? 0, options.std ?? 1);
  return new Tensor(data, [...shape], options.requiresGrad ?? false);
}

/** Numbers become rank-0 tensors; tensors pass through. */
export function asTensor(x: Tensor | number): Tensor {
  return typeof x === 'number' ? new Tensor(Float32Array.of(x), []) : x;
}
