/**
 * What keeping data on the device buys a gpu.js backend: one training step's products run through the
 * synchronous kernels interface (upload and read back every time) vs. chained on the device. Used by
 * bench-kernels (Node) and the browser test page (WebGL).
 */
import type { GpujsKernels } from './gpujs.ts';
import { batchedSpec } from './types.ts';

/** The problem measured: `instances` models of n features into m hidden dimensions, at batch size `batch`. */
export interface DeviceChainSize {
  instances: number;
  batch: number;
  n: number;
  m: number;
}

/** One training step's five products, per op through the kernels interface vs. kept on the device. */
export interface DeviceChainTiming {
  shape: string;
  perOpMs: number;
  onDeviceMs: number;
  maxDiff: number;
}

/**
 * The five matmuls of a tied ReLU-output model's training step (h = xW, y = hW^T, gh = gW, dW = x^T gh + g^T h)
 * for `instances` models of n -> m at batch `batch`. Once through the
 * synchronous interface (every operand uploaded, every product read back), once in pipeline mode (x, W and g
 * uploaded once, h and gh never leave the device, only y and the two dW terms read back). Best of 5 after a
 * warm-up; inputs are fixed sine ramps (no randomness).
 */
export function measureDeviceChain(k: GpujsKernels, size: DeviceChainSize): DeviceChainTiming {
  const { instances: I, batch: B, n, m } = size;
  const ramp = (len: number, f: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * f));
  const x = ramp(I * B * n, 0.37);
  const W = ramp(I * n * m, 0.11);
  const g = ramp(I * B * n, 0.23);
  const spec = (mm: number, kk: number, nn: number, transA: boolean, transB: boolean) => batchedSpec(I, mm, kk, nn, transA, transB);
  const sH = spec(B, n, m, false, false); // h = x W
  const sY = spec(B, m, n, false, true); // y = h W^T
  const sG = spec(B, n, m, false, false); // gh = g W
  const sD = spec(n, B, m, true, false); // x^T gh and g^T h

  const perOp = (): Float32Array[] => {
    const h = new Float32Array(I * B * m), y = new Float32Array(I * B * n), gh = new Float32Array(I * B * m);
    const d1 = new Float32Array(I * n * m), d2 = new Float32Array(I * n * m);
    k.matmul(x, W, h, sH);
    k.matmul(h, W, y, sY);
    k.matmul(g, W, gh, sG);
    k.matmul(x, gh, d1, sD);
    k.matmul(g, h, d2, sD);
    return [y, d1, d2];
  };
  const [xd, Wd, gd] = [k.toDevice(x), k.toDevice(W), k.toDevice(g)];
  const onDevice = (): Float32Array[] => {
    const h = k.matmulOnDevice(xd, Wd, sH, x.length, W.length);
    const y = k.matmulOnDevice(h, Wd, sY, I * B * m, W.length);
    const gh = k.matmulOnDevice(gd, Wd, sG, g.length, W.length);
    const d1 = k.matmulOnDevice(xd, gh, sD, x.length, I * B * m);
    const d2 = k.matmulOnDevice(gd, h, sD, g.length, I * B * m);
    const out = [y, d1, d2].map((t) => k.readBack(t).slice());
    for (const t of [h, y, gh, d1, d2]) if (!(t instanceof Float32Array)) t.delete();
    return out;
  };
  const best = (f: () => unknown) => {
    f();
    let t = Infinity;
    for (let r = 0; r < 5; r++) {
      const start = performance.now();
      f();
      t = Math.min(t, performance.now() - start);
    }
    return t;
  };
  const a = perOp();
  const b = onDevice();
  const timing = { perOpMs: best(perOp), onDeviceMs: best(onDevice) };
  for (const t of [xd, Wd, gd]) if (!(t instanceof Float32Array)) t.delete();
  let maxDiff = 0;
  a.forEach((v, i) => v.forEach((e, j) => (maxDiff = Math.max(maxDiff, Math.abs(e - b[i][j])))));
  return { shape: `${I}x(${n}->${m}), batch ${B}`, ...timing, maxDiff };
}
