/**
 * GFLOP/s of the reference backend's batched matmul on the shapes the trainers use, every transpose variant,
 * against a textbook i-j-k loop run in the same process (the ratio is what to compare across machines).
 * Then ndarray-ops against the hand-written elementwise loop, the measurement behind using our own loops.
 *
 * With another backend (or `all`: every backend that starts here, and auto), one table of GFLOP/s per backend
 * and shape, each with its ratio to the reference measured in the same process; backends that cannot start
 * are listed with the reason. Beside them: the backends with memory of their own (wasm) with the operands already
 * there ("in place", as training keeps them), and TF.js's WebAssembly backend (XNNPACK) on the same shapes.
 *
 *   npx tsx scripts/bench-kernels.ts [--backend js|wasm|gpujs[:mode]|auto|all] [--min-ms 300]   (js: the reference against scalar baselines)
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import ndarray from 'ndarray';
import ops from 'ndarray-ops';
import { referenceKernels } from '../src/kernels/reference.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { measureDeviceChain } from '../src/kernels/device-chain.ts';
import type { GpujsKernels } from '../src/kernels/gpujs.ts';
import { BACKEND_CHOICES, backendFlag, useBackend, type AutoKernels } from '../src/kernels/select.ts';
import type { Kernels, MatmulSpec } from '../src/kernels/types.ts';
import { createRng } from '../src/random.ts';
import { parseFlags } from '../src/cli.ts';
import { secondsPerCall, time } from './timing.ts';

const flags = parseFlags(process.argv.slice(2), {
  backend: { ...backendFlag, choices: [...BACKEND_CHOICES, 'all'], help: `${backendFlag.help}; all: every backend that starts here, side by side` },
  'min-ms': { kind: 'number', default: 300, min: 10, max: 60_000, help: 'time each measurement for at least this long' },
}, 'usage: npx tsx scripts/bench-kernels.ts [flags]   GFLOP/s of the batched matmuls the trainers use, against a textbook loop run in the same process');
const rng = createRng('bench-kernels');

/**
 * The classic scalar baseline: i-k-j, k unrolled 4 times, one row at a time. Its speed calibrates the machine:
 * on a fast 2-core AMD EPYC it reaches 3.0-3.1 GFLOP/s, so "ours / ikj4" is the figure to compare across machines.
 */
function ikj4Matmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
  const { batch, m, k, n, transA, transB } = s;
  if (transA || transB) return; // measured for the NN variant only
  for (let q = 0; q < batch; q++) {
    const ao = s.aOffsets[q];
    const bo = s.bOffsets[q];
    const oo = q * m * n;
    out.fill(0, oo, oo + m * n);
    for (let i = 0; i < m; i++) {
      const o = oo + i * n;
      let p = 0;
      for (; p + 4 <= k; p += 4) {
        const r = ao + i * k + p;
        const a0 = a[r], a1 = a[r + 1], a2 = a[r + 2], a3 = a[r + 3];
        const b0 = bo + p * n, b1 = b0 + n, b2 = b1 + n, b3 = b2 + n;
        for (let j = 0; j < n; j++) out[o + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
      }
      for (; p < k; p++) for (let j = 0; j < n; j++) out[o + j] += a[ao + i * k + p] * b[bo + p * n + j];
    }
  }
}

/** The textbook loop: one dot product per output, A and B read as stored (transposes by index). */
function naiveMatmul(a: Float32Array, b: Float32Array, out: Float32Array, s: MatmulSpec): void {
  const { batch, m, k, n, transA, transB } = s;
  for (let q = 0; q < batch; q++) {
    const ao = s.aOffsets[q];
    const bo = s.bOffsets[q];
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) acc += a[ao + (transA ? p * m + i : i * k + p)] * b[bo + (transB ? j * k + p : p * n + j)];
        out[(q * m + i) * n + j] = acc;
      }
  }
}

const shapes: Array<[string, number, number, number, number]> = [
  ['[10,1024,5]x[10,5,2]', 10, 1024, 5, 2],
  ['[20,1024,100]x[20,100,20]', 20, 1024, 100, 20],
  ['[8,1024,400]x[8,400,30]', 8, 1024, 400, 30],
  ['256x256x256', 1, 256, 256, 256],
  ['1024x1024x1024', 1, 1024, 1024, 1024],
];

const machine = `${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.cpus().length} cores, Node ${process.version}`;

const variants = [[false, false], [false, true], [true, false], [true, true]] as const;

function specOf(batch: number, m: number, k: number, n: number, transA: boolean, transB: boolean): MatmulSpec {
  return {
    batch, m, k, n, transA, transB,
    aOffsets: Int32Array.from({ length: batch }, (_, q) => q * m * k),
    bOffsets: Int32Array.from({ length: batch }, (_, q) => q * k * n),
  };
}

if (flags.backend === 'js') await benchReference(referenceKernels);
else await compareBackends(flags.backend === 'all' ? BACKEND_CHOICES.filter((b) => b !== 'js' && b !== 'gpujs') : [flags.backend]);

/**
 * GFLOP/s of each backend against the reference, in this process. Backends that cannot start are listed with
 * the reason; an explicitly requested one that cannot start is an error (useBackend throws).
 */
async function compareBackends(names: readonly string[]): Promise<void> {
  const started: Kernels[] = [];
  const skipped: string[] = [];
  const autoLines: string[] = [];
  for (const name of names) {
    try {
      started.push(await useBackend(name, { log: (l) => autoLines.push(l) }));
    } catch (e) {
      if (names.length === 1) throw e;
      skipped.push(`${name}: ${(e as Error).message}`);
    }
  }
  console.log(`bench-kernels: backends js, ${started.map((k) => describeBackend(k)).join(', ')}; ${machine}`);
  for (const line of skipped) console.log(`  not run: ${line}`);
  const tf = await startTfjs();
  if (typeof tf === 'string') console.log(`  not run: TF.js wasm: ${tf}`);
  console.log('GFLOP/s of one batched matmul call (best of 3; inputs uploaded and results read back on every call), and the ratio to js');
  console.log('in this process. auto\'s first call per shape runs its micro-benchmark; the warm-up call absorbs it. "in place": the');
  console.log('operands and the result in the backend\'s own memory (KernelMemory), as the training step keeps them: no copies.');
  console.log('TF.js wasm: tf.matMul on tensors made beforehand, with the result read back (dataSync), single-threaded under Node.\n');
  const inPlace = started.filter((k) => k.memory);
  const heads = [...started.map((k) => k.name), ...inPlace.map((k) => `${k.name} in place`), ...(typeof tf === 'string' ? [] : ['TF.js wasm'])];
  console.log(`| shape | variant | js GFLOP/s | ${heads.map((h) => `${h} GFLOP/s | x js`).join(' | ')} |`);
  console.log(`|---|---|---|${heads.map(() => '---|---|').join('')}`);
  for (const [label, batch, m, k, n] of shapes) {
    const a = rng.fillNormal(new Float32Array(batch * m * k));
    const b = rng.fillNormal(new Float32Array(batch * k * n));
    const out = new Float32Array(batch * m * n);
    // The same operands inside each backend's memory.
    const placed = inPlace.map((kernels) => {
      const [pa, pb, pout] = [kernels.memory!.allocate(a.length), kernels.memory!.allocate(b.length), kernels.memory!.allocate(out.length)];
      pa.set(a);
      pb.set(b);
      return { kernels, pa, pb, pout };
    });
    const flops = 2 * batch * m * k * n;
    // Seconds-long calls: one call a round is enough to time them.
    const minMs = flops > 1e9 ? 1 : flags['min-ms'];
    for (const [transA, transB] of variants) {
      const spec = specOf(batch, m, k, n, transA, transB);
      const tfCall = typeof tf === 'string' ? [] : [tfjsMatmul(tf, a, b, spec)];
      // Rounds interleave the columns (js, b1, b2, ..., js, b1, ...) so that load from other jobs on a shared
      // machine hits all of them alike; each keeps its best round.
      const calls = [
        ...[referenceKernels, ...started].map((kernels) => () => kernels.matmul(a, b, out, spec)),
        ...placed.map(({ kernels, pa, pb, pout }) => () => kernels.matmul(pa, pb, pout, spec)),
        ...tfCall.map((t) => t.call),
      ];
      const best = calls.map(() => Infinity);
      for (const call of calls) call(); // warm up: JIT, gpu.js builds, auto's choice
      for (let round = 0; round < 3; round++) calls.forEach((call, i) => (best[i] = Math.min(best[i], secondsPerCall(call, minMs))));
      tfCall.forEach((t) => t.dispose());
      const [base, ...rest] = best.map((t) => flops / t / 1e9);
      const cells = rest.map((g, i) => {
        const auto = i < started.length ? (started[i] as AutoKernels).choices?.get(`${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} ${batch}x${m}x${k}x${n}`) : undefined;
        return `${g.toFixed(2)}${auto ? ` (${auto})` : ''} | ${(g / base).toFixed(2)}x`;
      });
      console.log(`| ${label} | ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'} | ${base.toFixed(2)} | ${cells.join(' | ')} |`);
    }
    for (const { kernels, pa, pb, pout } of placed) for (const x of [pa, pb, pout]) kernels.memory!.release(x);
  }
  if (autoLines.length) console.log(`\n${autoLines.join('\n')}`);
  const onDevice = started.filter((k): k is GpujsKernels => 'matmulOnDevice' in k);
  if (onDevice.length) {
    console.log('\nOne training step\'s five products (tied model: xW, hW^T, gW, x^T gh, g^T h), ms: through the kernels interface');
    console.log('(every operand uploaded, every product read back) vs. chained on the device (x, W, g uploaded once; h, gh stay there).\n');
    console.log('| backend | step shape | per-op ms | on-device ms | x faster | max diff |');
    console.log('|---|---|---|---|---|---|');
    for (const k of onDevice) {
      for (const size of [{ instances: 20, batch: 1024, n: 100, m: 20 }, { instances: 8, batch: 1024, n: 400, m: 30 }]) {
        const t = measureDeviceChain(k, size);
        console.log(`| ${k.name} | ${t.shape} | ${t.perOpMs.toFixed(2)} | ${t.onDeviceMs.toFixed(2)} | ${(t.perOpMs / t.onDeviceMs).toFixed(2)}x | ${t.maxDiff} |`);
      }
    }
  }
}

type Tfjs = typeof import('@tensorflow/tfjs');

/** TF.js with its WebAssembly backend (as scripts/anchors/tms_tfjs.mjs starts it), or why it did not start. */
async function startTfjs(): Promise<Tfjs | string> {
  try {
    const require = createRequire(import.meta.url);
    const tf = require('@tensorflow/tfjs') as Tfjs;
    require('@tensorflow/tfjs-backend-wasm');
    if (!(await tf.setBackend('wasm'))) return 'tf.setBackend("wasm") failed';
    await tf.ready();
    return tf;
  } catch (e) {
    return (e as Error).message;
  }
}

/** One TF.js matMul of the spec's batch (operands made once), its result read back; dispose() frees the operands. */
function tfjsMatmul(tf: Tfjs, a: Float32Array, b: Float32Array, s: MatmulSpec): { call: () => void; dispose: () => void } {
  const { batch, m, k, n, transA, transB } = s;
  const ta = tf.tensor3d(a, transA ? [batch, k, m] : [batch, m, k]);
  const tb = tf.tensor3d(b, transB ? [batch, n, k] : [batch, k, n]);
  return {
    call: () => {
      const c = tf.matMul(ta, tb, transA, transB);
      c.dataSync();
      c.dispose();
    },
    dispose: () => {
      ta.dispose();
      tb.dispose();
    },
  };
}

async function benchReference(kernels: Kernels): Promise<void> {
  console.log(`bench-kernels: backend ${describeBackend(kernels)}, ${machine}`);
  console.log('GFLOP/s of one batched matmul call (best of 3), single-threaded. Baselines in the same process: "naive" is an');
  console.log('i-j-k dot-product loop; "ikj4" is the one-row i-k-j loop with k unrolled 4x (NN only), the classic scalar baseline.\n');
  console.log('| shape | variant | ms/call | GFLOP/s | naive GFLOP/s | x naive | ikj4 GFLOP/s | x ikj4 |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const [label, batch, m, k, n] of shapes) {
    const a = rng.fillNormal(new Float32Array(batch * m * k));
    const b = rng.fillNormal(new Float32Array(batch * k * n));
    const out = new Float32Array(batch * m * n);
    const flops = 2 * batch * m * k * n;
    for (const [transA, transB] of variants) {
      const spec = specOf(batch, m, k, n, transA, transB);
      const t = time(() => kernels.matmul(a, b, out, spec), flags['min-ms']);
      // The naive loop on 1024^3 takes seconds a call: measure it once, briefly.
      const tn = time(() => naiveMatmul(a, b, out, spec), m * k * n > 1e8 ? 1 : flags['min-ms']);
      const variant = `${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`;
      const gf = flops / t / 1e9;
      const gfn = flops / tn / 1e9;
      let ikj = '| - | -';
      if (!transA && !transB) {
        const gfi = flops / time(() => ikj4Matmul(a, b, out, spec), flags['min-ms']) / 1e9;
        ikj = `| ${gfi.toFixed(2)} | ${(gf / gfi).toFixed(2)}x`;
      }
      console.log(`| ${label} | ${variant} | ${(t * 1e3).toFixed(3)} | ${gf.toFixed(2)} | ${gfn.toFixed(2)} | ${(gf / gfn).toFixed(2)}x ${ikj} |`);
    }
  }

  // ndarray-ops against a plain loop, on the elementwise work an optimiser step does (1M floats).
  const size = 1 << 20;
  const x = rng.fillNormal(new Float32Array(size));
  const y = rng.fillNormal(new Float32Array(size));
  const z = new Float32Array(size);
  const [nx, ny, nz] = [ndarray(x), ndarray(y), ndarray(z)];
  const elementwise: Array<[string, () => void, () => void]> = [
    ['z = x + y', () => ops.add(nz, nx, ny), () => kernels.binary('add', x, [1], y, [1], z, [size])],
    ['z = x * y', () => ops.mul(nz, nx, ny), () => kernels.binary('mul', x, [1], y, [1], z, [size])],
    ['z = max(x, 0)', () => ops.maxs(nz, nx, 0), () => kernels.unary('relu', x, z)],
  ];
  console.log('\nElementwise on 1M floats: ndarray-ops against the backend\'s own loop (ratio > 1: the loop is faster).\n');
  console.log('| op | ndarray-ops ms | loop ms | ratio |');
  console.log('|---|---|---|---|');
  for (const [name, viaNdarray, viaLoop] of elementwise) {
    const tn = time(viaNdarray, flags['min-ms']);
    const tl = time(viaLoop, flags['min-ms']);
    console.log(`| ${name} | ${(tn * 1e3).toFixed(3)} | ${(tl * 1e3).toFixed(3)} | ${(tn / tl).toFixed(2)}x |`);
  }
}
