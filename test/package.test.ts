/**
 * The npm package as a user gets it: `npm pack` builds compiled ESM with .d.ts files, and an empty project
 * imports it from plain node (no tsx) and through a bundler, and runs its command (`superposition-lab
 * phase-diagram`). Its worker threads start from the compiled files, and a sweep gives the same bytes as the
 * sources run through tsx.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { expect, it } from 'vitest';
import { logspace, type SweepConfig } from '../src/phase/experiments.ts';
import { runSweep } from '../src/phase/sweep.ts';

const repo = resolve(import.meta.dirname, '..');

it('npm pack gives compiled ESM that plain node and a bundler import; its sweeps match the sources byte for byte', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'package-'));
  const [packed] = JSON.parse(execFileSync('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })) as [{ filename: string; files: { path: string }[] }];
  const shipped = packed.files.map((f) => f.path);
  expect(shipped).toEqual(expect.arrayContaining(['dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/node.js', 'dist/src/node.d.ts', 'dist/src/worker-boot.mjs', 'dist/src/phase/worker.js', 'dist/scripts/cli.js', 'dist/scripts/phase-diagram.js', 'LICENSE']));
  expect(shipped.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]); // no TypeScript sources

  // An empty project with the tarball installed; its dependencies are this checkout's (no network in tests).
  const app = join(dir, 'app');
  const installed = join(app, 'node_modules', 'superposition-lab');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['xzf', join(dir, packed.filename), '-C', installed, '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(join(app, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(repo, 'node_modules', dep), join(app, 'node_modules', dep));
  }
  expect(readdirSync(join(app, 'node_modules'))).not.toContain('tsx');

  const config: SweepConfig = { experiment: 'feature-2x1', densities: logspace(0.1, 1, 2), importances: [0.5, 2], seeds: 2, steps: 20, batch: 32, lr: 1e-2, optimizer: 'adamw', schedule: 'constant', seed: 3, init: 'per-instance', evalBatch: 256 };
  writeFileSync(join(app, 'main.mjs'), `
import { tensor, mul, sum, gradcheck } from 'superposition-lab';
import { runSweep } from 'superposition-lab/node';
const x = tensor(new Float32Array([1, 2, 3]), [3], { requiresGrad: true });
const ok = gradcheck((t) => sum(mul(t, t)), [x]).ok;
const results = await runSweep(${JSON.stringify(config)}, { workers: 2 });
console.log(JSON.stringify({ ok, results }));
`);
  const out = JSON.parse(execFileSync(process.execPath, ['main.mjs'], { cwd: app, encoding: 'utf8', timeout: 120_000 })) as { ok: boolean; results: unknown };
  expect(out.ok).toBe(true);
  expect(JSON.stringify(out.results)).toBe(JSON.stringify(await runSweep(config, { workers: 1 })));

  // The command-line programs, through the package's bin (as npx superposition-lab runs it): the main job on a
  // small grid writes its report, and its results equal the sources' run through tsx.
  const bin = (JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['superposition-lab'];
  const sweepArgs = ['--grid', '2', '--seeds', '1', '--steps', '20', '--batch', '32', '--seed', '3'];
  execFileSync(process.execPath, [join(installed, bin), 'phase-diagram', ...sweepArgs, '--out', join(app, 'pd')], { cwd: app, encoding: 'utf8', timeout: 120_000 });
  execFileSync('npx', ['tsx', 'scripts/phase-diagram.ts', ...sweepArgs, '--out', join(dir, 'pd-sources')], { cwd: repo, encoding: 'utf8', timeout: 120_000 });
  const cells = (folder: string) => JSON.stringify((JSON.parse(readFileSync(join(folder, 'results.json'), 'utf8')) as { cells: unknown }).cells);
  expect(cells(join(app, 'pd'))).toBe(cells(join(dir, 'pd-sources')));
  expect(readdirSync(join(app, 'pd'))).toEqual(expect.arrayContaining(['index.html', 'phase-diagram.png']));
  expect(execFileSync(process.execPath, [join(installed, bin), 'paper', '--help'], { cwd: app, encoding: 'utf8' })).toContain('figures: intro, sparsity');

  // A bundler resolves the exports map to the compiled browser-safe entry.
  writeFileSync(join(app, 'page.mjs'), `import { tensor } from 'superposition-lab';\nconsole.log(tensor(new Float32Array([2]), [1]).data[0]);\n`);
  const bundle = await build({ entryPoints: [join(app, 'page.mjs')], bundle: true, platform: 'browser', format: 'esm', write: false, absWorkingDir: app, external: ['gpu.js'], logLevel: 'silent' });
  expect(bundle.outputFiles[0].text).toContain('Tensor: data has');
}, 240_000);
