/** The browser build bundles with no Node built-ins, and the bundle works: a model trains and its gradients check. */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { buildBrowser } from '../scripts/build-browser.ts';

it('bundles src/index.ts for browsers, and the bundle trains and passes gradcheck', async () => {
  const file = join(mkdtempSync(join(tmpdir(), 'browser-build-')), 'superposition-lab.browser.mjs');
  await buildBrowser(file, false); // esbuild with platform 'browser' fails on any node: import
  expect(readFileSync(file, 'utf8')).not.toMatch(/from ["']node:|require\(["']node:/);
  const sl = await import(file);
  const result = sl.train({
    model: { kind: 'relu-output', instances: 2, features: 3, hidden: 2 },
    importance: [1, 0.9, 0.81],
    density: [1, 0.1],
    batch: 64,
    steps: 50,
    lr: 1e-2,
    optimizer: 'adamw',
    seed: 1,
  });
  expect(result.finalLosses.every((l: number) => Number.isFinite(l) && l > 0)).toBe(true);
  const x = sl.tensor([[0.5, -1.5], [2, 0.25]]);
  expect(sl.gradcheck((a: unknown) => sl.sum(sl.square(sl.relu(a))), [x]).ok).toBe(true);
}, 60_000);
