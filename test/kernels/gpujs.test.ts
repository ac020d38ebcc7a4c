/**
 * The gpu.js backend's own behaviour (the contract itself is in backends.test.ts): refusals that say why, no
 * silent fallback to another kernel class, memoised kernels, and auto's choice per shape.
 */
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import * as gpujs from 'gpu.js';
import { createGpujsKernels, type GpujsModule } from '../../src/kernels/gpujs.ts';
import { referenceKernels } from '../../src/kernels/reference.ts';
import { getBackend, setBackend } from '../../src/kernels/registry.ts';
import { autoKernels, AUTO_MARGIN, useBackend, type AutoKernels } from '../../src/kernels/select.ts';
import type { Kernels, MatmulSpec } from '../../src/kernels/types.ts';
import { maxAbsDiff } from '../helpers.ts';

const spec = (batch: number, m: number, k: number, n: number): MatmulSpec => ({
  batch, m, k, n, transA: false, transB: false,
  aOffsets: Int32Array.from({ length: batch }, (_, q) => q * m * k),
  bOffsets: Int32Array.from({ length: batch }, (_, q) => q * k * n),
});
/** [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]. */
const a22 = Float32Array.from([1, 2, 3, 4]);
const b22 = Float32Array.from([5, 6, 7, 8]);

/** A stand-in for gpu.js whose kernels report the given class and precision after running. */
function fakeGpujs(chosen: string, ran: string, precision = 'single', fallbackReason?: string): GpujsModule {
  class FakeGPU {
    Kernel = { name: chosen };
    createKernel() {
      const run = Object.assign(() => Float32Array.from([19, 22, 43, 50]), {
        kernel: { built: false, constructor: { name: ran }, precision, fallbackReason },
      });
      return run;
    }
    destroy() {}
  }
  return { GPU: FakeGPU as unknown as GpujsModule['GPU'] };
}

describe('gpujs backend', () => {
  it('computes [[1,2],[3,4]] x [[5,6],[7,8]] on webasm and cpu, and names itself', () => {
    for (const mode of ['webasm', 'cpu'] as const) {
      const k = createGpujsKernels(gpujs as unknown as GpujsModule, mode);
      const out = new Float32Array(4);
      k.matmul(a22, b22, out, spec(1, 2, 2, 2));
      expect([...out]).toEqual([19, 22, 43, 50]);
      expect(k.name).toBe(`gpujs:${mode}`);
      expect(k.kernelClass).toBe(mode === 'webasm' ? 'WebAssemblyKernel' : 'CPUKernel');
      k.destroy();
    }
  });

  it('memoises one kernel per shape and operand sizes', () => {
    const k = createGpujsKernels(gpujs as unknown as GpujsModule, 'webasm');
    const out = new Float32Array(8);
    k.matmul(a22, b22, out, spec(1, 2, 2, 2));
    k.matmul(a22, b22, out, spec(1, 2, 2, 2));
    expect(k.cachedKernels).toBe(1);
    k.matmul(Float32Array.of(...a22, ...a22), Float32Array.of(...b22, ...b22), out, spec(2, 2, 2, 2));
    expect(k.cachedKernels).toBe(2);
    expect([...out]).toEqual([19, 22, 43, 50, 19, 22, 43, 50]);
    k.destroy();
  });

  it('refuses GPU mode in Node without a GL context, saying why', () => {
    expect(() => createGpujsKernels(gpujs as unknown as GpujsModule, 'gpu')).toThrow(
      /^gpujs:gpu cannot start: gpu\.js would run WebAssemblyKernel, not WebGL2Kernel or WebGLKernel or HeadlessGLKernel\. In Node, gpu\.js's GPU mode needs the native 'gl' package .* and an X display \(DISPLAY is/,
    );
  });

  it('refuses webgpu on the calling thread: its readback is asynchronous only (Node runs it in a worker)', () => {
    expect(() => createGpujsKernels(gpujs as unknown as GpujsModule, 'webgpu')).toThrow(/^gpujs:webgpu cannot run on this thread: gpu\.js reads WebGPU results back only asynchronously \(mapAsync\), and the kernels interface is synchronous\. useBackend\('gpujs:webgpu'\) runs it in a worker \(a worker thread in Node; from a Web Worker in a browser\)/);
  });

  it('refuses an unknown mode, listing the allowed ones', () => {
    expect(() => createGpujsKernels(gpujs as unknown as GpujsModule, 'cuda' as never)).toThrow("gpujs: unknown mode 'cuda' (allowed: gpu, webgpu, webasm, cpu)");
  });

  it('throws when gpu.js falls back to another kernel class at build time', () => {
    const k = createGpujsKernels(fakeGpujs('WebAssemblyKernel', 'CPUKernel', 'single', 'graphical kernels are not supported'), 'webasm');
    const fellBack = 'gpujs:webasm: gpu.js fell back to CPUKernel (graphical kernels are not supported); refusing to report results from another backend';
    expect(() => k.matmul(a22, b22, new Float32Array(4), spec(1, 2, 2, 2))).toThrow(fellBack);
    // The unverified kernel was not cached: a second call checks again instead of returning its numbers.
    expect(() => k.matmul(a22, b22, new Float32Array(4), spec(1, 2, 2, 2))).toThrow(fellBack);
    expect(k.cachedKernels).toBe(0);
  });

  it('throws when a GL context gives less than single precision', () => {
    const k = createGpujsKernels(fakeGpujs('WebGL2Kernel', 'WebGL2Kernel', 'unsigned'), 'gpu');
    expect(() => k.matmul(a22, b22, new Float32Array(4), spec(1, 2, 2, 2))).toThrow("gpujs:gpu: the GL context gives precision 'unsigned', not 'single' (no float textures); results would be 8-bit");
  });

  it('refuses problems beyond exact float32 shader indexing', () => {
    const k = createGpujsKernels(gpujs as unknown as GpujsModule, 'cpu');
    const big = { ...spec(1, 4096, 1, 4096), aOffsets: new Int32Array(1), bOffsets: new Int32Array(1) };
    expect(() => k.matmul(new Float32Array(4096), new Float32Array(4096), new Float32Array(4096 * 4096), big)).toThrow(/exceeds the 8388608 elements float32 shader indexing handles exactly/);
  });
});

describe('useBackend', () => {
  it('loads gpu.js on request, and refuses unknown names', async () => {
    expect((await useBackend('gpujs:webasm')).name).toBe('gpujs:webasm');
    expect(getBackend().name).toBe('gpujs:webasm');
    await expect(useBackend('gpujs:gpu')).rejects.toThrow(/^gpujs:gpu cannot start/);
    expect(getBackend().name).toBe('gpujs:webasm'); // a failed request leaves the active backend alone
    await expect(useBackend('cuda')).rejects.toThrow("useBackend: unknown backend 'cuda' (allowed: js, wasm, gpujs, gpujs:gpu, gpujs:webgpu, gpujs:webasm, gpujs:cpu, auto)");
    await expect(useBackend('gpujs:metal')).rejects.toThrow("useBackend: unknown gpu.js mode 'metal' (allowed: gpu, webgpu, webasm, cpu)");
    setBackend('js');
  });

  it('auto in Node: candidates are js, wasm and gpujs:webasm (webgpu only on a GPU), the skipped ones are printed with the reason', async () => {
    const lines: string[] = [];
    const software = process.env.SUPERPOSITION_WEBGPU_SOFTWARE;
    delete process.env.SUPERPOSITION_WEBGPU_SOFTWARE; // auto must not take a software WebGPU adapter
    const k = await useBackend('auto', { log: (l) => lines.push(l) }).finally(() => {
      if (software !== undefined) process.env.SUPERPOSITION_WEBGPU_SOFTWARE = software;
    });
    try {
      expect(k.name).toBe('auto');
      expect(lines[0]).toMatch(/^auto: not a candidate: gpujs:gpu cannot start: /);
      const webgpu = (k as AutoKernels).candidates.includes('gpujs:webgpu');
      if (!webgpu) expect(lines[1]).toMatch(/^auto: not a candidate: gpujs:webgpu cannot start: no WebGPU adapter on a GPU/);
      const out = new Float32Array(4);
      k.matmul(a22, b22, out, spec(1, 2, 2, 2));
      expect([...out]).toEqual([19, 22, 43, 50]);
      const gpuCandidate = webgpu ? ', gpujs:webgpu [\\d.]+ GFLOP\\/s' : '';
      expect(lines.at(-1)).toMatch(new RegExp(`^auto: matmul NN 1x2x2x2 -> (js|wasm|gpujs:webasm|gpujs:webgpu) \\(js [\\d.]+ GFLOP\\/s, wasm [\\d.]+ GFLOP\\/s${gpuCandidate}, gpujs:webasm [\\d.]+ GFLOP\\/s\\)$`));
    } finally {
      setBackend('js');
    }
  });
});

describe('auto chooses per shape, once', () => {
  const named = (name: string): Kernels => ({ ...referenceKernels, name });
  // Fake timings (seconds per call) by candidate and shape: the choice logic without a timed test.
  const timings: Record<string, Record<string, number>> = {
    js: { small: 1, large: 10 },
    fast: { small: 1.1, large: 2 },
    ok: { small: 0.9, large: 10 / AUTO_MARGIN + 0.01 },
  };
  const shapeOf = (s: MatmulSpec) => (s.m > 2 ? 'large' : 'small');

  it('keeps the reference unless a candidate beats it by the margin, and measures each shape once', () => {
    let measured = 0;
    const lines: string[] = [];
    const auto = autoKernels([named('js'), named('fast'), named('ok')], (l) => lines.push(l), (c, _a, _b, _o, s) => {
      measured++;
      return timings[c.name][shapeOf(s)];
    });
    const a = Float32Array.from({ length: 9 }, (_, i) => i + 1);
    const out = new Float32Array(9);
    auto.matmul(a22, b22, out, spec(1, 2, 2, 2)); // 'ok' is faster than js, but within the margin
    auto.matmul(a22, b22, out, spec(1, 2, 2, 2));
    auto.matmul(a, a, out, spec(1, 3, 3, 3)); // 'fast' is 5x faster
    expect([...auto.choices]).toEqual([['NN 1x2x2x2', 'js'], ['NN 1x3x3x3', 'fast']]);
    expect(measured).toBe(6); // three candidates, two shapes
    expect(lines).toEqual([
      'auto: matmul NN 1x2x2x2 -> js (js 0.00 GFLOP/s, fast 0.00 GFLOP/s, ok 0.00 GFLOP/s)',
      'auto: matmul NN 1x3x3x3 -> fast (js 0.00 GFLOP/s, fast 0.00 GFLOP/s, ok 0.00 GFLOP/s)',
    ]);
    // The chosen backend computed the product: [1..9]^2 as 3x3 matrices.
    expect(maxAbsDiff(out, [30, 36, 42, 66, 81, 96, 102, 126, 150])).toBe(0);
  });
});

describe('scripts/backends.ts: which backends start here, checked and timed', () => {
  const run = (args: string[], env: NodeJS.ProcessEnv = process.env) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile('npx', ['tsx', 'scripts/backends.ts', ...args], { env, timeout: 120_000 }, (e, stdout, stderr) =>
        resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      ),
    );

  it('lists every backend: products within the float32 bound where they start, the reason where they do not', async () => {
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SUPERPOSITION_WEBGPU_SOFTWARE'));
    const { code, stdout } = await run(['--size', '24'], env);
    expect(code).toBe(0);
    const rows = new Map(stdout.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| backend')).map((l) => [l.split(' | ')[0].slice(2), l]));
    for (const name of ['js', 'wasm', 'gpujs:webasm', 'gpujs:cpu']) expect(rows.get(name)).toMatch(new RegExp(`^\\| ${name} \\| ok \\| `));
    expect(rows.get('gpujs:gpu')).toMatch(/^\| gpujs:gpu \| not available \| gpujs:gpu cannot start: /);
    // Without a GPU, webgpu is refused (a software adapter was not asked for); with one, it must be right.
    expect(rows.get('gpujs:webgpu')).toMatch(/^\| gpujs:webgpu \| (not available \| gpujs:webgpu cannot start: no WebGPU adapter on a GPU|ok \| WebGPU: )/);
  }, 150_000);

  it('refuses a size past exact shader indexing, naming the flag and the range', async () => {
    const { code, stderr } = await run(['--size', '2000']);
    expect(code).toBe(2);
    expect(stderr).toContain('backends: --size 2000: 4 x size^2 must stay below 2^23');
  }, 150_000);
});
