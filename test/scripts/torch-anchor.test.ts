/** The benchmark scripts' anchors: the BLAS PyTorch ran on, the CUDA anchor's command line, and bench-phase's timing split. */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { blasOf, CUDA_MODES, DEVICE_ANCHOR_CONFIGS, deviceAnchorArgs, ratioAllowed } from '../../scripts/torch-anchor.ts';
import { splitStartUp } from '../../scripts/timing.ts';

it('names the BLAS that serves sgemm: libblas.so.3, not the libopenblas.so.0 that libtorch maps anyway', () => {
  // Debian's torch with the reference BLAS selected: libtorch_cpu still maps OpenBLAS directly (a mislabel once).
  const reference = blasOf(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', '/usr/lib/x86_64-linux-gnu/libopenblas.so.0'], 1);
  expect(reference).toEqual({ kind: 'reference BLAS', library: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', threads: 1 });
  const openblas = blasOf(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0'], 1);
  expect(openblas.kind).toBe('OpenBLAS');
  expect(blasOf([], null).kind).toBe('unknown');
});

it('refuses a ratio against the reference BLAS unless allowed', () => {
  const reference = blasOf(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'], 1);
  expect(ratioAllowed(reference, false)).toBe(false);
  expect(ratioAllowed(reference, true)).toBe(true);
  expect(ratioAllowed(blasOf(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3']), false)).toBe(true);
});

describe("the CUDA anchor's command line (tms_torch_device.py, run by bench-train and bench-phase)", () => {
  const script = fileURLToPath(new URL('../../scripts/anchors/tms_torch_device.py', import.meta.url));
  const lines = CUDA_MODES.map(([, mode]) => deviceAnchorArgs(script, { device: 'cuda', configs: ['A', 'G', 'P'], mode, runs: 3, secs: 1 }));

  it('knows the configurations the script has', () => {
    const text = readFileSync(script, 'utf8');
    const table = text.slice(text.indexOf('CONFIGS = {'), text.indexOf('\n}', text.indexOf('CONFIGS = {')));
    expect([...table.matchAll(/^\s+"([A-Z])": dict\(/gm)].map((m) => m[1])).toEqual([...DEVICE_ANCHOR_CONFIGS]);
  });

  it('passes only flags its parser declares, and only configurations it has', () => {
    // bench-train once passed the CPU anchors' --no-matmul to it: argparse exits 2, and every CUDA column was lost.
    const declared = new Set([...readFileSync(script, 'utf8').matchAll(/add_argument\("(--[a-z-]+)"/g)].map((m) => m[1]));
    for (const line of lines) for (const flag of line.filter((a) => a.startsWith('--'))) expect(declared, flag).toContain(flag);
    for (const line of lines) expect(line[line.indexOf('--configs') + 1]).toBe('A,P');
    expect(() => deviceAnchorArgs(script, { device: 'cuda', configs: ['G'], mode: [], runs: 1, secs: 1 })).toThrow(/none of the configurations G/);
  });

  const python = ['/usr/bin/python3', 'python3'].find((p) => spawnSync(p, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0);
  it.skipIf(!python)('runs with that line (eager, on the CPU here) and writes steps per second', () => {
    const json = join(mkdtempSync(join(tmpdir(), 'anchor-')), 'out.json');
    const args = deviceAnchorArgs(script, { device: 'cpu', configs: ['A'], mode: [], runs: 1, secs: 0.05 });
    const r = spawnSync(python!, [...args, '--json', json], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(json, 'utf8')) as { steps_per_s: Record<string, { median: number }> };
    expect(Object.keys(out.steps_per_s)).toEqual(['A']);
    expect(out.steps_per_s.A.median).toBeGreaterThan(0);
  });
});

it("bench-phase's split of a wall time into start-up and a steady time a step", () => {
  // 1 s of start-up and 20 ms a step: 25 steps in 1.5 s, 100 in 3 s
  const { perStep, startUp } = splitStartUp(25, 1.5, 100, 3);
  expect(perStep).toBeCloseTo(0.02, 12);
  expect(startUp).toBeCloseTo(1, 12);
  // a longer run no slower than the short one (noise on a tiny run): all steps, no start-up
  expect(splitStartUp(25, 0.5, 100, 0.4)).toEqual({ perStep: 0.004, startUp: 0 });
  expect(splitStartUp(100, 2, 100, 2)).toEqual({ perStep: 0.02, startUp: 0 });
});
