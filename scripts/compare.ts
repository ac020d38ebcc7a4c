/**
 * Does a choice change the result? Train two variants of a sweep on the same seeds (and, where the variants
 * allow it, the same initial weights and data), then report paired differences: labels side by side, loss
 * differences with bootstrap intervals over seeds, final-weight differences, a difference map and a report.
 *
 *   npx tsx scripts/compare.ts --experiment intro --a "--optimizer adamw" --b "--optimizer adam"
 *   npx tsx scripts/compare.ts --experiment feature-2x1 --grid 6 --seeds 5 --a "" --b "--init notebook"
 *   npx tsx scripts/compare.ts --verify out/compare-intro     # re-run a saved result (of compare.ts or phase-diagram.ts)
 *   npx tsx scripts/compare.ts ... --shard 0/4 --out shards  # one shard (or from Slurm/Kubernetes env); then:
 *   npx tsx scripts/compare.ts merge shards --out out/compare-intro
 *
 * --a and --b take phase-diagram.ts's training and labelling flags (--optimizer, --lr, --batch, --steps,
 * --schedule, --init, thresholds...), separated by spaces; --experiment, --grid, --seeds and --seed apply to both.
 */
import os from 'node:os';
import { resolve } from 'node:path';
import { FlagError, parseFlags, runScript } from '../src/cli.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { describeTrainer } from '../src/toy/train.ts';
import { sweepBackendFlag, useBackend } from '../src/kernels/select.ts';
import { compare, sharedBetween, trainComparison, type Variant } from '../src/phase/compare.ts';
import { EXPERIMENTS } from '../src/phase/experiments.ts';
import { sweepFromArgs } from '../src/phase/flags.ts';
import { headline, writeComparison } from '../src/phase/report.ts';
import { claimOutDir } from '../src/phase/out-dir.ts';
import { runWarnings } from '../src/phase/results.ts';
import { mergeCommand, resolveShard, shardCountFlag, shardNote, writeShard } from '../src/phase/shards.ts';
import { verifyResults } from '../src/phase/verify.ts';
import { progress } from '../src/progress.ts';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'merge') {
    await mergeCommand('compare.ts', argv.slice(1));
    return 0;
  }
  const flags = parseFlags(argv, {
    experiment: { kind: 'string', default: 'intro', choices: EXPERIMENTS, help: 'which sweep (intro: the 5->2 model over 10 densities)' },
    a: { kind: 'string', default: '', help: 'flags of variant A, e.g. "--optimizer adamw"' },
    b: { kind: 'string', default: '', help: 'flags of variant B, e.g. "--optimizer adam"' },
    grid: { kind: 'number', default: 0, min: 0, max: 200, integer: true, help: "cells per axis for both (0: the experiment's default)" },
    seeds: { kind: 'number', default: 0, min: 0, max: 1000, integer: true, help: "seeds per cell for both (0: the experiment's default)" },
    seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32 - 1, integer: true, help: 'global seed for both' },
    resamples: { kind: 'number', default: 2000, min: 100, max: 1e6, integer: true, help: 'bootstrap resamples per interval' },
    out: { kind: 'string', default: '', help: 'output folder (default out/compare-<experiment>)' },
    overwrite: { kind: 'boolean', default: false, help: 'replace the comparison already in --out (refused without it)' },
    workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'worker threads' },
    backend: sweepBackendFlag,
    verify: { kind: 'string', default: '', help: 're-run the result saved in this folder (on the backend its manifest records) and report whether it matches bit for bit' },
    shard: { kind: 'string', default: '', help: 'run only shard K/N of the cells (both variants) and write shard-K-of-N.json to --out; default from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX; none: the whole sweep even inside a job array' },
    'shard-count': shardCountFlag,
  }, 'usage: npx tsx scripts/compare.ts --a "FLAGS" --b "FLAGS" [flags]   train two variants on the same seeds, report paired differences\n       npx tsx scripts/compare.ts --verify DIR                      re-run a saved result, bit for bit\n       npx tsx scripts/compare.ts merge DIR... [--out DIR]          merge shard-K-of-N.json files');
  // An empty --verify (a variable that was not set) must not fall through to training a default comparison.
  if (!flags.verify && argv.some((a) => a === '--verify' || a.startsWith('--verify='))) throw new FlagError("--verify '': give the folder holding the results.json to re-run");
  await useBackend(flags.backend);

  if (flags.verify) {
    // The recorded backend, unless --backend was given explicitly.
    const explicit = argv.some((a) => a === '--backend' || a.startsWith('--backend='));
    const v = await verifyResults(resolve(flags.verify), { workers: flags.workers, ...(explicit ? { backend: flags.backend } : {}) });
    console.log(`verify ${flags.verify}: file ${v.intact ? 'intact' : 'CHANGED since written'}; re-run ${v.reproduced ? 'reproduces the recorded results bit for bit' : 'DIFFERS from the recorded results'}`);
    for (const d of v.details) console.log(`  ${d}`);
    return v.intact && v.reproduced ? 0 : 1;
  }

  const common = ['--experiment', flags.experiment, '--seed', String(flags.seed), ...(flags.grid ? ['--grid', String(flags.grid)] : []), ...(flags.seeds ? ['--seeds', String(flags.seeds)] : [])];
  const variant = (label: string, which: string): Variant => {
    const own = label.split(/\s+/).filter(Boolean);
    // The sweep's shape and seeds are the comparison's, the same for both variants: given inside one, they would
    // silently compare different cells or seeds.
    const shared = own.find((a) => ['--experiment', '--seed', '--grid', '--seeds'].includes(a.split('=')[0]));
    if (shared) throw new FlagError(`--${which} "${label}": ${shared.split('=')[0]} applies to both variants; give it outside --a/--b`);
    const args = [...common, ...own];
    try {
      return { label, ...sweepFromArgs(args) };
    } catch (e) {
      throw new FlagError(`--${which} "${label}": ${(e as Error).message}`);
    }
  };
  const a = variant(flags.a, 'a');
  const b = variant(flags.b, 'b');
  const sharding = resolveShard(flags.shard, flags['shard-count']); // bad values throw FlagError (exit 2)
  console.log(`compare: ${flags.experiment}, A = "${flags.a}", B = "${flags.b}", backend ${describeBackend()}, trainer ${describeTrainer()}`);
  for (const note of sharedBetween(a.config, b.config).notes) console.log(`  ${note}`);
  const out = resolve(flags.out || `out/compare-${flags.experiment}`);
  const bar = progress('training A then B', 1000, { counts: false });
  const options = { workers: flags.workers, backend: flags.backend, onProgress: (which: 'a' | 'b', f: number) => bar.update(Math.floor(500 * f + (which === 'b' ? 500 : 0))) };
  if (sharding) {
    console.log(shardNote(sharding));
    const runs = await trainComparison(a, b, { ...options, shard: sharding.shard });
    bar.finish();
    const path = writeShard(out, { kind: 'comparison', a, b, resamples: flags.resamples }, sharding.shard, runs);
    console.log(`wrote ${path}; once all ${sharding.shard.count} shards are done: npx tsx scripts/compare.ts merge ${out}`);
    return 0;
  }
  const claim = claimOutDir(out, { overwrite: flags.overwrite, finished: 'results.json' });
  for (const note of claim.notes) console.log(note);
  const c = await compare(a, b, { ...options, resamples: flags.resamples });
  bar.finish();
  const files = await writeComparison(c, out);
  claim.release();
  console.log(headline(c));
  for (const line of runWarnings(c)) console.log(line);
  console.log(`wrote ${files.length} files to ${out}: open ${resolve(out, 'index.html')}`);
  return 0;
}

runScript('compare', main);
