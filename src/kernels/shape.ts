/** Shapes, strides and NumPy-style broadcasting: pure functions shared by the kernels, the ops and the engine. */

export type Shape = readonly number[];

export function fmt(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major strides: the last axis is contiguous. */
export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** Broadcast two shapes NumPy-style, or return null when they are incompatible. */
export function broadcastShapes(a: Shape, b: Shape): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) return null;
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * Strides for reading an array of shape `from` as if it had the (broadcast) shape `to`:
 * broadcast axes get stride 0. `from` must broadcast to `to`.
 */
export function broadcastStrides(from: Shape, to: Shape): number[] {
  const own = stridesOf(from);
  const off = to.length - from.length;
  return to.map((d, i) => (i < off || from[i - off] === 1 ? 0 : own[i - off]));
}

/** Normalise possibly negative axes against `rank`; `what` names the op for the error. */
export function normAxes(axes: readonly number[], rank: number, what: string): number[] {
  const out = axes.map((a) => {
    if (!Number.isInteger(a) || a < -rank || a >= rank) {
      throw new RangeError(`${what}: axis ${a} is out of range for a tensor of rank ${rank} (allowed ${-rank}..${rank - 1})`);
    }
    return a < 0 ? a + rank : a;
  });
  if (new Set(out).size !== out.length) throw new RangeError(`${what}: repeated axis in [${axes.join(', ')}]`);
  return out;
}

export function isPermutation(perm: readonly number[], rank: number): boolean {
  return perm.length === rank && [...perm].sort((x, y) => x - y).every((p, i) => p === i);
}
