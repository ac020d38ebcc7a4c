/**
 * Toy models to and from JSON, losslessly. Weights are written in the paper's orientation (W is m x n: one row per
 * hidden dimension, one column per feature; for the |x| model W1 is m x n and W2 n x m), each value as the
 * shortest decimal that reads back as the same float32, so a saved model loads with every bit in place (but the
 * sign of a zero: JSON writes -0 as 0) and the file stays readable (0.1, not 0.10000000149011612).
 *
 * The document is { config: { model: ToyModelSpec, ... }, instances: [{ W | W1 & W2, b, bHidden?, ... }] }:
 * scripts/train.ts writes this shape with more fields (densities, losses, metrics), and loadModel reads either.
 */
import * as v from 'valibot';
import { list, num, oneOf, parseOrThrow, record } from '../schema.ts';
import { ToyModel, MODEL_KINDS, type ModelKind, type ToyModelSpec } from './model.ts';

/** One instance's saved parameters, in the paper's orientation (W is m x n). */
export interface InstanceParameters {
  /** Tied models: W, m x n. */
  W?: number[][];
  /** Untied |x| model: W1 (m x n, h = ReLU(W1 x)) and W2 (n x m, y = ReLU(W2 h + b)). */
  W1?: number[][];
  W2?: number[][];
  b: number[];
  /** relu-hidden with a hidden bias: c, length m. */
  bHidden?: number[];
}

/** A saved model: its spec and every instance's parameters. */
export interface ModelDocument {
  config: { model: ToyModelSpec };
  instances: InstanceParameters[];
}

/** The shortest decimal that reads back as the same float32 value. */
export function float32Decimal(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  for (let digits = 1; digits < 9; digits++) {
    const s = Number(v.toPrecision(digits));
    if (Math.fround(s) === v) return s;
  }
  return Number(v.toPrecision(9)); // 9 significant digits always identify a float32
}

const decimals = (xs: ArrayLike<number>): number[] => Array.from(xs, float32Decimal);

/** Rows of the transpose of the r x c block at `offset` (row-major): c rows of r. */
function transposedRows(data: Float32Array, offset: number, r: number, c: number): number[][] {
  return Array.from({ length: c }, (_, j) => Array.from({ length: r }, (_, i) => float32Decimal(data[offset + i * c + j])));
}

/** Instance i's parameters in the paper's orientation. */
export function instanceParameters(model: ToyModel, i: number): InstanceParameters {
  const { features: n, hidden: m } = model.spec;
  const weights = model.W2
    ? { W1: transposedRows(model.W.data, i * n * m, n, m), W2: transposedRows(model.W2.data, i * m * n, m, n) }
    : { W: transposedRows(model.W.data, i * n * m, n, m) };
  return {
    ...weights,
    b: decimals(model.b.data.subarray(i * n, (i + 1) * n)),
    ...(model.bHidden ? { bHidden: decimals(model.bHidden.data.subarray(i * m, (i + 1) * m)) } : {}),
  };
}

/** The model as a JSON document, each weight the shortest decimal that reads back as the same float32. */
export function saveModel(model: ToyModel): ModelDocument {
  return { config: { model: { ...model.spec } }, instances: Array.from({ length: model.spec.instances }, (_, i) => instanceParameters(model, i)) };
}

/** The most weights one matrix of a loaded model may have (2^27 floats: 512 MB). */
export const MAX_SAVED_WEIGHTS = 2 ** 27;
/** Saved weights: float32 values (anything larger would load as Infinity). */
const weight = () => num(-3.4028234663852886e38, 3.4028234663852886e38);

/** A saved model's sizes, each bounded before anything is allocated from it. */
const modelSizes = () => ({ instances: num(1, 1e6, true), features: num(1, 1e6, true), hidden: num(1, 1e6, true) });
const specSchema = record({ kind: oneOf(MODEL_KINDS), ...modelSizes() });

/**
 * One instance's parameters for a model of `kind` with n features and m hidden dimensions, in the paper's
 * orientation (W is m x n).
 */
function instanceSchema(kind: ModelKind, n: number, m: number, hiddenBias: boolean): v.GenericSchema {
  const matrix = (rows: number, cols: number) => list(list(weight(), cols), rows);
  const weights: v.ObjectEntries = kind === 'abs' ? { W1: matrix(m, n), W2: matrix(n, m) } : { W: matrix(m, n) };
  return record({ ...weights, b: list(weight(), n), ...(hiddenBias ? { bHidden: list(weight(), m) } : {}) }) as v.GenericSchema;
}

/**
 * A saved model document as JSON Schema publishes it (scripts/schemas.ts): any kind and size, one instance's
 * shape per kind. loadModel checks the sizes against each other as well.
 */
export function modelDocumentSchema() {
  const sizes = modelSizes();
  const anySize = (kind: ModelKind) => {
    const matrix = v.array(v.array(weight()));
    const weights: v.ObjectEntries = kind === 'abs' ? { W1: matrix, W2: matrix } : { W: matrix };
    return record({ config: record({ model: record({ kind: v.literal(kind), ...sizes }) }), instances: v.array(record({ ...weights, b: v.array(weight()), bHidden: v.optional(v.array(weight())) })) });
  };
  return v.union(MODEL_KINDS.map((kind): v.GenericSchema => anySize(kind)));
}

/**
 * Rebuild a model from a saved document; a missing, misshapen, non-finite or oversized field is an error
 * naming it, raised before anything is allocated (the sizes first, then every instance against them).
 */
export function loadModel(doc: ModelDocument): ToyModel {
  const fail = (message: string) => new TypeError(message);
  const spec = parseOrThrow(specSchema, (doc as { config?: { model?: unknown } } | null)?.config?.model, fail, 'loadModel', 'config.model') as ToyModelSpec;
  const weights = spec.instances * spec.features * spec.hidden;
  if (weights > MAX_SAVED_WEIGHTS) throw new TypeError(`loadModel: config.model describes ${weights} weights per matrix (instances x features x hidden), more than the ${MAX_SAVED_WEIGHTS} a saved model may hold`);
  const { features: n, hidden: m } = spec;
  // The instances are checked before the model is allocated (it has a hidden bias exactly when the spec asks).
  parseOrThrow(list(instanceSchema(spec.kind, n, m, Boolean(doc.config.model.hiddenBias)), spec.instances), doc.instances, fail, 'loadModel', 'instances');
  const model = new ToyModel({ ...doc.config.model }, null);
  doc.instances.forEach((inst, i) => {
    // Writes the transpose of a rows x cols matrix into the cols x rows block at `offset`.
    const readMatrix = (M: number[][], rows: number, target: Float32Array, offset: number) => M.forEach((row, r) => row.forEach((x, c) => (target[offset + c * rows + r] = x)));
    if (model.W2) {
      readMatrix(inst.W1!, m, model.W.data, i * n * m);
      readMatrix(inst.W2!, n, model.W2.data, i * m * n);
    } else readMatrix(inst.W!, m, model.W.data, i * n * m);
    model.b.data.set(inst.b, i * n);
    if (model.bHidden) model.bHidden.data.set(inst.bHidden!, i * m);
  });
  return model;
}
