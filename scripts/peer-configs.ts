/**
 * The peer benchmark configurations (scripts/anchors' A-D, and P: the paper-size 2x1 sweep as one model), all
 * tied ReLU-output models at batch 1024, density 0.1, importance 0.9^i, AdamW lr 1e-3: what bench-train.ts and
 * bench-device.ts time and the anchors (tms_torch.py, tms_torch_device.py, tms_plainjs.mjs, tms_tfjs.mjs) run.
 */
export const PEER_CONFIGS: Record<string, { I: number; n: number; m: number }> = {
  A: { I: 10, n: 5, m: 2 },
  B: { I: 1024, n: 2, m: 1 },
  C: { I: 20, n: 100, m: 20 },
  D: { I: 8, n: 400, m: 30 },
  P: { I: 4000, n: 2, m: 1 },
};
