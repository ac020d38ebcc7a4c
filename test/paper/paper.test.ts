/**
 * scripts/paper.ts and the measurements its checks rest on, each against numbers worked out by hand: the attack
 * on a model without superposition and on an antipodal pair, rank correlation, the asymmetric neuron, jumps.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { attackIncrease, spearman } from '../../src/paper/adversarial.ts';
import { levelChanges, lossDropsAtMoves } from '../../src/paper/dynamics.ts';
import { asymmetricNeurons } from '../../src/paper/neurons.ts';
import { loadSaved, writeIndex } from '../../src/paper/report.ts';
import { intro } from '../../src/paper/intro.ts';
import { FIGURE_NAMES, FIGURES, figuresOfShard } from '../../src/paper/figures.ts';

describe('the adversarial attack', () => {
  it('raises the loss of a model without superposition by exactly eps^2 / n per input (one feature read off by eps)', () => {
    const [n, m, eps] = [6, 3, 0.07];
    const rows = Array.from({ length: n }, (_, i) => Array.from({ length: m }, (_, k) => (i === k ? 1 : 0)));
    const xs = Float32Array.from({ length: 4 * n }, (_, q) => ((q * 37) % 11) / 10);
    expect(attackIncrease(rows, Array(n).fill(0), xs, 4, eps)).toBeCloseTo((eps * eps) / n, 12);
  });

  it('raises an antipodal pair\u2019s loss by 2 eps^2 / n: the attack along (1, -1)/sqrt 2 moves both outputs by sqrt 2 eps', () => {
    // W = [1; -1] (2 features, 1 dimension), x = (0.5, 0): clean output (0.5, 0), no loss.
    const eps = 0.1;
    expect(attackIncrease([[1], [-1]], [0, 0], Float32Array.of(0.5, 0), 1, eps)).toBeCloseTo((2 * eps * eps) / 2, 12);
  });

  it('ranks: Spearman of (1,2,3,4) and (1,3,2,4) is 1 - 6 * 2 / (4 * 15) = 0.8', () => {
    expect(spearman([1, 2, 3, 4], [1, 3, 2, 4])).toBeCloseTo(0.8, 12);
    expect(spearman([1, 2, 3], [30, 20, 10])).toBeCloseTo(-1, 12);
  });
});

describe('the asymmetric superposition motif', () => {
  // 3 features, 2 neurons; W1 [features][hidden], W2 [hidden][features].
  const W1 = [2, 1, -0.5, 0, 0, 1];
  it('finds the paper\u2019s example: inputs (2, -1/2), outputs (1/2, 2)', () => {
    const W2 = [0.5, 2, 0, 1, 0, 1];
    expect(asymmetricNeurons(W1, W2, 3, 2)).toEqual([{ neuron: 0, strong: 0, weak: 1, inputs: [2, -0.5], outputs: [0.5, 2], inhibitor: null }]);
  });
  it('and its second neuron: driven by the strong feature as well, writing the weak one\u2019s output down', () => {
    // neuron 1 reads feature 0 (weight 1, half of neuron 0's 2) and writes feature 1's output -1.5 (against +2)
    expect(asymmetricNeurons(W1, [0.5, 2, 0, 0, -1.5, 1], 3, 2)[0].inhibitor).toBe(1);
    // too weak a write-down (-0.5 against +2) is not one
    expect(asymmetricNeurons(W1, [0.5, 2, 0, 0, -0.5, 1], 3, 2)[0].inhibitor).toBeNull();
  });
  it('does not count a neuron whose outputs are not reciprocal', () => {
    expect(asymmetricNeurons(W1, [2, 0.5, 0, 1, 0, 1], 3, 2)).toEqual([]);
  });
});

it('levels: the share of snapshots on a level, and each move between levels held for 4 snapshots', () => {
  // feature 0: 1/2 for 4 snapshots, off (0.6), passes 2/3 for one snapshot, 3/4 for 4;
  // feature 1: not represented (norm 0.1) for 5, then off at 0.3 (norm 1) for 4
  const d0 = [0.5, 0.51, 0.49, 0.5, 0.6, 0.667, 0.75, 0.75, 0.749, 0.76];
  const d1 = [0.9, 0.9, 0.9, 0.9, 0.9, 0.3, 0.3, 0.3, 0.3, 0.3];
  const norms = d1.map((_, k) => [1, k < 5 ? 0.1 : 1]);
  const { onLevel, changes } = levelChanges(d0.map((_, k) => 10 * k), d0.map((d, k) => [d, d1[k]]), norms);
  expect(onLevel).toBe((9 + 5) / 20);
  expect(changes).toEqual([{ feature: 0, left: 30, reached: 60, from: 0.5, to: 0.75 }]);
});

it('loss drops at moves: a 10% step in the loss between a move\'s two ends, flat everywhere else, against stretches nearby', () => {
  const loss = Array.from({ length: 40 }, (_, k) => ({ step: 10 * (k + 1), loss: 10 * (k + 1) <= 100 ? 1 : 0.9 }));
  const { atMoves, nearby } = lossDropsAtMoves(loss, [{ feature: 0, left: 90, reached: 110, from: 0.5, to: 0.75 }]);
  expect(atMoves).toBeCloseTo(0.1, 12);
  expect(nearby).toBe(0); // most shifted stretches do not straddle the step
});

it('a saved figure read back on --resume is checked field by field: a plot name that leaves its folder, a cut file and a wrong type are errors naming the file and field', () => {
  const out = mkdtempSync(join(tmpdir(), 'paper-'));
  mkdirSync(join(out, 'intro'));
  const file = join(out, 'intro', 'output.json');
  const good = { name: 'intro', scale: 'quick', seed: 0, seconds: 3, figures: [['intro-arrows', 'arrows', { mark: 'point' }]], checks: [{ claim: 'c', measured: 'm', pass: true }], settings: {}, data: {} };
  const load = (doc: unknown) => {
    writeFileSync(file, typeof doc === 'string' ? doc : JSON.stringify(doc));
    return () => loadSaved(out, 'intro', 'quick', 0);
  };
  expect(load(good)()).toMatchObject({ name: 'intro', seconds: 3 });
  expect(load({ ...good, seed: 1 })()).toBeNull(); // another run's: trained again
  expect(load({ ...good, figures: [['../../escape', 'x', {}]] })).toThrow(`resume: ${file}: figures[0][0]: expected a file name of letters, digits and dashes, found '../../escape'`);
  expect(load({ ...good, checks: [{ claim: 'c', measured: 'm', pass: 'yes' }] })).toThrow(`${file}: checks[0].pass:`);
  expect(load('{"name": "intro", "sca')).toThrow(`resume: ${file}: `);
});

it('the report marks a failed check in the page and the summary', () => {
  const out = mkdtempSync(join(tmpdir(), 'paper-'));
  const saved = { name: 'intro', scale: 'quick' as const, seed: 0, seconds: 1, figures: [], settings: {}, data: {}, checks: [{ claim: 'a pentagon', measured: 'gaps 90, 90, 90, 90', pass: false }, { claim: 'dense', measured: '2', pass: true }] };
  writeIndex(out, 'quick', [{ figure: intro, saved, drawn: [] }], {});
  const html = readFileSync(join(out, 'index.html'), 'utf8');
  expect(html).toContain('<b>1 passed, 1 failed</b>');
  expect(html).toContain('<td class="fail">FAIL</td>');
  expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ passed: 1, failed: 1 });
});

describe('scripts/paper.ts', () => {
  const run = (...args: string[]) => spawnSync('npx', ['tsx', 'scripts/paper.ts', ...args], { encoding: 'utf8' });

  it.each([
    [['--only', 'intro,pentagons'], "--only intro,pentagons: unknown figure 'pentagons'; expected names from intro, sparsity"],
    [['--quick', '--full'], '--quick and --full: choose one scale'],
    [['--workers', '0'], '--workers 0: expected an integer in 1..256'],
  ])('%j exits 2 naming the flag and what is allowed', (args, message) => {
    const r = run(...args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('--only intro writes the figure, its checks (the pentagon) and the report; a second run refuses, --resume keeps it', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'paper-')), 'p');
    const first = run('--only', 'intro', '--out', out);
    expect(first.status, first.stderr + first.stdout).toBe(0);
    expect(first.stdout).toContain('pass: At 1 - S = 0.05 the five features form a regular pentagon');
    for (const f of ['index.html', 'summary.json', 'intro/intro-arrows.svg', 'intro/intro-arrows.png', 'intro/output.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(existsSync(join(out, 'partial.json'))).toBe(false);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ passed: 3, failed: 0 });
    const again = run('--only', 'intro', '--out', out);
    expect(again.status).toBe(1);
    expect(again.stderr).toContain('holds a finished run (index.html): --overwrite replaces it');
    const kept = run('--only', 'intro', '--out', out, '--overwrite', '--resume');
    expect(kept.status, kept.stderr).toBe(0);
    expect(kept.stdout).toContain('kept from the earlier run');
  }, 180_000);
});

// The whole --quick report (about 6 minutes on 2 cores): PAPER_QUICK_TEST=1 npx vitest run test/paper.
describe.runIf(process.env.PAPER_QUICK_TEST === '1')('scripts/paper.ts --quick, every figure', () => {
  it('passes every check but the known, explained disagreements, and its exit status says whether any failed', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'paper-')), 'quick');
    const r = spawnSync('npx', ['tsx', 'scripts/paper.ts', '--quick', '--out', out], { encoding: 'utf8' });
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { failed: number; figures: { name: string; checks: { claim: string; pass: boolean | null; note?: string }[] }[] };
    expect(summary.figures.map((f) => f.name)).toEqual(['intro', 'sparsity', 'phase-2x1', 'phase-3x2', 'geometry', 'correlated', 'dynamics', 'privileged-basis', 'computation', 'adversarial']);
    const unexplained = summary.figures.flatMap((f) => f.checks.filter((c) => c.pass === false && !c.note).map((c) => `${f.name}: ${c.claim}`));
    expect(unexplained).toEqual([]);
    expect(r.status, r.stderr).toBe(summary.failed > 0 ? 1 : 0);
  }, 1_800_000);
});

describe('figures over the shards of a cluster job', () => {
  it('every figure in exactly one shard, the geometry models\u2019 two figures together, the work balanced', () => {
    for (const count of [1, 2, 3, 4, 12]) {
      const shards = Array.from({ length: count }, (_, k) => figuresOfShard(FIGURES, 'full', k, count).map((f) => f.name));
      expect(shards.flat().sort()).toEqual([...FIGURE_NAMES].sort());
      expect(shards.some((names) => names.includes('geometry') && names.includes('adversarial'))).toBe(true);
    }
    // two shards: the geometry group (the largest) alone on one, everything else on the other
    expect(figuresOfShard(FIGURES, 'full', 0, 2).map((f) => f.name)).toEqual(['geometry', 'adversarial']);
  });

  it('two shards write their figures into one folder and --resume draws the report from both', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'paper-')), 'shared');
    const shard = (k: number) => spawnSync('npx', ['tsx', 'scripts/paper.ts', '--only', 'intro,phase-2x1', '--shard', `${k}/2`, '--out', out], { encoding: 'utf8' });
    const [a, b] = [shard(0), shard(1)];
    expect(a.status, a.stderr).toBe(0);
    expect(b.status, b.stderr).toBe(0);
    expect(a.stdout + b.stdout).toContain('--quick --resume --out');
    expect(existsSync(join(out, 'index.html'))).toBe(false);
    const merged = spawnSync('npx', ['tsx', 'scripts/paper.ts', '--only', 'intro,phase-2x1', '--resume', '--out', out], { encoding: 'utf8' });
    expect(merged.status, merged.stderr).toBe(0);
    expect(merged.stdout.match(/kept from the earlier run/g)).toHaveLength(2);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).figures.map((f: { name: string }) => f.name)).toEqual(['intro', 'phase-2x1']);
  }, 180_000);
});
