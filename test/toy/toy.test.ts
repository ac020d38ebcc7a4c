import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/autograd/tensor.ts';
import { createRng } from '../../src/random.ts';
import { sampleBatch, streamKeys } from '../../src/toy/data.ts';
import { threefry2x32 } from '../../src/counter/threefry.ts';
import { featureMetrics } from '../../src/toy/metrics.ts';
import { initStd, ToyModel } from '../../src/toy/model.ts';
import { Adam, AdamW } from '../../src/toy/optim.ts';
import { lrFactor, train } from '../../src/toy/train.ts';
import { matmul, mul, sum } from '../../src/autograd/ops.ts';
import { getBackend, setBackend } from '../../src/kernels/registry.ts';

/** Arrays of `size` floats uniform in [lo, hi) from rng. */
const uniforms = (rng: ReturnType<typeof createRng>) => (size: number, lo: number, hi: number) => Float32Array.from({ length: size }, () => lo + (hi - lo) * rng.float32());
import { maxAbsDiff, nodeBackends, onBackend } from '../helpers.ts';

const golden = JSON.parse(readFileSync(new URL('../fixtures/torch_golden.json', import.meta.url), 'utf8'));

describe('Adam and AdamW match torch.optim step by step', () => {
  it.each([
    ['adam_lr1e-3', () => (p: Tensor) => new Adam([p], { lr: 1e-3 })],
    ['adamw_lr1e-3_wd1e-2', () => (p: Tensor) => new AdamW([p], { lr: 1e-3, weightDecay: 1e-2 })],
    ['adamw_lr1e-2_wd1e-2', () => (p: Tensor) => new AdamW([p], { lr: 1e-2, weightDecay: 1e-2 })],
    ['adamw_default', () => (p: Tensor) => new AdamW([p])],
  ])('%s', (key, make) => {
    const g = golden[key];
    const p = new Tensor(Float32Array.from(g.p0), [g.p0.length], true);
    const opt = make()(p);
    g.grads.forEach((grad: number[], k: number) => {
      p.grad = new Tensor(Float32Array.from(grad), [grad.length]);
      opt.step();
      // float32 storage, float64 arithmetic per element: within a few float32 ulps of torch's float32 ops.
      expect(maxAbsDiff(p.data, g.after_each_step[k])).toBeLessThan(3e-7);
    });
  });

  it('Adam with weight decay adds the L2 term to the gradient (differs from AdamW)', () => {
    const run = (opt: (p: Tensor) => Adam) => {
      const p = new Tensor(Float32Array.of(2), [1], true);
      const o = opt(p);
      p.grad = new Tensor(Float32Array.of(0), [1]);
      o.step();
      return p.data[0];
    };
    // Zero gradient: Adam+L2 sees g = wd*p > 0 and moves by lr (normalised step); AdamW only decays p by lr*wd*p.
    expect(run((p) => new Adam([p], { lr: 0.1, weightDecay: 0.5 }))).toBeCloseTo(2 - 0.1, 6);
    expect(run((p) => new AdamW([p], { lr: 0.1, weightDecay: 0.5 }))).toBeCloseTo(2 * (1 - 0.05), 6);
  });
});

describe('toy model', () => {
  it('reproduces the notebook model loss and gradients (PyTorch golden)', () => {
    const g = golden.tied_relu_output;
    const [I, , n] = g.shapes.x;
    const model = new ToyModel({ kind: 'relu-output', instances: I, features: n, hidden: g.shapes.W[2] }, createRng(0));
    model.W.data.set(g.W);
    model.b.data.set(g.b);
    const loss = model.loss(new Tensor(Float32Array.from(g.x), g.shapes.x), new Tensor(Float32Array.from(g.importance), [n]));
    loss.backward();
    expect(loss.item()).toBeCloseTo(g.loss, 6);
    expect(maxAbsDiff(model.W.grad!.data, g.dW)).toBeLessThan(1e-6);
    expect(maxAbsDiff(model.b.grad!.data, g.db)).toBeLessThan(1e-6);
  });

  it('initial std: per-instance Xavier and the notebook 3-D fan (torch values)', () => {
    for (const [key, v] of Object.entries<{ std: number; per_instance_std: number }>(golden.xavier_normal_std_3d)) {
      const [I, n, m] = JSON.parse(key);
      expect(initStd({ kind: 'relu-output', instances: I, features: n, hidden: m, init: 'notebook' })).toBeCloseTo(v.std, 12);
      expect(initStd({ kind: 'relu-output', instances: I, features: n, hidden: m })).toBeCloseTo(v.per_instance_std, 12);
    }
  });

  it('the |x| model computes relu(W2 relu(W1 x) + b) against |x|', () => {
    const model = new ToyModel({ kind: 'abs', instances: 1, features: 1, hidden: 2 }, createRng(0));
    model.W.data.set([1, -1]); // h = (relu(x), relu(-x))
    model.W2!.data.set([1, 1]); // y = relu(x) + relu(-x) = |x|
    const x = new Tensor(Float32Array.of(-0.5, 0.25, 0), [1, 3, 1]);
    expect([...model.forward(x).data]).toEqual([0.5, 0.25, 0]);
    expect(model.loss(x, new Tensor(Float32Array.of(1), [1])).item()).toBe(0);
  });
});

describe('data', () => {
  it('each feature is active with the instance density, uniform on [0,1) when active', () => {
    const density = [1, 0.3, 0.05];
    const batch = 20_000;
    const x = sampleBatch({ instances: 3, batch, features: 5, density }, streamKeys(['a', 'b', 'c']), 0);
    density.forEach((p, i) => {
      const slice = x.subarray(i * batch * 5, (i + 1) * batch * 5);
      const active = slice.filter((v) => v !== 0);
      const se = Math.sqrt((p * (1 - p)) / slice.length);
      expect(Math.abs(active.length / slice.length - p)).toBeLessThanOrEqual(5 * se + 1e-12);
      const meanActive = active.reduce((a, b) => a + b, 0) / active.length;
      expect(Math.abs(meanActive - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / active.length));
      expect(Math.max(...active)).toBeLessThan(1);
    });
  });

  it('the WebAssembly SIMD sampler writes the TypeScript loop\'s bytes, at every step and for lengths off its lane width', async () => {
    const { setWasmSampling } = await import('../../src/toy/data.ts');
    for (const values of ['unit', 'signed'] as const) {
      const spec = { instances: 5, batch: 777, features: 3, density: [1, 0.5, 0.1, 0.01, 0], values };
      const keys = streamKeys(spec.density.map((_, i) => `stream ${i}`));
      const run = (wasm: boolean, step: number) => {
        setWasmSampling(wasm);
        return Buffer.from(sampleBatch(spec, keys, step).buffer);
      };
      for (const step of [0, 1, 2 ** 32 - 1]) expect(run(true, step).equals(run(false, step))).toBe(true);
      expect(run(true, 0).equals(run(true, 1))).toBe(false);
      // Into the wasm backend's shared memory, where the sampler writes in place: the same bytes, and nothing
      // written before or after the batch (777 x 3 values an instance: not a multiple of the sampler's 16 lanes).
      const { createWasmKernels } = await import('../../src/kernels/wasm.ts');
      const memory = createWasmKernels().memory!;
      const size = spec.instances * spec.batch * spec.features;
      const around = memory.allocate(size + 40).fill(-7);
      const inMemory = sampleBatch(spec, keys, 3, around.subarray(20, 20 + size));
      setWasmSampling(false);
      expect(Buffer.from(inMemory.buffer, inMemory.byteOffset, inMemory.byteLength).equals(Buffer.from(sampleBatch(spec, keys, 3).buffer))).toBe(true);
      setWasmSampling(true);
      expect([...around.subarray(0, 20), ...around.subarray(20 + size)]).toEqual(new Array(40).fill(-7));
    }
    setWasmSampling(true);
  });

  it('an element is Threefry-2x32-20 of (stream key, (step, sample * features + feature)), gated and scaled by integer rules', () => {
    const keys = streamKeys(['0123456789abcdef']);
    const [p, step, batch, features] = [0.37, 12345, 9, 7];
    const x = sampleBatch({ instances: 1, batch, features, density: [p], values: 'signed' }, keys, step);
    const words = new Int32Array(2);
    for (let e = 0; e < batch * features; e++) {
      threefry2x32(0x01234567, 0x89abcdef | 0, step, e, words);
      const active = words[0] >>> 8 < Math.fround(p) * 2 ** 24;
      expect(x[e]).toBe(active ? 2 * ((words[1] >>> 8) / 2 ** 24) - 1 : 0);
    }
  });

  it('Threefry-2x32-20 gives the Random123 known-answer vectors', () => {
    const out = new Uint32Array(2);
    const kat = [
      [[0, 0], [0, 0], [0x6b200159, 0x99ba4efe]],
      [[0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
      [[0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3], [0xc4923a9c, 0x483df7a0]],
    ];
    for (const [[k0, k1], [c0, c1], expected] of kat) {
      threefry2x32(k0, k1, c0, c1, out);
      expect([...out]).toEqual(expected);
    }
  });

  it('rejects a density outside [0, 1], naming the instance', () => {
    expect(() => sampleBatch({ instances: 2, batch: 1, features: 1, density: [0.5, 1.5] }, streamKeys(['a', 'b']), 0)).toThrow('sampleBatch: density 1.5 of instance 1 is outside [0, 1]');
  });
});

describe('metrics: closed forms of the paper geometry', () => {
  it('an antipodal pair has D = 1/2 and superposition 1; an unlearned feature 0', () => {
    const W = Float32Array.from([1, 0, -1, 0, 0, 0]); // 3 features in 2 dims
    const f = featureMetrics(W, 0, 3, 2);
    expect(f.dimensionality[0]).toBeCloseTo(0.5, 4);
    expect(f.dimensionality[2]).toBe(0);
    expect(f.superposition[0]).toBeCloseTo(1, 4);
    expect(f.dimensionsPerFeature).toBeCloseTo(1, 6); // m / ||W||_F^2 = 2 / 2
  });

  it('a regular pentagon has D_i = 2/5 and D* = 2/5', () => {
    const W = new Float32Array(10);
    for (let i = 0; i < 5; i++) {
      W[2 * i] = Math.cos((2 * Math.PI * i) / 5);
      W[2 * i + 1] = Math.sin((2 * Math.PI * i) / 5);
    }
    const f = featureMetrics(W, 0, 5, 2);
    for (const d of f.dimensionality) expect(d).toBeCloseTo(0.4, 4);
    expect(f.dimensionsPerFeature).toBeCloseTo(0.4, 5);
  });
});

describe('trainer', () => {
  const config = {
    model: { kind: 'relu-output' as const, instances: 2, features: 3, hidden: 2 },
    importance: [1, 0.9, 0.81],
    density: [1, 0.1],
    batch: 64,
    steps: 30,
    lr: 1e-2,
    optimizer: 'adamw' as const,
    seed: 11,
  };

  it('the same seed gives the same bytes; another seed does not', () => {
    const bytes = (seed: number) => Buffer.from(train({ ...config, seed }).model.W.data.buffer);
    expect(bytes(11)).toEqual(bytes(11));
    expect(bytes(11)).not.toEqual(bytes(12));
  });

  it('training lowers the loss', () => {
    const before = train({ ...config, steps: 1 }).finalLosses;
    const after = train({ ...config, steps: 300 }).finalLosses;
    for (let i = 0; i < 2; i++) expect(after[i]).toBeLessThan(before[i]);
  });

  it('a diverging run names the run and the step', () => {
    expect(() => train({ ...config, lr: 1e30, name: 'blow-up' })).toThrow(/training run 'blow-up': loss of instance \d is (NaN|Infinity) at step \d+/);
  });

  it('learning-rate schedules are the notebook formulas', () => {
    expect(lrFactor('linear', 25, 100)).toBe(0.75);
    expect(lrFactor('cosine', 99, 100)).toBeCloseTo(0, 12);
    expect(lrFactor('cosine', 0, 100)).toBe(1);
    expect(lrFactor('constant', 50, 100)).toBe(1);
  });
});

describe('batching independence', () => {
  it('an instance trained alone gives the same bytes as inside a larger batch of instances', () => {
    const base = {
      importance: [1, 0.5],
      batch: 32,
      steps: 20,
      lr: 1e-2,
      optimizer: 'adamw' as const,
      seed: 'unused',
    };
    const seeds = ['cell-a', 'cell-b', 'cell-c'];
    const together = train({ ...base, model: { kind: 'relu-output', instances: 3, features: 2, hidden: 1 }, density: [0.3, 0.1, 0.05], instanceSeeds: seeds });
    const alone = train({ ...base, model: { kind: 'relu-output', instances: 1, features: 2, hidden: 1 }, density: [0.1], instanceSeeds: [seeds[1]] });
    expect(Buffer.from(alone.model.W.data.buffer)).toEqual(Buffer.from(together.model.W.data.slice(2, 4).buffer));
    expect(alone.finalLosses[0]).toBe(together.finalLosses[1]);
  });
});

describe('fused primitives', () => {
  it('reluOutputLoss is importanceMse(biasRelu(...)) bit for bit: loss and every gradient, for g = 1 and any g', async () => {
    const { biasRelu, importanceMse, reluOutputLoss } = await import('../../src/toy/fused.ts');
    const [I, B, n] = [3, 64, 7];
    const wave = (len: number, f: number) => new Float32Array(len).map((_, i) => Math.sin(i * f) * 0.8);
    const inputs = () => ({ pre: new Tensor(wave(I * B * n, 0.37), [I, B, n], true), b: new Tensor(wave(I * n, 1.3), [I, n], true), t: new Tensor(wave(I * B * n, 0.91).map(Math.abs), [I, B, n], true) });
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength).equals(Buffer.from(y.buffer, y.byteOffset, y.byteLength));
    for (const imp of [new Tensor(wave(n, 0.5).map((v) => Math.abs(v) + 0.1), [n]), new Tensor(wave(I * n, 0.7).map((v) => Math.abs(v)), [I, n])]) {
      for (const g of [new Float32Array(I).fill(1), Float32Array.of(0.5, -2, 3)]) {
        const [a, c] = [inputs(), inputs()];
        const composed = importanceMse(biasRelu(a.pre, a.b), a.t, imp);
        composed.backward(new Tensor(g, [I]));
        const fused = reluOutputLoss(c.pre, c.b, c.t, imp);
        fused.backward(new Tensor(g, [I]));
        expect(same(fused.data, composed.data)).toBe(true);
        expect(same(c.pre.grad!.data, a.pre.grad!.data)).toBe(true);
        expect(same(c.b.grad!.data, a.b.grad!.data)).toBe(true);
        expect(same(c.t.grad!.data, a.t.grad!.data)).toBe(true);
      }
    }
    // and against finite differences, through the engine's gradcheck
    const { gradcheck } = await import('../../src/autograd/gradcheck.ts');
    const t = new Tensor(wave(2 * 5 * 3, 0.4).map(Math.abs), [2, 5, 3]);
    const impSmall = new Tensor(Float32Array.of(1, 0.5, 0.25), [3]);
    const result = gradcheck((pre: Tensor, b: Tensor) => reluOutputLoss(pre, b, t, impSmall), [new Tensor(wave(30, 0.3), [2, 5, 3], true), new Tensor(wave(6, 0.9), [2, 3], true)]);
    expect(result.ok, JSON.stringify(result.inputs)).toBe(true);
  });

  const kinds = ['linear', 'relu-output', 'relu-hidden', 'abs', 'relu-hidden with hidden bias'] as const;
  it.each(kinds)('%s: the fused model gives the plain composition\'s loss and gradients', (name) => {
    const hiddenBias = name === 'relu-hidden with hidden bias';
    const kind = hiddenBias ? 'relu-hidden' : name;
    const run = (fused: boolean) => {
      const model = new ToyModel({ kind, instances: 3, features: 4, hidden: 2, fused, hiddenBias }, createRng(5));
      if (model.bHidden) model.bHidden.data.set([0.1, -0.2, 0.3, 0.05, -0.1, 0.2]); // non-zero, so its gradient path matters
      const x = new Tensor(sampleBatch({ instances: 3, batch: 16, features: 4, density: [1, 0.5, 0.2], values: kind === 'abs' ? 'signed' : 'unit' }, streamKeys(['a', 'b', 'c']), 6), [3, 16, 4]);
      const loss = model.loss(x, new Tensor(Float32Array.of(1, 0.9, 0.8, 0.7, 1, 1, 1, 1, 0.5, 0.5, 0.5, 0.5), [3, 4]));
      loss.backward();
      return { loss: loss.item(), grads: model.parameters.map((p) => p.grad!.data) };
    };
    const [plain, fused] = [run(false), run(true)];
    expect(fused.loss).toBeCloseTo(plain.loss, 6);
    fused.grads.forEach((g, i) => expect(maxAbsDiff(g, plain.grads[i])).toBeLessThan(1e-6));
  });

  it('gradcheck passes on both fused primitives (random shapes, off the ReLU kink)', async () => {
    const { gradcheck } = await import('../../src/autograd/gradcheck.ts');
    const { biasRelu, importanceMse } = await import('../../src/toy/fused.ts');
    const rng = createRng(9);
    const awayFromKink = (size: number) => Float32Array.from({ length: size }, () => (rng.float32() < 0.5 ? -1 : 1) * (0.2 + rng.float32()));
    for (const [I, B, n] of [[1, 1, 1], [2, 3, 4], [3, 5, 2]]) {
      const pre = new Tensor(awayFromKink(I * B * n), [I, B, n]);
      const b = new Tensor(new Float32Array(I * n), [I, n]); // zero bias keeps pre + b off the kink
      expect(gradcheck(biasRelu, [pre, b], { seed: I }).ok).toBe(true);
      const target = new Tensor(awayFromKink(I * B * n), [I, B, n]);
      const imp = new Tensor(Float32Array.from({ length: n }, (_, f) => 0.9 ** f), [n]);
      expect(gradcheck((p, t) => importanceMse(p, t, imp), [pre, target], { seed: B }).ok).toBe(true);
    }
  });
});

describe('tiedReluLoss: the whole small tied model as one primitive', () => {
  it('gradcheck on W and b over shapes up to the size cut-off, shared and per-instance importance', async () => {
    const { gradcheck } = await import('../../src/autograd/gradcheck.ts');
    const { tiedReluLoss } = await import('../../src/toy/fused.ts');
    const values = uniforms(createRng(13));
    for (const [I, B, n, m] of [[1, 3, 2, 1], [2, 5, 3, 2], [3, 4, 5, 2], [1, 6, 8, 8]]) {
      const x = new Tensor(values(I * B * n, 0, 1).map((v) => (v < 0.3 ? 0 : v)), [I, B, n]); // sparse, as the data is
      const W = new Tensor(values(I * n * m, -1, 1), [I, n, m]);
      const b = new Tensor(values(I * n, -0.2, 0.2), [I, n]);
      for (const imp of [new Tensor(values(n, 0.5, 1), [n]), new Tensor(values(I * n, 0.5, 1), [I, n])]) {
        expect(gradcheck((w, bias) => tiedReluLoss(x, w, bias, imp), [W, b], { seed: I + n }).ok).toBe(true);
      }
    }
  });

  it('names both shapes when they do not fit', async () => {
    const { tiedReluLoss } = await import('../../src/toy/fused.ts');
    const x = new Tensor(new Float32Array(12), [2, 3, 2]);
    expect(() => tiedReluLoss(x, new Tensor(new Float32Array(6), [2, 3, 1]), new Tensor(new Float32Array(4), [2, 2]), new Tensor(new Float32Array(2), [2]))).toThrow(/tiedReluLoss.*W must be \[2, 2, m\]/);
  });
});

const backends = await nodeBackends(); // js and wasm run tiedProduct's host path; the gpu.js ones its device path

describe('tiedOutputLoss: the larger tied models instance by instance', () => {
  const rng = createRng(17);
  const values = uniforms(rng);

  it('gradcheck on W and b, shared and per-instance importance', async () => {
    const { gradcheck } = await import('../../src/autograd/gradcheck.ts');
    const { tiedOutputLoss } = await import('../../src/toy/fused.ts');
    for (const [I, B, n, m] of [[1, 4, 9, 8], [2, 5, 12, 3]]) {
      const x = new Tensor(values(I * B * n, 0, 1).map((v) => (v < 0.3 ? 0 : v)), [I, B, n]);
      const W = new Tensor(values(I * n * m, -1, 1), [I, n, m]);
      const b = new Tensor(values(I * n, -0.2, 0.2), [I, n]);
      for (const imp of [new Tensor(values(n, 0.5, 1), [n]), new Tensor(values(I * n, 0.5, 1), [I, n])]) {
        expect(gradcheck((w, bias) => tiedOutputLoss(x, w, bias, imp), [W, b], { seed: I + n }).ok).toBe(true);
      }
    }
  });

  describe.each(backends.filter((b) => !b.startsWith('gpujs:')))('on %s', (backend) => {
    onBackend(backend);
    it('the bits of reluOutputLoss(matmul(matmul(x, W), W^T), b, x, imp): loss, dW and db, for g = 1 and any g', async () => {
      const { tiedOutputLoss, reluOutputLoss } = await import('../../src/toy/fused.ts');
      // dense, sparse and very sparse instances (the wasm kernels choose per instance), past the wasm cut-off
      const [I, B, n, m] = [3, 64, 40, 7];
      const density = [1, 0.3, 0.05];
      const x = new Tensor(values(I * B * n, 0, 1).map((v, e) => (rng.float32() < density[Math.floor(e / (B * n))] ? v : 0)), [I, B, n]);
      const [Wvalues, bValues] = [values(I * n * m, -0.5, 0.5), values(I * n, -0.1, 0.1)];
      for (const imp of [new Tensor(values(n, 0.2, 1), [n]), new Tensor(values(I * n, 0.2, 1), [I, n])]) {
        for (const g of [new Float32Array(I).fill(1), Float32Array.of(0.5, -2, 3)]) {
          const run = (f: (w: Tensor, b: Tensor) => Tensor) => {
            const [W, b] = [new Tensor(Wvalues.slice(), [I, n, m], true), new Tensor(bValues.slice(), [I, n], true)];
            const loss = f(W, b);
            loss.backward(new Tensor(g, [I]));
            return [loss.data, W.grad!.data, b.grad!.data].map((d) => Buffer.from(d.slice().buffer));
          };
          const fused = run((W, b) => tiedOutputLoss(x, W, b, imp));
          const composed = run((W, b) => reluOutputLoss(matmul(matmul(x, W), W, { transposeB: true }), b, x, imp));
          fused.forEach((bytes, j) => expect(bytes, ['loss', 'dW', 'db'][j]).toEqual(composed[j]));
        }
      }
    });
  });
});

describe('buffer reuse across steps', () => {
  it.each(['relu-output', 'relu-hidden', 'abs', 'linear'] as const)('%s: the same bytes with and without the arena', (kind) => {
    const run = (reuseBuffers: boolean) =>
      train({ model: { kind, instances: 3, features: 5, hidden: 2 }, importance: [1, 0.9, 0.8, 0.7, 0.6], density: [1, 0.3, 0.05], batch: 32, steps: 25, lr: 1e-2, optimizer: 'adamw', seed: 4, reuseBuffers });
    const [fresh, reused] = [run(false), run(true)];
    fresh.model.parameters.forEach((p, i) => expect(Buffer.from(reused.model.parameters[i].data.buffer)).toEqual(Buffer.from(p.data.buffer)));
    expect([...reused.finalLosses]).toEqual([...fresh.finalLosses]);
  });
});

describe("wasm: the step's buffers in WebAssembly memory", () => {
  // With the arena, the step's arrays live in the wasm backend's memory: the products read and write them in place
  // and the output loss (n a multiple of 4) or the small models' loss runs as its SIMD kernel. Without it, the kernels copy and the loss runs
  // its TypeScript loop: the specification, whose bytes the fast paths must give.
  it.each([['relu-output', 40, 8], ['relu-output', 42, 6], ['relu-hidden', 40, 8], ['abs', 40, 8], ['relu-output', 5, 2], ['relu-output', 2, 1]] as const)('%s %i -> %i: the bytes of plain arrays', async (kind, n, m) => {
    const { useBackend } = await import('../../src/kernels/select.ts');
    const { registerBackend, withBackend } = await import('../../src/kernels/registry.ts');
    const wasm = await useBackend('wasm');
    setBackend('js');
    expect(wasm.memory, 'Node has shared WebAssembly memory').toBeDefined();
    let kernelLosses = 0;
    const counted = <A,>(kernel: (args: A) => boolean) => (args: A) => (kernel(args) ? (kernelLosses++, true) : false);
    registerBackend({ ...wasm, name: 'wasm-counted', reluOutputLoss: counted(wasm.reluOutputLoss!), tiedReluLoss: counted(wasm.tiedReluLoss!) });
    const run = (reuseBuffers: boolean) =>
      withBackend('wasm-counted', () =>
        train({ model: { kind, instances: 3, features: n, hidden: m }, importance: Array.from({ length: n }, (_, i) => 0.95 ** i), density: [1, 0.3, 0.05], batch: 128, steps: 20, lr: 1e-2, optimizer: 'adamw', seed: 4, reuseBuffers }),
      );
    const plain = run(false);
    expect(kernelLosses).toBe(0);
    const inMemory = run(true);
    // small tied models: tiedReluLoss forward and backward each step; the others end in reluOutputLoss (n % 4 = 0),
    // the larger tied ones (tiedOutputLoss) once per instance
    expect(kernelLosses).toBe(n * m <= 64 ? 40 : n % 4 !== 0 ? 0 : kind === 'relu-output' ? 20 * 3 : 20);
    plain.model.parameters.forEach((p, i) => expect(Buffer.from(inMemory.model.parameters[i].data.buffer).equals(Buffer.from(p.data.buffer))).toBe(true));
    expect([...inMemory.finalLosses]).toEqual([...plain.finalLosses]);
  });

  it.each([['relu-output', 10, 8], ['relu-hidden', 10, 8], ['abs', 8, 10]] as const)('%s %i -> %i, dense, 20 instances: products whose rows pad to 4 write no further than their output', async (kind, n, m) => {
    // A dense TN product writes C rows padded to a multiple of 4: into an output that lies in the memory, the padding
    // rows would overwrite the next block (the arena's next buffer).
    const { useBackend } = await import('../../src/kernels/select.ts');
    const { withBackend } = await import('../../src/kernels/registry.ts');
    await useBackend('wasm');
    setBackend('js');
    const run = (reuseBuffers: boolean) =>
      withBackend('wasm', () =>
        train({ model: { kind, instances: 20, features: n, hidden: m }, importance: Array.from({ length: n }, (_, i) => 0.95 ** i), density: new Array(20).fill(0.8), batch: 512, steps: 10, lr: 1e-2, optimizer: 'adamw', seed: 5, reuseBuffers }),
      );
    const [plain, inMemory] = [run(false), run(true)];
    plain.model.parameters.forEach((p, i) => expect(Buffer.from(inMemory.model.parameters[i].data.buffer).equals(Buffer.from(p.data.buffer))).toBe(true));
    expect([...inMemory.finalLosses]).toEqual([...plain.finalLosses]);
  });
});


describe('tiedProduct: the tied models\' two products with h kept on the device', () => {
  const values = uniforms(createRng(29));

  it('gradcheck on W (host path)', async () => {
    const { gradcheck } = await import('../../src/autograd/gradcheck.ts');
    const { tiedProduct } = await import('../../src/toy/fused.ts');
    for (const [I, B, n, m] of [[1, 3, 2, 1], [2, 5, 7, 3]]) {
      const x = new Tensor(values(I * B * n, -1, 1), [I, B, n]);
      const W = new Tensor(values(I * n * m, -1, 1), [I, n, m]);
      const weights = new Tensor(values(I * B * n, -1, 1), [I, B, n]); // a fixed linear functional of pre
      expect(gradcheck((w) => sum(mul(tiedProduct(x, w), weights)), [W], { seed: I + n }).ok).toBe(true);
    }
  });

  describe.each(backends)('on %s', (backend) => {
    onBackend(backend);
    it('the same bits as matmul(matmul(x, W), W^T) and its backward, gradient included', async () => {
      const { tiedProduct } = await import('../../src/toy/fused.ts');
      const [I, B, n, m] = [3, 40, 30, 7]; // k = 30 * 7 * 40 per instance: past the wasm kernels' cut-off too
      const x = new Tensor(values(I * B * n, 0, 1).map((v) => (v < 0.7 ? 0 : v)), [I, B, n]);
      const g = new Tensor(values(I * B * n, -1, 1), [I, B, n]);
      const run = (f: (w: Tensor) => Tensor) => {
        const W = new Tensor(Wvalues.slice(), [I, n, m], true);
        const pre = f(W);
        sum(mul(pre, g)).backward();
        return [pre.data.slice(), W.grad!.data.slice()];
      };
      const Wvalues = values(I * n * m, -1, 1);
      const [preA, gradA] = run((w) => tiedProduct(x, w));
      const [preB, gradB] = run((w) => matmul(matmul(x, w), w, { transposeB: true }));
      expect(Buffer.from(preA.buffer)).toEqual(Buffer.from(preB.buffer));
      expect(Buffer.from(gradA.buffer)).toEqual(Buffer.from(gradB.buffer));
    });
  });

  it.each(backends.filter((b) => b.startsWith('gpujs:')))('training on %s: the same bytes with the device chain on and off', (backend) => {
    const previous = getBackend().name;
    setBackend(backend);
    try {
      const run = (deviceChain: boolean) =>
        train({ model: { kind: 'relu-output', instances: 2, features: 20, hidden: 5, deviceChain }, importance: Array.from({ length: 20 }, (_, i) => 0.9 ** i), density: [0.1, 0.3], batch: 64, steps: 4, lr: 1e-2, optimizer: 'adamw', seed: 8 });
      const [on, off] = [run(true), run(false)];
      off.model.parameters.forEach((p, i) => expect(Buffer.from(on.model.parameters[i].data.buffer)).toEqual(Buffer.from(p.data.buffer)));
      expect([...on.finalLosses]).toEqual([...off.finalLosses]);
    } finally {
      setBackend(previous);
    }
  });
});
