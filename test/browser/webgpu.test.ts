/**
 * gpujs:webgpu in a browser: the kernel contract, the op suite, the gradient checks and the device trainer on
 * gpu.js's WebGPU backend, run from a Web Worker in headless Chromium (SwiftShader's WebGPU adapter, a software one, which the
 * test worker allows), with the page cross-origin isolated as SharedArrayBuffer requires. Also: a page that is
 * not isolated gets the reason, not a backend. Skipped, with the reason printed, where Chromium is missing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CROSS_ORIGIN_ISOLATED, serveFiles } from '../../scripts/explorer.ts';
import { bundleEntry } from './bundle.ts';
import type { WebgpuSuiteReport } from './webgpu-suite.ts';
import { CHROMIUM } from './chromium.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');

const page = `<!doctype html><meta charset="utf-8"><title>superposition-lab: kernels on gpu.js WebGPU</title>
<script type="module">
globalThis.runWebgpuSuite = () => new Promise((resolve) => {
  const worker = new Worker('/webgpu-suite.js', { type: 'module' });
  worker.onmessage = (e) => resolve(e.data);
  worker.onerror = (e) => resolve({ ok: false, error: 'the suite worker failed: ' + e.message });
  worker.postMessage('run');
});
</script>`;

async function files() {
  const device = await build({ entryPoints: [path.join(root, 'src/kernels/webgpu-device-worker.ts')], bundle: true, format: 'esm', platform: 'browser', target: 'es2022', write: false, logLevel: 'silent' });
  return {
    '/': ['text/html', page] as [string, string],
    '/webgpu-suite.js': ['text/javascript', await bundleEntry(path.join(here, 'webgpu-suite.ts'))] as [string, string],
    '/webgpu-device-worker.js': ['text/javascript', device.outputFiles[0].text] as [string, string],
    '/gpu-browser.min.js': ['text/javascript', readFileSync(path.join(root, 'node_modules/gpu.js/dist/gpu-browser.min.js'))] as [string, Buffer],
  };
}

async function runIn(isolated: boolean): Promise<WebgpuSuiteReport> {
  const { chromium } = await import('playwright-core');
  const { server, url } = await serveFiles(await files(), 0, isolated ? CROSS_ORIGIN_ISOLATED : {});
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
  });
  try {
    const tab = await browser.newPage();
    await tab.goto(url);
    await tab.waitForFunction(() => 'runWebgpuSuite' in globalThis, undefined, { timeout: 30_000 });
    return await tab.evaluate(() => (globalThis as unknown as { runWebgpuSuite: () => Promise<WebgpuSuiteReport> }).runWebgpuSuite());
  } finally {
    await browser.close();
    server.close();
  }
}

describe.skipIf(!CHROMIUM)('gpu.js WebGPU backend from a Web Worker in headless Chromium', () => {
  let report: WebgpuSuiteReport;
  beforeAll(async () => {
    report = await runIn(true);
  }, 240_000);
  afterAll(() => undefined);

  it('starts on the browser\'s adapter, says it is software, and passes the op suites and the device-trainer suite', () => {
    if (!report.ok) throw new Error(report.error);
    const deviceSuite = report.results.filter((r) => r.title.startsWith('the device trainer on gpujs:webgpu')).length;
    console.log(`test/browser: ${report.backend} (${report.device}): ${report.results.length} tests (${deviceSuite} of the device-trainer suite); device chain ${report.chain.perOpMs.toFixed(1)} ms per op vs ${report.chain.onDeviceMs.toFixed(1)} ms on the device`);
    expect(report.backend).toBe('gpujs:webgpu');
    expect(report.software).toBe(true); // SwiftShader: accepted only because the worker asked
    const failed = report.results.filter((r) => !r.ok);
    expect(failed.map((r) => `${r.title}: ${r.error}`)).toEqual([]);
    for (const suite of ['kernels on backend gpujs:webgpu', 'forward values on gpujs:webgpu', 'gradcheck: every differentiable op, random shapes, on gpujs:webgpu', 'the device trainer on gpujs:webgpu'])
      expect(report.results.filter((r) => r.title.startsWith(suite)).length, suite).toBeGreaterThan(0);
    expect(report.chain.maxDiff).toBe(0);
    expect(report.live).toBe(0);
  });
});

describe.skipIf(!CHROMIUM)('gpu.js WebGPU in a browser without cross-origin isolation', () => {
  it('is refused with the reason', async () => {
    const report = await runIn(false);
    expect(report).toEqual({ ok: false, error: 'BackendUnavailableError: gpujs:webgpu in a browser needs cross-origin isolation for SharedArrayBuffer: serve the page with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp' });
  }, 120_000);
});
