/**
 * In-browser training speed: the four anchor configurations (A = 10 x 5->2, B = 1024 x 2->1, C = 20 x 100->20,
 * D = 8 x 400->30; batch 1024, density 0.1, AdamW) trained by the autograd trainer inside headless Chromium on
 * the js, wasm and gpu.js WebGL backends, beside the same trainer in Node (this process) for comparison.
 * Without a GPU, Chromium's WebGL runs on SwiftShader (shaders on the CPU): those are not GPU numbers.
 *
 *   npx tsx scripts/bench-browser.ts [--configs A,B,C,D] [--backends js,wasm,gpujs:gpu] [--steps 10] [--chromium /usr/bin/chromium]
 */
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { FlagError, flagsOrExit, parseFlags } from '../src/cli.ts';
import type { BrowserBenchRow } from './browser/bench-page.ts';
import { CROSS_ORIGIN_ISOLATED, serveFiles } from './explorer.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const flags = flagsOrExit('bench-browser', () => {
  const f = parseFlags(process.argv.slice(2), {
    configs: { kind: 'string', default: 'A,B,C,D', help: 'comma-separated subset of A,B,C,D' },
    backends: { kind: 'string', default: 'js,wasm,gpujs:gpu', help: 'backends to time in the browser' },
    steps: { kind: 'number', default: 10, min: 1, max: 10000, integer: true, help: 'timed steps per configuration' },
    warmup: { kind: 'number', default: 2, min: 1, max: 100, integer: true, help: 'untimed steps first' },
    chromium: { kind: 'string', default: ['/usr/lib/chromium/chromium', '/usr/bin/chromium'].find((p) => existsSync(p)) ?? '', help: 'Chromium binary' },
  }, 'usage: npx tsx scripts/bench-browser.ts [flags]   training steps/s of configurations A-D inside headless Chromium, beside Node');
  if (!f.chromium || !existsSync(f.chromium)) throw new FlagError(`--chromium ${f.chromium || "''"}: no Chromium there (Debian: apt-get install chromium)`);
  for (const c of f.configs.split(',')) if (!['A', 'B', 'C', 'D'].includes(c)) throw new FlagError(`--configs ${f.configs}: unknown configuration '${c}' (allowed: A, B, C, D)`);
  return f;
});

const bundle = await build({ entryPoints: [path.join(root, 'scripts/browser/bench-page.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, external: ['gpu.js'], logLevel: 'silent' });
const { server, url } = await serveFiles({
  '/': ['text/html', '<!doctype html><meta charset="utf-8"><script src="/gpu-browser.min.js"></script><script type="module" src="/bench.js"></script>'],
  '/bench.js': ['text/javascript', bundle.outputFiles[0].text],
  '/gpu-browser.min.js': ['text/javascript', readFileSync(path.join(root, 'node_modules/gpu.js/dist/gpu-browser.min.js'))],
  // cross-origin isolated, as the explorer is: the wasm backend's memory is then shared and its kernels work in place
}, 0, CROSS_ORIGIN_ISOLATED);

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: flags.chromium, headless: true, args: ['--no-sandbox', '--disable-background-networking', '--no-first-run'] });
let rows: BrowserBenchRow[] = [];
let renderer = 'unknown';
try {
  const page = await browser.newPage();
  await page.goto(url);
  await page.waitForFunction(() => 'bench' in globalThis);
  renderer = await page.evaluate(() => (globalThis as unknown as { webglInfo: () => { renderer: string } }).webglInfo().renderer);
  rows = await page.evaluate(([configs, backends, steps, warmup]) => (globalThis as unknown as { bench: (...a: unknown[]) => Promise<BrowserBenchRow[]> }).bench(configs, backends, steps, warmup), [flags.configs.split(','), flags.backends.split(','), flags.steps, flags.warmup] as const);
} finally {
  await browser.close();
  server.close();
}

const backends = [...new Set(rows.map((r) => r.backend))];
console.log(`bench-browser: headless Chromium ${browser.version()} on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores); WebGL renderer: ${renderer}; ${flags.steps} timed steps after ${flags.warmup}`);
console.log(`\n| config | ${backends.map((b) => `${b} steps/s`).join(' | ')} |\n|---|${backends.map(() => '---|').join('')}`);
for (const config of flags.configs.split(',')) {
  const cell = (b: string) => {
    const r = rows.find((x) => x.config === config && x.backend === b);
    return r?.stepsPerSecond ? r.stepsPerSecond.toFixed(2) : `- (${r?.error ?? 'not run'})`;
  };
  console.log(`| ${config} | ${backends.map(cell).join(' | ')} |`);
}
