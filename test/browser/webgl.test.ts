/**
 * The kernel contract, the op suite and the gradient checks on gpu.js's WebGL backend: real shaders in headless
 * Chromium (WebGL2 on SwiftShader, with float render targets; no GPU or display needed). Skipped, with the
 * reason printed, where Chromium is not installed (.ci/run installs Debian's `chromium` when it can).
 *
 * Tolerances are those of the suites themselves: the kernel contract's Higham bound holds for any float32
 * summation order and for FMA contraction, which a GPU shader compiler may apply; no test is loosened here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PageReport } from './page.ts';
import { bundlePage, servePage } from './bundle.ts';
import { CHROMIUM } from './chromium.ts';

if (!CHROMIUM) console.log('test/browser: skipped: no Chromium at /usr/bin/chromium (Debian: apt-get install chromium)');

describe.skipIf(!CHROMIUM)('gpu.js WebGL backend in headless Chromium', () => {
  let report: PageReport;
  let server: Server | undefined;
  let profile = '';

  beforeAll(async () => {
    const { chromium } = await import('playwright-core');
    const { server: s, url } = await servePage(await bundlePage());
    server = s;
    profile = mkdtempSync(path.join(os.tmpdir(), 'sl-chromium-'));
    // The background-networking flags keep Chromium from stalling on a closed network.
    const context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'],
    });
    try {
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(url);
      await page.waitForFunction(() => 'runSuite' in globalThis, undefined, { timeout: 30_000 }).catch(() => {
        throw new Error(`the test page did not load: ${errors.join('; ') || 'no page error'}`);
      });
      report = await page.evaluate(() => (globalThis as unknown as { runSuite: () => Promise<PageReport> }).runSuite());
    } finally {
      await context.close();
    }
  }, 240_000);

  afterAll(() => {
    server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('runs real WebGL shaders: WebGL2 kernels, single precision, float render targets', () => {
    console.log(`test/browser: ${report.backend} ran ${report.kernelClass} (precision ${report.precision}, ${report.cachedKernels} kernels) on ${report.renderer}`);
    expect(report.webgl2).toBe(true);
    expect(report.floatRenderTargets).toBe(true);
    expect(report.backend).toBe('gpujs:gpu');
    expect(report.kernelClass).toBe('WebGL2Kernel');
    expect(report.precision).toBe('single');
    expect(report.cachedKernels).toBeGreaterThan(50); // the property tests built kernels for many shapes
  });

  it('every kernel-contract, op and gradient test passes on gpujs:gpu', () => {
    const failed = report.results.filter((r) => !r.ok).map((r) => `${r.title}: ${r.error}`);
    expect(failed).toEqual([]);
    // The suites really ran: the kernel contract, forward values, hand-worked gradients, gradcheck, PyTorch.
    for (const suite of ['kernels on backend gpujs:gpu', 'forward values on gpujs:gpu', 'hand-worked gradients on gpujs:gpu', 'gradcheck: every differentiable op, random shapes, on gpujs:gpu', 'a two-layer model against PyTorch (torch_golden.json) on gpujs:gpu'])
      expect(report.results.filter((r) => r.title.startsWith(suite)).length, suite).toBeGreaterThan(0);
    expect(report.results.length).toBeGreaterThan(50);
  });

  it('gpujs:gpu trains on the device (WebGL2): the device trainer suite ran and passed (failures are listed above)', () => {
    expect(report.deviceTrainer).toMatch(/^WebGL2: /);
    const suite = report.results.filter((r) => r.title.startsWith('the device trainer on gpujs:gpu'));
    console.log(`test/browser: the device trainer on ${report.deviceTrainer}: ${suite.length} tests, ${suite.reduce((a, r) => a + r.ms, 0).toFixed(0)} ms`);
    expect(suite.length).toBeGreaterThan(15);
    expect(suite.filter((r) => !r.ok).map((r) => `${r.title}: ${r.error}`)).toEqual([]);
  });

  it('pipeline mode keeps a training step\'s products on the device, with the same results', () => {
    const p = report.pipeline;
    console.log(`test/browser: one training step's 5 matmuls (${p.shape}) on ${report.renderer}: ${p.perOpMs.toFixed(1)} ms uploading and reading back every product, ${p.onDeviceMs.toFixed(1)} ms kept on the device (${(p.perOpMs / p.onDeviceMs).toFixed(2)}x)`);
    // The same shaders on the same inputs: only where the data lives differs.
    expect(p.maxDiff).toBe(0);
  });
});
