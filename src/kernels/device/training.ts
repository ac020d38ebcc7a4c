/**
 * What a backend that can train on its device offers the host (gpujs:webgpu, through its worker bridge): start
 * a run from a DeviceTrainSpec, advance it by whole submissions, read its parameters. Synchronous, like the
 * kernels interface: the bridge blocks while the device works.
 */
import type { DeviceStats } from './program.ts';
import type { DeviceTrainSpec } from './train-step.ts';

export type { DeviceStats, DeviceTrainSpec };

/** One training run held on the device: advance it by submissions, read back its state. */
export interface DeviceRun {
  /** Record `steps` steps into one submission; their per-instance losses ([steps, instances]) and the counters after it. */
  run(steps: number): { losses: Float32Array; stats: DeviceStats };
  /** The counters after start-up (the uploads of the run's tables and initial state). */
  readonly startStats: DeviceStats;
  /** The current state (one read-back): [parameters | Adam's m | Adam's v | steps done | W transposed, where the layout has it (train-step.ts)]. */
  state(): Float32Array;
  /** The current parameters alone (one read-back of the state's first segment: the end of a run). */
  parameters(): Float32Array;
  /** The last step's batch as the device sampled it ([instances, batch, features]; one read-back). */
  batch(): Float32Array;
  /** Free the run's device buffers. */
  free(): void;
}

/** A backend's device trainer. */
export interface DeviceTraining {
  /** Where the device trainer runs, for logs and manifests, e.g. "WebGPU: NVIDIA H100 ... via Dawn". */
  readonly device: string;
  /** Upload the run's tables and initial state and return the run, ready to step. */
  start(spec: DeviceTrainSpec): DeviceRun;
}

/**
 * Backends with a device trainer wherever they start, which training uses by default on them (manifests of runs on
 * another thread's backend name the trainer by this). gpujs:gpu has one only in a browser with WebGL2, where the
 * backend itself says so (`training`).
 */
export const DEVICE_TRAINER_BACKENDS: readonly string[] = ['gpujs:webgpu'];

/** A backend that can run the device trainer. */
export function hasDeviceTraining(k: object): k is { training: DeviceTraining } {
  return 'training' in k && (k as { training?: unknown }).training !== undefined;
}
