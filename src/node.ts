/**
 * superposition-lab/node: everything of index.ts, plus what needs Node (files, worker threads, hashing, headless
 * rendering): sweeps, shards, comparisons, reports, manifests and verification; gpu.js WebGPU in a worker thread.
 */
export * from './index.ts';
export { runSweep, trainSweep, assembleResults, type SweepResults, type SweepOptions, type FeatureCell, type NeuronCell, type GeometryCell, type Shard } from './phase/sweep.ts';
export { writeShard, mergeShards, findShardFiles, resolveShard } from './phase/shards.ts';
export { compare, bootstrapMean, type Comparison, type Variant } from './phase/compare.ts';
export { writeReport, writeComparison } from './phase/report.ts';
export { verifyResults, type Verification } from './phase/verify.ts';
export { manifestOf, type Manifest } from './manifest.ts';
export { renderVegaLite } from './viz/render.ts';
export { createWebgpuKernels, type WebgpuKernels, type WebgpuNodeOptions } from './kernels/webgpu-node.ts';
// Types that the exports above name in their signatures, so that users (and the API reference) can name them too.
export type { AdapterSummary } from './kernels/webgpu-bridge.ts';
export type { DeviceRun, DeviceTraining } from './kernels/device/training.ts';
export type { DeviceModelKind, DeviceTrainSpec } from './kernels/device/train-step.ts';
export type { Agreement, RunWarning, SweepRuns } from './phase/results.ts';
export type { CompareOptions, ComparedCell, Interval } from './phase/compare.ts';
export type { FeatureRun, NeuronLabel, NeuronRegime } from './phase/classify.ts';
export type { Rendered } from './viz/render.ts';
export type { ShardJob } from './phase/shards.ts';
