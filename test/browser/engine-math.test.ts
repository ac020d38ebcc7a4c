/**
 * The same bits in Node and in a browser: the numbers that depend on exp, log, sin and cos (a sweep's grid, the
 * sparsity preset's importances, the normal draws of the initial weights, the cosine schedule, and a trained
 * model) come out of the browser bundle in headless Chromium exactly as out of the sources in Node. Chromium and
 * Node differ in the last bit of Math.exp, log, sin and cos for a few percent of inputs, so these go through
 * src/math.ts's own versions. Skipped without Debian's chromium (CI installs it).
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildBrowser } from '../../scripts/build-browser.ts';
import * as sl from '../../src/index.ts';
import { CHROMIUM } from './chromium.ts';


/** Everything engine-dependent, as one string of exact numbers; `lib` is the library (sources or bundle). */
function fingerprint(lib: typeof sl): string {
  const grid = [...lib.logspace(0.01, 1, 10), ...lib.logspace(0.1, 10, 20), ...lib.logspace(1e-3, 1, 37)];
  const importance = lib.presetConfig({ experiment: 'sparsity', seed: 0 }).importance;
  const normals = Array.from(lib.randn([2000], lib.createRng(7)).data);
  const cosine = Array.from({ length: 500 }, (_, t) => lib.lrFactor('cosine', t, 500));
  const trained = lib.train({ model: { kind: 'relu-output', instances: 3, features: 20, hidden: 5, init: 'notebook' }, importance: Array.from({ length: 20 }, (_, i) => lib.logspace(0.05, 1, 20)[i]), density: [1, 0.3, 0.05], batch: 64, steps: 40, lr: 1e-2, optimizer: 'adamw', schedule: 'cosine', seed: 11 });
  return JSON.stringify({ grid, importance, normals, cosine, W: Array.from(trained.model.W.data) });
}

it.skipIf(!CHROMIUM)('grids, importances, normal draws, the cosine schedule and a trained model have the same bits in Chromium as in Node', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'engine-math-')), 'superposition-lab.browser.mjs');
  await buildBrowser(file, false);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    const inBrowser = await page.evaluate(
      async ([source, fn]) => {
        // (import() through a Function: the test runner rewrites a literal one for Node)
        const load = new Function('url', 'return import(url)') as (url: string) => Promise<unknown>;
        const lib = await load(URL.createObjectURL(new Blob([source], { type: 'text/javascript' })));
        return (new Function('lib', `return (${fn})(lib);`) as (l: unknown) => string)(lib);
      },
      [readFileSync(file, 'utf8'), fingerprint.toString()] as const,
    );
    const inNode = fingerprint(sl);
    expect(inBrowser.length).toBeGreaterThan(10_000);
    // The first difference, if any, said briefly.
    const at = [...inNode].findIndex((c, i) => c !== inBrowser[i]);
    expect(at, `first difference at ${at}: Node ...${inNode.slice(Math.max(0, at - 40), at + 40)}... Chromium ...${inBrowser.slice(Math.max(0, at - 40), at + 40)}...`).toBe(-1);
    expect(inBrowser).toBe(inNode);
  } finally {
    await browser.close();
  }
}, 120_000);
