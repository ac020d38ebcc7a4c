/**
 * Toy models to and from JSON, losslessly. Weights are written in the paper's orientation (W is m x n: one row per
 * hidden dimension, one column per feature; for the |x| model W1 is m x n and W2 n x m), each value as the
 * shortest decimal that reads back as the same float32, so a saved model loads with every bit in place (but the
 * sign of a zero: JSON writes -0 as 0) and the file stays readable (0.1, not 0.10000000149011612).
 *
 * The document is { config: { model: ToyModelSpec, ... }, instances: [{ W | W1 & W2, b, bHidden?, ... }] }:
 * scripts/train.ts writes this shape with more fields (densities, losses, metrics), and loadModel reads either.
 */
import { ToyModel, MODEL_KINDS, type ToyModelSpec } from './model.ts';

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

export function saveModel(model: ToyModel): ModelDocument {
  return { config: { model: { ...model.spec } }, instances: Array.from({ length: model.spec.instances }, (_, i) => instanceParameters(model, i)) };
}

/** The most weights one matrix of a loaded model may have (2^27 floats: 512 MB). */
export const MAX_SAVED_WEIGHTS = 2 ** 27;

/**
 * Rebuild a model from a saved document; a missing, misshapen, non-finite or oversized field is an error
 * naming it, raised before anything is allocated.
 */
export function loadModel(doc: ModelDocument): ToyModel {
  const spec = doc?.config?.model;
  if (!spec || !MODEL_KINDS.includes(spec.kind)) throw new TypeError(`loadModel: config.model.kind is ${String(JSON.stringify(spec?.kind)).slice(0, 40)}, expected one of ${MODEL_KINDS.join(', ')}`);
  // Sizes are checked before anything is allocated from them: a document is not a licence to allocate 10^12 floats.
  for (const field of ['instances', 'features', 'hidden'] as const) {
    const v = spec[field];
    if (!Number.isInteger(v) || v < 1 || v > 1e6) throw new TypeError(`loadModel: config.model.${field} is ${String(JSON.stringify(v)).slice(0, 40)}, expected an integer in 1..1000000`);
  }
  const weights = spec.instances * spec.features * spec.hidden;
  if (weights > MAX_SAVED_WEIGHTS) throw new TypeError(`loadModel: config.model describes ${weights} weights per matrix (instances x features x hidden), more than the ${MAX_SAVED_WEIGHTS} a saved model may hold`);
  if (!Array.isArray(doc.instances) || doc.instances.length !== spec.instances) {
    throw new TypeError(`loadModel: ${doc.instances?.length} instances saved, config.model.instances is ${spec.instances}`);
  }
  const model = new ToyModel(spec, null);
  const { features: n, hidden: m } = spec;
  doc.instances.forEach((inst, i) => {
    const where = (field: string) => `loadModel: instances[${i}].${field}`;
    // Writes the transpose of a rows x cols matrix into the cols x rows block at `offset`.
    const readMatrix = (field: 'W' | 'W1' | 'W2', rows: number, cols: number, target: Float32Array, offset: number) => {
      const M = inst[field];
      if (!Array.isArray(M) || M.length !== rows || M.some((row) => !Array.isArray(row) || row.length !== cols || row.some((v) => !Number.isFinite(v)))) throw new TypeError(`${where(field)} must be ${rows} x ${cols} numbers`);
      M.forEach((row, r) => row.forEach((v, c) => (target[offset + c * rows + r] = v)));
    };
    const readVector = (field: 'b' | 'bHidden', length: number, target: Float32Array) => {
      const v = inst[field];
      if (!Array.isArray(v) || v.length !== length || v.some((x) => !Number.isFinite(x))) throw new TypeError(`${where(field)} must have ${length} numbers`);
      target.set(v, i * length);
    };
    if (model.W2) {
      readMatrix('W1', m, n, model.W.data, i * n * m);
      readMatrix('W2', n, m, model.W2.data, i * m * n);
    } else readMatrix('W', m, n, model.W.data, i * n * m);
    readVector('b', n, model.b.data);
    if (model.bHidden) readVector('bHidden', m, model.bHidden.data);
  });
  return model;
}
