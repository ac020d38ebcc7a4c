/**
 * The default 2x1 phase diagram (phase-diagram.ts with no flags) trained by the device trainer on gpujs:webgpu
 * against the autograd trainer on js: the same regime in >= 97% of cells, agreement with theory within 1 point,
 * and the same bytes for any chunking on the device. Without a GPU, on Mesa's llvmpipe (~15 s); skipped without
 * an adapter unless WEBGPU_TEST=1 (CI). The sweeps run as the script, in child processes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { createWebgpuKernels } from '../../src/kernels/webgpu-node.ts';
import type { FeatureCell, SweepResults } from '../../src/phase/sweep.ts';
import type { Manifest } from '../../src/manifest.ts';

const probe = await createWebgpuKernels({ allowSoftware: true }).catch((e: Error) => {
  if (process.env.WEBGPU_TEST === '1') throw e;
  console.log(`test/phase/device-sweep: skipped (WEBGPU_TEST=1 would make this a failure): ${e.message}`);
  return null;
});
afterAll(() => probe?.destroy());

async function phaseDiagram(...args: string[]): Promise<SweepResults & { manifest: Manifest }> {
  const out = mkdtempSync(join(tmpdir(), 'device-sweep-'));
  await promisify(execFile)('npx', ['tsx', 'scripts/phase-diagram.ts', '--out', out, ...args], { env: { ...process.env, SUPERPOSITION_WEBGPU_SOFTWARE: '1' }, timeout: 240_000 });
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as SweepResults & { manifest: Manifest };
}

it.skipIf(!probe)('a device lost mid-sweep stops it with the reason and the run it took, keeps the finished chunks, and --resume gives the bytes of an unbroken run', async () => {
  const flags = ['--backend', 'gpujs:webgpu', '--workers', '1', '--chunk-size', '100'];
  const out = mkdtempSync(join(tmpdir(), 'device-lost-'));
  const run = (env: Record<string, string>, ...more: string[]) =>
    promisify(execFile)('npx', ['tsx', 'scripts/phase-diagram.ts', '--out', out, ...flags, ...more], { env: { ...process.env, SUPERPOSITION_WEBGPU_SOFTWARE: '1', ...env }, timeout: 240_000 }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
  // 5 chunks of 100 models, 32 submissions each: the device is destroyed at the 70th, in the third chunk.
  const lost = await run({ SUPERPOSITION_WEBGPU_LOSE_AFTER_RUNS: '70' });
  expect(lost.code).toBe(1);
  expect(lost.stderr).toMatch(/training run '.+', steps \d+\.\.\d+ on WebGPU: .+: device program: the WebGPU device was lost \(.+\); this training run cannot go on/);
  const partial = JSON.parse(readFileSync(join(out, 'partial.json'), 'utf8')) as { cells: Record<string, unknown> };
  expect(Object.keys(partial.cells)).toHaveLength(40); // the two chunks done, 20 cells each
  expect((await run({}, '--resume')).code).toBe(0);
  const resumed = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as SweepResults;
  expect(JSON.stringify(resumed.cells)).toBe(JSON.stringify((await phaseDiagram(...flags)).cells));
}, 600_000);

it.skipIf(!probe)('the default 2x1 sweep on the device trainer labels as js autograd does, and agrees with theory as well', async () => {
  const device = await phaseDiagram('--backend', 'gpujs:webgpu');
  const js = await phaseDiagram('--backend', 'js');
  expect(device.manifest).toMatchObject({ backend: 'gpujs:webgpu', trainer: 'device' });
  expect(js.manifest).toMatchObject({ backend: 'js', trainer: 'autograd' });
  const cells = js.cells as FeatureCell[];
  const same = cells.filter((c, i) => c.regime === (device.cells[i] as FeatureCell).regime).length;
  expect(same / cells.length).toBeGreaterThanOrEqual(0.97);
  expect(Math.abs(device.agreement!.all - js.agreement!.all)).toBeLessThanOrEqual(0.01);
  expect(Math.abs(device.agreement!.awayFromBoundary - js.agreement!.awayFromBoundary)).toBeLessThanOrEqual(0.01);
  // Same device, same seed, same bytes, whatever the chunking and workers (every thread is one instance's).
  const rechunked = await phaseDiagram('--backend', 'gpujs:webgpu', '--workers', '1', '--chunk-size', '125');
  expect(JSON.stringify(rechunked.cells)).toBe(JSON.stringify(device.cells));
}, 600_000);
