/**
 * Interop with the `ndarray` ecosystem: a zero-copy ndarray view of any tensor (slice, transpose, and use
 * ndarray-ops on results), and a tensor from any ndarray (zero-copy when it is a contiguous row-major
 * Float32Array view, copied with ndarray-ops' `assign` otherwise).
 */
import ndarray, { type NdArray } from 'ndarray';
import ops from 'ndarray-ops';
import { sizeOf, stridesOf } from '../kernels/shape.ts';
import { Tensor } from './tensor.ts';

/** A view of the tensor's storage: writes through the view change the tensor. */
export function toNdarray(t: Tensor): NdArray<Float32Array> {
  return ndarray(t.data, [...t.shape]);
}

function isRowMajorContiguous(a: NdArray): boolean {
  const want = stridesOf(a.shape);
  return a.shape.every((d, i) => d === 1 || a.stride[i] === want[i]);
}

/** A tensor holding the ndarray's values in row-major order. */
export function fromNdarray(a: NdArray, options: { requiresGrad?: boolean } = {}): Tensor {
  const size = sizeOf(a.shape);
  const requiresGrad = options.requiresGrad ?? false;
  if (a.data instanceof Float32Array && isRowMajorContiguous(a)) {
    return new Tensor(a.data.subarray(a.offset, a.offset + size), [...a.shape], requiresGrad);
  }
  const out = new Float32Array(size);
  if (size > 0) ops.assign(ndarray(out, [...a.shape]), a);
  return new Tensor(out, [...a.shape], requiresGrad);
}
