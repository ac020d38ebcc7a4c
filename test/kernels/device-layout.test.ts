/** The device trainer's layouts, as plain arithmetic (no adapter needed): the batch split and the state. */
import { expect, it } from 'vitest';
import { batchChunks, initialState, layout, type DeviceTrainSpec } from '../../src/kernels/device/train-step.ts';

it('the batch is cut until there are about 2^17 threads, keeping 32 rows or more a thread', () => {
  const chunks = (instances: number, features: number, hidden: number, batch = 1024, clip = 0) =>
    batchChunks({ kind: 'relu-output', instances, batch, features, hidden, hiddenBias: false, clip, sets: new Float32Array(0) } as unknown as DeviceTrainSpec);
  // the small chain: one thread per instance and slot (n m + n + 1)
  expect(chunks(4000, 2, 1)).toBe(8); // P: 4000 x 5 slots = 20,000 threads -> 160,000
  expect(chunks(1024, 2, 1)).toBe(32); // B: 5,120 threads (1024 x 5 slots), 32 rows each
  expect(chunks(10, 5, 2)).toBe(32); // A: capped by 32 rows a thread
  expect(chunks(3, 3, 2, 100)).toBe(3); // 100 rows: 3 chunks (34, 34, 32)
  expect(chunks(30_000, 2, 1)).toBe(1); // 150,000 threads already
  expect(chunks(10, 5, 2, 40)).toBe(1); // under 64 rows: one chunk
  // the general chain: one thread per parameter
  expect(chunks(20, 100, 20)).toBe(4); // C: 42,000 parameters
  expect(chunks(8, 400, 30)).toBe(2); // D: 99,200
  expect(chunks(20, 400, 30)).toBe(1); // G: 248,000
  expect(chunks(20, 100, 20, 1024, 0.1)).toBe(1); // clipping's norms read whole gradients
});

it('the state holds W transposed after [parameters | m | v | steps] for the tied models on the general chain only', () => {
  const spec = (kind: DeviceTrainSpec['kind'], features: number, hidden: number, clip = 0) => {
    const I = 2;
    const P = I * features * hidden * (kind === 'abs' ? 2 : 1) + I * features;
    return { kind, instances: I, batch: 8, features, hidden, hiddenBias: false, clip, sets: new Float32Array(0), params: Float32Array.from({ length: P }, (_, q) => q + 1) } as unknown as DeviceTrainSpec;
  };
  const general = spec('relu-output', 20, 5); // 100 + 20 = 120 parameters an instance: the general chain
  const { P, oWT, stateLength, transposed } = layout(general);
  expect([P, transposed, oWT, stateLength]).toEqual([240, true, 721, 721 + 200]);
  const state = initialState(general);
  expect([...state.subarray(0, P)]).toEqual([...general.params]);
  expect([...state.subarray(P, oWT)].every((v) => v === 0)).toBe(true);
  // W^T[i, k, f] = W[i, f, k]
  for (const [i, f, k] of [[0, 0, 0], [0, 3, 4], [1, 19, 2]]) expect(state[oWT + i * 100 + k * 20 + f]).toBe(general.params[i * 100 + f * 5 + k]);
  expect(layout(spec('relu-output', 5, 2)).transposed).toBe(false); // the small chain: 15 parameters an instance
  expect(layout(spec('relu-output', 5, 2, 0.1)).transposed).toBe(true); // clipping: the general chain
  expect(layout(spec('abs', 20, 5)).transposed).toBe(false); // |x|: W2 is its own parameter
});
