/**
 * The engine: runs an op (shape check, kernel, graph node) and back-propagates. Everything every gradient rule
 * would otherwise repeat lives here, once: skipping inputs that need no gradient, summing a gradient back over
 * broadcast axes, asserting each gradient's shape, accumulating fan-out, and the optional NaN/Inf check.
 */
import { getBackend } from '../kernels/registry.ts';
import { broadcastShapes, fmt, sameShape, type Shape } from '../kernels/shape.ts';
import type { Kernels } from '../kernels/types.ts';
import { Tensor } from './tensor.ts';

/**
 * One primitive: its output shape, its forward kernel and its vector-Jacobian product, declared together.
 * `vjp` returns one thunk per input, so the engine evaluates only the gradients that are needed. A thunk may
 * return its gradient in the broadcast (output-side) shape; the engine sums it back to the input's shape.
 */
export interface OpDef<A> {
  /** The output shape, or a sentence saying why these input shapes are invalid. */
  shape(shapes: Shape[], attrs: A): Shape | string;
  /** Compute the output values; may return an input's storage for views such as reshape. */
  forward(kernels: Kernels, inputs: Tensor[], outShape: Shape, attrs: A): Float32Array;
  /** One gradient thunk per input for the upstream gradient g; `out` is the forward result, for rules that reuse it. */
  vjp(g: Tensor, inputs: Tensor[], out: Tensor, attrs: A): Array<() => Tensor>;
}

/** The record an op leaves on its output: the op's name, its inputs and its gradient rule. */
export interface GraphNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** The rule's gradient thunks for the upstream gradient g. */
  readonly vjp: (g: Tensor) => Array<() => Tensor>;
}

/** Thrown when input shapes are invalid for an op or a gradient does not reduce to its input's shape. */
export class ShapeError extends RangeError {
  override name = 'ShapeError';
}
/** Thrown by the numerics check when an op or a gradient produces NaN or Inf. */
export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
}

let gradEnabled = true;
let checkNumerics = false;
/** The op whose gradient rule is running, so a NaN found inside a rule is reported against it. */
let ruleOf: string | null = null;

/** Run fn without recording a graph (inference, optimiser updates, gradient rules). */
export function noGrad<T>(fn: () => T): T {
  return withGradEnabled(false, fn);
}

/** Run fn recording a graph even inside noGrad (a gradient rule that differentiates a composition of ops). */
export function enableGrad<T>(fn: () => T): T {
  return withGradEnabled(true, fn);
}

function withGradEnabled<T>(on: boolean, fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = on;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Whether ops currently record a graph (false inside noGrad). */
export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** When on, every op's output and every gradient is scanned for NaN/Inf and the first one throws, naming the op. */
export function setCheckNumerics(on: boolean): void {
  checkNumerics = on;
}

function assertFinite(data: Float32Array, where: string, shape: Shape): void {
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i])) {
      throw new NonFiniteError(`${where} produced ${data[i]} at flat index ${i} of a tensor of shape ${fmt(shape)}`);
    }
  }
}

/** Run one op: check shapes (the error names the op and every input shape), compute, and record the graph node. */
export function apply<A>(op: string, def: OpDef<A>, inputs: Tensor[], attrs: A): Tensor {
  const shapes = inputs.map((t) => t.shape);
  const outShape = def.shape(shapes, attrs);
  if (typeof outShape === 'string') throw new ShapeError(`${op}: ${outShape} (shapes ${shapes.map(fmt).join(' and ')})`);
  const data = def.forward(getBackend(), inputs, outShape, attrs);
  if (checkNumerics) assertFinite(data, ruleOf === null ? `op '${op}'` : `op '${op}' in the gradient rule of '${ruleOf}'`, outShape);
  if (!gradEnabled || !inputs.some((t) => t.requiresGrad)) return new Tensor(data, outShape);
  // The node's rule needs `out` (exp and div reuse it); the closure reads it only during backward.
  const node: GraphNode = { op, inputs, vjp: (g) => def.vjp(g, inputs, out, attrs) };
  const out: Tensor = new Tensor(data, outShape, true, node);
  return out;
}

/** Post-order of the graph below root (inputs before the tensors made from them), iteratively, in input order. */
function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>([root]);
  const stack: Array<[Tensor, number]> = [[root, 0]];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const inputs = top[0].node?.inputs ?? [];
    if (top[1] < inputs.length) {
      const child = inputs[top[1]++];
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(top[0]);
    }
  }
  return order;
}

// The engine needs three ops of its own (sum over broadcast axes, reshape, add); ops.ts installs them, which
// keeps the import graph one-way (ops -> engine).
interface EngineOps {
  sum(x: Tensor, axes: number[]): Tensor;
  reshape(x: Tensor, shape: Shape): Tensor;
  add(a: Tensor, b: Tensor): Tensor;
}
let engineOps: EngineOps | null = null;
export function installEngineOps(ops: EngineOps): void {
  engineOps = ops;
}

/** Sum a gradient of a broadcast shape back to the input's shape, or throw naming the op and the input. */
function unbroadcast(g: Tensor, shape: Shape, op: string, input: number): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const joint = broadcastShapes(shape, g.shape);
  if (joint === null || !sameShape(joint, g.shape)) {
    throw new ShapeError(`backward of '${op}': the gradient for input ${input} has shape ${fmt(g.shape)}, which does not reduce to the input's shape ${fmt(shape)}`);
  }
  const lead = g.shape.length - shape.length;
  const axes: number[] = [];
  for (let d = 0; d < g.shape.length; d++) if (d < lead || (shape[d - lead] === 1 && g.shape[d] !== 1)) axes.push(d);
  return engineOps!.reshape(engineOps!.sum(g, axes), shape);
}

/** Reverse-mode differentiation from `root`; gradients accumulate into the `.grad` of leaves that require them. */
export function backward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward: this tensor of shape ${fmt(root.shape)} does not require grad (no input of its graph has requiresGrad)`);
  if (gradient === undefined && root.size !== 1) {
    throw new ShapeError(`backward: a tensor of shape ${fmt(root.shape)} is not a scalar; pass a gradient of the same shape`);
  }
  if (gradient !== undefined && !sameShape(gradient.shape, root.shape)) {
    throw new ShapeError(`backward: gradient shape ${fmt(gradient.shape)} differs from the tensor's shape ${fmt(root.shape)}`);
  }
  const seed = gradient ?? new Tensor(Float32Array.of(1), root.shape);
  const order = topologicalOrder(root);
  const grads = new Map<Tensor, Tensor>([[root, seed]]);
  noGrad(() => {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i];
      const g = grads.get(t);
      if (g === undefined) continue;
      grads.delete(t);
      if (t.node === null) {
        accumulateLeaf(t, g);
        continue;
      }
      const { op, inputs } = t.node;
      const thunks = t.node.vjp(g);
      inputs.forEach((x, j) => {
        if (!x.requiresGrad) return;
        ruleOf = op;
        let gx: Tensor;
        try {
          gx = unbroadcast(thunks[j](), x.shape, op, j);
        } finally {
          ruleOf = null;
        }
        if (checkNumerics) assertFinite(gx.data, `backward of '${op}' (gradient for input ${j})`, gx.shape);
        const previous = grads.get(x);
        grads.set(x, previous === undefined ? gx : engineOps!.add(previous, gx));
      });
    }
  });
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (t.grad === null) {
    t.grad = new Tensor(g.data.slice(), t.shape);
    return;
  }
  const acc = t.grad.data;
  for (let i = 0; i < acc.length; i++) acc[i] += g.data[i];
}
