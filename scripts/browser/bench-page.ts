/**
 * The page bench-browser.ts loads: trains the four anchor configurations with the autograd trainer on each
 * backend that starts in this browser (js, wasm, and gpu.js's WebGL backend when gpu-browser.min.js provides
 * the `GPU` global) and reports steps per second after a warm-up.
 */
import { useBackend } from '../../src/kernels/select.ts';
import { train, trainerFor } from '../../src/toy/train.ts';
import { webglInfo } from '../../src/kernels/webgl-info.ts';

const CONFIGS: Record<string, { I: number; n: number; m: number }> = {
  A: { I: 10, n: 5, m: 2 },
  B: { I: 1024, n: 2, m: 1 },
  C: { I: 20, n: 100, m: 20 },
  D: { I: 8, n: 400, m: 30 },
};

export interface BrowserBenchRow {
  config: string;
  backend: string;
  stepsPerSecond: number | null;
  error?: string;
}

async function bench(configs: string[], backends: string[], steps: number, warmup: number): Promise<BrowserBenchRow[]> {
  const rows: BrowserBenchRow[] = [];
  for (const backend of backends) {
    let name = backend;
    try {
      name = (await useBackend(backend, { log: () => {} })).name;
    } catch (e) {
      for (const config of configs) rows.push({ config, backend, stepsPerSecond: null, error: (e as Error).message });
      continue;
    }
    for (const config of configs) {
      const { I, n, m } = CONFIGS[config];
      const run = (count: number, onStep?: (step: number) => void) =>
        train({ model: { kind: 'relu-output', instances: I, features: n, hidden: m }, importance: Array.from({ length: n }, (_, i) => 0.9 ** i), density: new Array(I).fill(0.1), batch: 1024, steps: count, lr: 1e-3, optimizer: 'adamw', seed: 0 }, onStep);
      if (trainerFor({}) === 'device') {
        // The device reports its steps' losses only at each read-back (up to 64 steps at once): time whole runs,
        // warm-up only and warm-up plus the timed steps, after one that compiles the kernels, and take the
        // difference.
        const timed = (count: number) => {
          const start = performance.now();
          run(count);
          return performance.now() - start;
        };
        run(warmup);
        const warm = timed(warmup);
        rows.push({ config, backend: name, stepsPerSecond: steps / ((timed(warmup + steps) - warm) / 1000) });
        continue;
      }
      let start = 0;
      run(warmup + steps, (step) => {
        if (step === warmup - 1) start = performance.now();
      });
      rows.push({ config, backend: name, stepsPerSecond: steps / ((performance.now() - start) / 1000) });
    }
  }
  await useBackend('js');
  return rows;
}

(globalThis as unknown as { bench: typeof bench }).bench = bench;
(globalThis as unknown as { webglInfo: typeof webglInfo }).webglInfo = webglInfo;
