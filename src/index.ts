/** superposition-lab: the public API that runs anywhere (Node and browsers). Sweeps, reports and files: ./node.ts. */
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
export { setBackend, getBackend, describeBackend, listBackends, registerBackend, withBackend } from './kernels/registry.ts';
export type { AdamUpdateArgs, Kernels, KernelMemory, MatmulSpec, OutputLossArgs, TiedLossArgs, UnaryOp, BinaryOp } from './kernels/types.ts';
export { useBackend, backendFlag, BACKEND_CHOICES, AUTO_MARGIN, type AutoKernels, type UseBackendOptions } from './kernels/select.ts';
export { createGpujsKernels, BackendUnavailableError, GPUJS_MODES, type DeviceArray, type GpujsKernels, type GpujsMode } from './kernels/gpujs.ts';
export { measureDeviceChain, type DeviceChainSize, type DeviceChainTiming } from './kernels/device-chain.ts';
export { ToyModel, MODEL_KINDS, initStd, type ModelKind, type ToyModelSpec, type InitScheme } from './toy/model.ts';
export { sampleBatch, streamKeys, featureSets, type BatchSpec, type FeatureSet, type SetDensity } from './toy/data.ts';
export { threefry2x32, streamKey, COUNTER_RNG } from './counter/threefry.ts';
export { Adam, AdamW, clipGradNormPerInstance, type AdamOptions } from './toy/optim.ts';
export { train, lrFactor, TrainingDivergedError, type TrainConfig, type TrainResult, type Schedule, type Snapshot, type StepCallback } from './toy/train.ts';
export { featureMetrics, neuronMetrics, countRepresented, countMonosemantic, angularGaps, isRegularPolygon, type FeatureMetrics, type NeuronMetrics } from './toy/metrics.ts';
export { saveModel, loadModel, instanceParameters, float32Decimal, type ModelDocument, type InstanceParameters } from './toy/io.ts';
export { PRESETS, PRESET_NAMES, presetConfig, trainPreset, parseImportance, type ImportanceRule, type Preset, type PresetName, type PresetRun, type TrainDocument } from './toy/presets.ts';
export { biasRelu, importanceMse } from './toy/fused.ts';
export { EXPERIMENTS, SHAPES, INTRO_DENSITIES, NEURON_DENSITIES, COMPUTATION_DENSITIES, logspace, cellsOf, runSeed, type ExperimentName, type SweepConfig } from './phase/experiments.ts';
export { theoryRegime, theoryOptimum, boundaryCurves, CANDIDATES, TRIPLE_DENSITY, type FeatureRegime, type FeatureExperiment } from './phase/theory.ts';
export { exactLoss, gram, optimiseCandidate, optimalCandidates, optimalRegime, optimalTripleDensity, OPTIMAL_CANDIDATES, type OptimalCandidate, type OptimisedCandidate } from './phase/optimal-theory.ts';
export { classifyExtraFeature, aggregateRuns, labelNeurons, DEFAULT_FEATURE_THRESHOLDS, DEFAULT_NEURON_THRESHOLDS, type FeatureThresholds, type NeuronThresholds } from './phase/classify.ts';
// Types that the exports above name in their signatures, so that users (and the API reference) can name them too.
export type { Shape } from './kernels/shape.ts';
export type { GraphNode } from './autograd/engine.ts';
export type { OpAttrs } from './autograd/ops.ts';
export type { GradcheckInputReport } from './autograd/gradcheck.ts';
export type { GpujsInstance, GpujsKernel, GpujsModule } from './kernels/gpujs.ts';
export type { DeviceStats } from './kernels/device/program.ts';
export type { Trainer, BatchSource, BatchSourceFactory } from './toy/train.ts';
export type { InstanceMetrics, TrainedInstance } from './toy/presets.ts';
export type { Cell, ExperimentShape } from './phase/experiments.ts';
export type { Candidate } from './phase/theory.ts';
export type { Aggregation } from './phase/classify.ts';
