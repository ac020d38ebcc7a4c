import { pow } from '../src/math.ts';
import type { TrainConfig } from '../src/toy/train.ts';

/**
 * The peer benchmark configurations (scripts/anchors' A-D, P: the paper-size 2x1 sweep as one model, and G: the
 * geometry experiment at the paper's 400 -> 30), all tied ReLU-output models at batch 1024 and AdamW lr 1e-3, with
 * density 0.1 and importance 0.9^i except G (uniform importance, the notebook's 20 densities 20^-linspace(0, 1, 20),
 * one per instance): what bench-train.ts and bench-device.ts time and the anchors (tms_torch.py,
 * tms_torch_device.py, tms_plainjs.mjs, tms_tfjs.mjs; G: tms_torch.py only) run.
 */
export const PEER_CONFIGS: Record<string, { I: number; n: number; m: number; geometry?: true }> = {
  A: { I: 10, n: 5, m: 2 },
  B: { I: 1024, n: 2, m: 1 },
  C: { I: 20, n: 100, m: 20 },
  D: { I: 8, n: 400, m: 30 },
  P: { I: 4000, n: 2, m: 1 },
  G: { I: 20, n: 400, m: 30, geometry: true },
};

/** A configuration's densities (one per instance) and importances. */
export function peerData(name: string): { density: number[]; importance: number[] } {
  const { I, n, geometry } = PEER_CONFIGS[name];
  if (geometry) return { density: Array.from({ length: I }, (_, i) => pow(20, -(i / (I - 1)))), importance: new Array(n).fill(1) };
  return { density: new Array(I).fill(0.1), importance: Array.from({ length: n }, (_, i) => 0.9 ** i) };
}

/**
 * Configuration `name` as a training run of `steps` steps: the tied ReLU-output model at batch 1024, AdamW lr 1e-3,
 * seed 0, with `options` (the trainer, the device chain, steps per submission, a name) on top.
 */
export function peerTrainConfig(name: string, steps: number, options: { deviceChain?: boolean } & Pick<TrainConfig, 'trainer' | 'stepsPerSubmission' | 'name'> = {}): TrainConfig {
  const { I, n, m } = PEER_CONFIGS[name];
  const { deviceChain, ...rest } = options;
  return {
    model: { kind: 'relu-output', instances: I, features: n, hidden: m, ...(deviceChain !== undefined ? { deviceChain } : {}) },
    ...peerData(name),
    batch: 1024,
    steps,
    lr: 1e-3,
    optimizer: 'adamw',
    seed: 0,
    ...rest,
  };
}
