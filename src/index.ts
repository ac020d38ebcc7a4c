/** superposition-lab: the public API. */
export { Tensor, tensor, zeros, ones, full, rand, randn, type NestedArray, type TensorOptions } from './autograd/tensor.ts';
export {
  add, sub, mul, div, maximum, neg, relu, abs, exp, log, pow, square,
  matmul, sum, mean, reshape, permute, transpose, expand, customOp,
  type TensorLike, type OpName,
} from './autograd/ops.ts';
export { noGrad, isGradEnabled, setCheckNumerics, ShapeError, NonFiniteError, type OpDef } from './autograd/engine.ts';
export { gradcheck, type GradcheckOptions, type GradcheckReport } from './autograd/gradcheck.ts';
export { toNdarray, fromNdarray } from './autograd/ndarray.ts';
export { createRng, deriveSeed, type Rng } from './random.ts';
export { setBackend, getBackend, listBackends, registerBackend, withBackend } from './kernels/registry.ts';
export type { Kernels, MatmulSpec, UnaryOp, BinaryOp } from './kernels/types.ts';
export { useBackend, backendFlag, BACKEND_CHOICES, AUTO_MARGIN, type AutoKernels, type UseBackendOptions } from './kernels/select.ts';
export { createGpujsKernels, BackendUnavailableError, GPUJS_MODES, type GpujsKernels, type GpujsMode } from './kernels/gpujs.ts';
