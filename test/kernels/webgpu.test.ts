/**
 * gpujs:webgpu in Node: gpu.js's WebGPU backend in a worker thread behind the synchronous kernels interface.
 * The op and gradient suites run on it through nodeBackends (test/helpers.ts); these are the parts only this
 * backend has: adapter choice, the thread bridge, device-resident arrays, and a script that exits by itself.
 *
 * On a machine without a GPU the tests use Mesa's llvmpipe through Dawn's OpenGL ES backend (a software adapter,
 * accepted only because the tests ask for it). Without an adapter at all they skip, saying why, unless
 * WEBGPU_TEST=1 (CI) makes that a failure.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { measureDeviceChain } from '../../src/kernels/device-chain.ts';
import { referenceKernels } from '../../src/kernels/reference.ts';
import type { DeviceArray } from '../../src/kernels/gpujs.ts';
import type { MatmulSpec } from '../../src/kernels/types.ts';
import { createWebgpuKernels, type WebgpuKernels } from '../../src/kernels/webgpu-node.ts';

const software = await createWebgpuKernels({ allowSoftware: true }).catch((e: Error) => {
  if (process.env.WEBGPU_TEST === '1') throw e;
  console.log(`test/kernels/webgpu: skipped (WEBGPU_TEST=1 would make this a failure): ${e.message}`);
  return null;
});
afterAll(() => software?.destroy());

const spec = (batch: number, m: number, k: number, n: number, transA = false, transB = false): MatmulSpec => ({
  batch, m, k, n, transA, transB,
  aOffsets: Int32Array.from({ length: batch }, (_, q) => q * m * k),
  bOffsets: Int32Array.from({ length: batch }, (_, q) => q * k * n),
});
const ramp = (len: number, f: number) => Float32Array.from({ length: len }, (_, i) => Math.sin(i * f));
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((d, v, i) => Math.max(d, Math.abs(v - b[i])), 0);

it('refuses a software adapter unless asked: gpujs:webgpu means a GPU', async () => {
  const k = await createWebgpuKernels({ allowSoftware: false }).catch((e: Error) => e);
  if (k instanceof Error) {
    expect(k.name).toBe('BackendUnavailableError');
    expect(k.message).toMatch(/^gpujs:webgpu cannot start: no WebGPU adapter on a GPU \(.+\); install an NVIDIA driver with its Vulkan ICD, or set SUPERPOSITION_WEBGPU_SOFTWARE=1/);
  } else {
    // A machine with a real GPU: whatever started must not be a CPU rasteriser.
    expect(k.adapter.software).toBe(false);
    k.destroy();
  }
});

describe.skipIf(!software)('gpujs:webgpu through the worker bridge', () => {
  const k = software as WebgpuKernels;

  it('names its adapter and says when it is software', () => {
    expect(k.name).toBe('gpujs:webgpu');
    expect(k.kernelClass).toBe('WebGPUKernel');
    expect(k.device).toBe(`WebGPU: ${k.adapter.description}`);
    if (k.adapter.software) expect(k.adapter.description).toMatch(/, software$/);
  });

  it('a product larger than the worker message of a subarray view: only the view travels, results land in place', () => {
    // Operands as views into a larger arena (as the trainer's step arena hands them out), output at an offset.
    const arena = ramp(10_000, 0.3);
    const a = arena.subarray(100, 100 + 3 * 1500);
    const b = arena.subarray(5000, 5000 + 1500 * 2);
    const s = spec(1, 3, 1500, 2); // k > 1000: gpu.js's default loop cut-off would silently drop terms
    const out = new Float32Array(16).fill(7);
    k.matmul(a, b, out.subarray(4, 10), s);
    const want = new Float32Array(6);
    referenceKernels.matmul(a, b, want, s);
    // float32 sums of 1500 products of |x| <= 1: the Higham bound gamma_k * sum|a||b| is ~1e-4 here.
    for (let i = 0; i < 6; i++) expect(Math.abs(out[4 + i] - want[i])).toBeLessThan(1e-3);
    expect([...out.subarray(0, 4), ...out.subarray(10)]).toEqual([7, 7, 7, 7, 7, 7, 7, 7, 7, 7]);
  });

  it('keeps a training step on the device with the same bits as the per-op path', () => {
    const t = measureDeviceChain(k, { instances: 3, batch: 64, n: 10, m: 4 });
    expect(t.maxDiff).toBe(0);
    expect(t.perOpMs).toBeGreaterThan(0);
    expect(t.onDeviceMs).toBeGreaterThan(0);
  });

  it('device arrays: read back equals the upload, use after delete is an error', () => {
    const x = ramp(37, 0.7);
    const d = k.toDevice(x) as Exclude<DeviceArray, Float32Array>;
    expect(k.readBack(d)).toEqual(x);
    d.delete();
    expect(() => k.readBack(d)).toThrow(/^gpujs:webgpu: device array #\d+ was already deleted$/);
    expect(() => k.matmulOnDevice(d, x, spec(1, 1, 37, 1), 37, 37)).toThrow(/^gpujs:webgpu: device array #\d+ was already deleted$/);
    // The bridge stays usable afterwards.
    const out = new Float32Array(1);
    k.matmul(x, x, out, spec(1, 1, 37, 1));
    expect(out[0]).toBeCloseTo(x.reduce((s, v) => s + v * v, 0), 4);
  });
});

it.skipIf(!software)('after destroy, a call fails at once naming the reason, and useBackend starts a fresh one', async () => {
  const k = await createWebgpuKernels({ allowSoftware: true });
  k.destroy();
  expect(k.closed).toBe('been destroyed');
  expect(() => k.matmul(new Float32Array(4), new Float32Array(4), new Float32Array(4), spec(1, 2, 2, 2))).toThrow("gpujs:webgpu: the WebGPU worker has been destroyed; cannot run 'matmul'");
  const { useBackend } = await import('../../src/kernels/select.ts');
  process.env.SUPERPOSITION_WEBGPU_SOFTWARE = '1';
  const first = (await useBackend('gpujs:webgpu')) as WebgpuKernels;
  first.destroy();
  const second = (await useBackend('gpujs:webgpu')) as WebgpuKernels;
  try {
    expect(second).not.toBe(first);
    const out = new Float32Array(4);
    second.matmul(Float32Array.of(1, 2, 3, 4), Float32Array.of(5, 6, 7, 8), out, spec(1, 2, 2, 2));
    expect([...out]).toEqual([19, 22, 43, 50]);
  } finally {
    second.destroy();
    (await import('../../src/kernels/registry.ts')).setBackend('js');
  }
});

it.skipIf(!software)('a call that outlives its timeout closes the backend: later calls fail at once, never read a stale answer', async () => {
  const k = await createWebgpuKernels({ allowSoftware: true, timeoutMs: 1 });
  try {
    const x = ramp(256 * 256, 0.1);
    const out = new Float32Array(256 * 256);
    // The first call builds and compiles the kernel, and a 256^3 product on a CPU rasteriser takes far over 1 ms.
    expect(() => k.matmul(x, x, out, spec(1, 256, 256, 256))).toThrow("gpujs:webgpu: the WebGPU worker did not answer 'matmul' within 0.001 s (hung or dead device); the backend is closed");
    expect(() => k.matmul(x, x, out, spec(1, 2, 2, 2))).toThrow("gpujs:webgpu: the WebGPU worker has timed out; cannot run 'matmul'");
  } finally {
    k.destroy();
  }
});

it.skipIf(!software)('refuses a device array from another instance of the backend', async () => {
  const other = await createWebgpuKernels({ allowSoftware: true });
  try {
    const foreign = other.toDevice(ramp(4, 1));
    expect(() => software!.matmulOnDevice(foreign, ramp(4, 2), spec(1, 2, 2, 2), 4, 4)).toThrow('gpujs:webgpu: a device operand must be a Float32Array or an array this backend instance put on the device');
  } finally {
    other.destroy();
  }
});

it.skipIf(!software)('the autograd trainer with the device chain frees every device array it made', async () => {
  const { train } = await import('../../src/toy/train.ts');
  const { registerBackend, setBackend } = await import('../../src/kernels/registry.ts');
  const k = software!;
  registerBackend(k);
  setBackend(k.name);
  try {
    const [before, kernels] = [k.liveDeviceArrays, k.cachedKernels];
    let live = -1;
    train({ model: { kind: 'relu-output', instances: 2, features: 20, hidden: 5 }, importance: new Array(20).fill(1), density: [0.1, 0.3], batch: 64, steps: 5, lr: 1e-2, optimizer: 'adamw', seed: 1, trainer: 'autograd' }, () => (live = Math.max(live, k.liveDeviceArrays)));
    expect(k.cachedKernels).toBeGreaterThan(kernels); // the step's products ran here, pipelined
    expect(live).toBe(before); // nothing left over after any step
    expect(k.liveDeviceArrays).toBe(before);
  } finally {
    setBackend('js');
  }
});

it.skipIf(!software)('tiedProduct: nothing stays on the device when no backward can run, or when backward runs on another backend', async () => {
  const { tiedProduct } = await import('../../src/toy/fused.ts');
  const { matmul, mul, sum } = await import('../../src/autograd/ops.ts');
  const { Tensor } = await import('../../src/autograd/tensor.ts');
  const { registerBackend, setBackend } = await import('../../src/kernels/registry.ts');
  const k = software!;
  registerBackend(k);
  const [I, B, n, m] = [2, 16, 6, 3];
  const x = new Tensor(ramp(I * B * n, 0.31), [I, B, n]);
  const g = new Tensor(ramp(I * B * n, 0.17), [I, B, n]);
  const Wvalues = ramp(I * n * m, 0.53);
  const before = k.liveDeviceArrays;
  try {
    setBackend(k.name);
    // W without a gradient: no backward will come, so nothing is kept.
    tiedProduct(x, new Tensor(Wvalues.slice(), [I, n, m]));
    expect(k.liveDeviceArrays).toBe(before);
    // Forward on the device, backward after switching to js: the host recomputes, the device arrays are freed,
    // and the gradient is the composition's.
    const W = new Tensor(Wvalues.slice(), [I, n, m], true);
    const pre = tiedProduct(x, W);
    expect(k.liveDeviceArrays).toBe(before + 3); // x, W and h, kept for the backward
    setBackend('js');
    sum(mul(pre, g)).backward();
    expect(k.liveDeviceArrays).toBe(before);
    const W2 = new Tensor(Wvalues.slice(), [I, n, m], true);
    sum(mul(matmul(matmul(x, W2), W2, { transposeB: true }), g)).backward();
    expect(maxDiff(W.grad!.data, W2.grad!.data)).toBeLessThan(1e-5);
  } finally {
    setBackend('js');
  }
});

describe.skipIf(!software)('a script on gpujs:webgpu', () => {
  it('trains, prints the adapter, and exits by itself (the worker and Dawn do not keep Node alive)', async () => {
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/train.ts', '--experiment', 'intro', '--density', '0.1', '--steps', '30', '--backend', 'gpujs:webgpu'], {
      env: { ...process.env, SUPERPOSITION_WEBGPU_SOFTWARE: '1' },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/backend gpujs:webgpu \(WebGPU: .+\), trainer device \(whole steps on the device\)/);
  }, 150_000);

  it('compare.ts trains both variants with the device trainer and records it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'webgpu-compare-'));
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/compare.ts', '--experiment', 'intro', '--a', '--optimizer adamw --steps 20', '--b', '--optimizer adam --steps 20', '--backend', 'gpujs:webgpu', '--out', out, '--overwrite'], {
      env: { ...process.env, SUPERPOSITION_WEBGPU_SOFTWARE: '1' },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/backend gpujs:webgpu \(WebGPU: .+\), trainer device \(whole steps on the device\)/);
    const { manifest } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(manifest).toMatchObject({ backend: 'gpujs:webgpu', trainer: 'device', dataStream: 'threefry2x32-20 v1' });
  }, 150_000);

  it("bench-train --json: the device trainer's per-step counts, in bench-train's JSON (what CI sees of the design)", async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'bench-train-')), 'train.json');
    await promisify(execFile)('npx', ['tsx', 'scripts/bench-train.ts', '--configs', 'A,C', '--backend', 'gpujs:webgpu', '--anchors', '', '--steps', '2', '--warmup', '1', '--steps-per-submission', '2', '--json', json], {
      env: { ...process.env, SUPERPOSITION_WEBGPU_SOFTWARE: '1' },
      timeout: 120_000,
    });
    const { configs } = JSON.parse(readFileSync(json, 'utf8'));
    // A: the small tied chain (4 passes); C: the general chain (9). Between read-backs nothing goes up; each
    // submission of 2 steps reads back once, 4 bytes a loss of each instance and step.
    for (const [name, passes, instances] of [['A', 4, 10], ['C', 9, 20]] as const) {
      expect(configs[name]).toMatchObject({ backend: 'gpujs:webgpu', trainer: 'device', perStep: { passes, uploads: 0, readbacks: 0.5, bytesUp: 0, bytesDown: 4 * instances } });
      expect(configs[name].stepsPerSec).toBeGreaterThan(0);
      expect(configs[name].startUp.uploads).toBe(5);
    }
  }, 150_000);

  it('bench-device --json: the per-pass curve, steps/s by K and the per-pass breakdown of a step', async () => {
    const json = join(mkdtempSync(join(tmpdir(), 'bench-device-')), 'device.json');
    await promisify(execFile)('npx', ['tsx', 'scripts/bench-device.ts', '--software', '--configs', 'A,C', '--k', '2', '--submissions', '1', '--passes', '1,4', '--profile-repeats', '2', '--json', json], { timeout: 150_000 });
    const out = JSON.parse(readFileSync(json, 'utf8'));
    expect(out.perPass.curve.map((c: { passes: number }) => c.passes)).toEqual([1, 4]);
    expect(Object.keys(out.trainer.stepsPerSec.A)).toEqual(['2']);
    // the two chains, pass by pass
    expect(out.breakdown.A.map((p: { pass: string }) => p.pass)).toEqual(['sample', 'step', 'adam', 'losses']);
    expect(out.breakdown.C.map((p: { pass: string }) => p.pass)).toEqual(['sample', 'hidden', 'out', 'outgrad', 'gh', 'grad', 'adam', 'lossRows', 'lossInstances']);
    for (const p of [...out.breakdown.A, ...out.breakdown.C]) expect(Number.isFinite(p.us)).toBe(true);
    // the products: 10 I B n m FLOPs a step (C: 20 x 1024 x 100 x 20); no known fp32 peak for llvmpipe
    expect(out.products.configs.C.flopsPerStep).toBe(10 * 20 * 1024 * 100 * 20);
    expect(out.products.peakTflops).toBe(null);
  }, 180_000);

  it('a sweep over 2 worker threads: each opens its own device (the EGL platform set by the main thread)', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'EGL_PLATFORM'));
    const out = mkdtempSync(join(tmpdir(), 'webgpu-sweep-'));
    const { stdout } = await promisify(execFile)('npx', ['tsx', 'scripts/phase-diagram.ts', '--experiment', 'neuron', '--steps', '20', '--seeds', '1', '--workers', '2', '--backend', 'gpujs:webgpu', '--out', out], {
      env: { ...env, SUPERPOSITION_WEBGPU_SOFTWARE: '1' },
      timeout: 120_000,
    });
    expect(stdout).toMatch(/2 worker threads, backend gpujs:webgpu \(WebGPU: .+\), trainer device \(whole steps on the device\)/);
    const { manifest } = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(manifest).toMatchObject({ backend: 'gpujs:webgpu', trainer: 'device', dataStream: 'threefry2x32-20 v1' });
  }, 150_000);
});
