/**
 * Which kernel backends start on this machine, on what device, whether their products are right, and how fast
 * one is against js: a one-command check for setting up the GPU path (seconds, where bench-kernels --backend
 * all takes minutes). Every backend is tried; one that cannot start is listed with the reason it gives. Each
 * one that starts computes one batched product (NN, uniform operands in [-1, 1)), checked against a float64
 * reference with the float32 error bound gamma_k * sum |a||b| (Higham), and timed (best of 3) beside js. The
 * last column names the trainer training uses there; a device trainer is checked on a 10-step run against the
 * autograd trainer on js.
 *
 *   npx tsx scripts/backends.ts [--size 256] [--software]
 *
 * --software accepts a CPU rasteriser for gpujs:webgpu (SUPERPOSITION_WEBGPU_SOFTWARE=1): how to see that the
 * path works on a machine without a GPU. Exit status 1 when a backend that started computes a wrong product or
 * trains away from js.
 */
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';
import { referenceKernels } from '../src/kernels/reference.ts';
import { BACKEND_CHOICES, useBackend } from '../src/kernels/select.ts';
import type { Kernels, MatmulSpec } from '../src/kernels/types.ts';
import { createRng } from '../src/random.ts';
import { withBackend } from '../src/kernels/registry.ts';
import { hasDeviceTraining } from '../src/kernels/device/training.ts';
import { train, type TrainConfig } from '../src/toy/train.ts';
import { time } from './timing.ts';

const flags = flagsOrExit('backends', () => {
  const f = parseFlags(
    process.argv.slice(2),
    {
      size: { kind: 'number', default: 256, min: 1, max: 2048, integer: true, help: 'the product is size x size x size, in 4 batches' },
      software: { kind: 'boolean', default: false, help: 'accept a software WebGPU adapter (CPU rasteriser) for gpujs:webgpu' },
    },
    'usage: npx tsx scripts/backends.ts [--size 256] [--software]   which kernel backends start here, on what device, whether their products are right, and how fast',
  );
  if (f.size * f.size * 4 >= 2 ** 23) throw new FlagError(`--size ${f.size}: 4 x size^2 must stay below 2^23 (gpu.js's exact float32 indexing); allowed: 1..1447`);
  return f;
});
if (flags.software) process.env.SUPERPOSITION_WEBGPU_SOFTWARE = '1';

const batch = 4;
const n = flags.size;
const rng = createRng('backends');
const a = Float32Array.from({ length: batch * n * n }, () => 2 * rng.float32() - 1);
const b = Float32Array.from({ length: batch * n * n }, () => 2 * rng.float32() - 1);
const spec: MatmulSpec = {
  batch, m: n, k: n, n, transA: false, transB: false,
  aOffsets: Int32Array.from({ length: batch }, (_, q) => q * n * n),
  bOffsets: Int32Array.from({ length: batch }, (_, q) => q * n * n),
};

/** The float64 product and, per element, the float32 bound gamma_k * sum_p |a_ip||b_pj|. */
function reference(): { exact: Float64Array; bound: Float64Array } {
  const exact = new Float64Array(batch * n * n);
  const bound = new Float64Array(batch * n * n);
  const u = 2 ** -24;
  const gamma = (n * u) / (1 - n * u);
  for (let q = 0; q < batch; q++)
    for (let i = 0; i < n; i++)
      for (let p = 0; p < n; p++) {
        const av = a[q * n * n + i * n + p];
        for (let j = 0; j < n; j++) {
          const bv = b[q * n * n + p * n + j];
          exact[q * n * n + i * n + j] += av * bv;
          bound[q * n * n + i * n + j] += Math.abs(av * bv);
        }
      }
  for (let i = 0; i < bound.length; i++) bound[i] = gamma * bound[i] + 1e-30;
  return { exact, bound };
}

const { exact, bound } = reference();
const flops = 2 * batch * n * n * n;
const out = new Float32Array(batch * n * n);
const secondsPerProduct = (k: Kernels): number => time(() => k.matmul(a, b, out, spec), 200);
const jsSeconds = secondsPerProduct(referenceKernels);
console.log(`backends: a [${batch}, ${n}, ${n}] x [${batch}, ${n}, ${n}] product on each backend that starts here; error in units of the float32 bound; GFLOP/s best of 3 (uploads and read-backs included)\n`);
console.log('| backend | status | device or reason | max error / bound | GFLOP/s | x js | trainer |');
console.log('|---|---|---|---|---|---|---|');

/**
 * The trainer training uses on `k`: the device trainer is checked on a short run (the general chain: 20->5)
 * against the autograd trainer on js, by the largest parameter difference (float32 rounding: ~1e-7).
 */
function trainerCheck(k: Kernels): { text: string; ok: boolean } {
  if (!hasDeviceTraining(k)) return { text: 'autograd', ok: true };
  const config: TrainConfig = { model: { kind: 'relu-output', instances: 2, features: 20, hidden: 5 }, importance: new Array(20).fill(1), density: [0.1, 0.5], batch: 256, steps: 10, lr: 1e-2, optimizer: 'adamw', seed: 'backends' };
  const device = withBackend(k.name, () => train(config));
  const reference = withBackend('js', () => train(config));
  let diff = 0;
  device.model.parameters.forEach((p, j) => p.data.forEach((v, q) => (diff = Math.max(diff, Math.abs(v - reference.model.parameters[j].data[q])))));
  const ok = device.trainer === 'device' && diff < 1e-5;
  return { text: `device${ok ? '' : ' WRONG'} (10 steps: parameters within ${diff.toExponential(1)} of js autograd; ${device.deviceStats!.steps.passes} passes, ${device.deviceStats!.steps.uploads} uploads a step)`, ok };
}
let wrong = 0;
for (const name of BACKEND_CHOICES.filter((c) => c !== 'gpujs' && c !== 'auto')) {
  let k: Kernels;
  try {
    k = await useBackend(name, { log: () => {} });
  } catch (e) {
    console.log(`| ${name} | not available | ${(e as Error).message.replace(/\|/g, '/')} | | | | |`);
    continue;
  }
  out.fill(Number.NaN);
  k.matmul(a, b, out, spec);
  let ratio = 0;
  for (let i = 0; i < out.length; i++) ratio = Math.max(ratio, Number.isNaN(out[i]) ? Infinity : Math.abs(out[i] - exact[i]) / bound[i]);
  const trainer = trainerCheck(k);
  const ok = ratio <= 1 && trainer.ok;
  if (!ok) wrong++;
  const seconds = name === 'js' ? jsSeconds : secondsPerProduct(k);
  const kernelClass = (k as { kernelClass?: string }).kernelClass;
  const device = k.device ?? (kernelClass ? `gpu.js ${kernelClass}` : 'this CPU');
  console.log(`| ${name} | ${ok ? 'ok' : 'WRONG'} | ${device} | ${ratio.toFixed(3)} | ${(flops / seconds / 1e9).toFixed(2)} | ${(jsSeconds / seconds).toFixed(2)}x | ${trainer.text} |`);
}
if (wrong) {
  console.error(`\nbackends: ${wrong} backend(s) computed a product outside the float32 error bound or trained away from js`);
  process.exitCode = 1;
}
