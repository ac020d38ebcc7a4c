/**
 * The main job: train a phase-diagram sweep, label every cell, compare with the closed-form theory, and write
 * results.json, plots and an offline HTML report.
 *
 *   npx tsx scripts/phase-diagram.ts                                   # feature-2x1 on a small default grid (~30 s on 2 cores)
 *   npx tsx scripts/phase-diagram.ts --experiment feature-3x2 --grid 12 --seeds 5
 *   npx tsx scripts/phase-diagram.ts --experiment neuron               # neuron-level phase change (n=10, m=5)
 *   npx tsx scripts/phase-diagram.ts --experiment computation          # the |x| model (n=100, m=40)
 *   npx tsx scripts/phase-diagram.ts --resume --out out/feature-2x1    # continue an interrupted sweep
 *   npx tsx scripts/phase-diagram.ts --shard 0/4 --out shards           # one shard of four (or from Slurm/Kubernetes env)
 *   npx tsx scripts/phase-diagram.ts merge shards --out out/feature-2x1 # the four shards -> what one machine writes
 */
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { parseFlags, runScript } from '../src/cli.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { describeTrainer } from '../src/toy/train.ts';
import { sweepBackendFlag, useBackend } from '../src/kernels/select.ts';
import { cellsOf } from '../src/phase/experiments.ts';
import { sweepFlags, sweepFromFlags } from '../src/phase/flags.ts';
import { headline, writeReport } from '../src/phase/report.ts';
import { mergeCommand, resolveShard, shardCountFlag, shardNote, writeShard } from '../src/phase/shards.ts';
import { claimOutDir } from '../src/phase/out-dir.ts';
import { assembleResults, describeThreadPlan, trainSweep, type SweepResults } from '../src/phase/sweep.ts';
import { warningLines } from '../src/phase/results.ts';
import { progress } from '../src/progress.ts';

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'merge') return mergeCommand('phase-diagram.ts', argv.slice(1));
  const sweep = sweepFlags(argv);
  const flags = parseFlags(argv, {
    ...sweep,
    backend: sweepBackendFlag,
    out: { kind: 'string', default: '', help: 'output folder (default out/<experiment>)' },
    workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'worker threads (same bytes for any number)' },
    resume: { kind: 'boolean', default: false, help: 'continue an interrupted sweep in --out' },
    overwrite: { kind: 'boolean', default: false, help: 'replace the run already in --out (without it, a finished or interrupted run there is refused)' },
    shard: { kind: 'string', default: '', help: 'run only shard K/N (0-based K) of the cells and write shard-K-of-N.json to --out; default from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX; none: the whole sweep even inside a job array' },
    'shard-count': shardCountFlag,
    'fail-on-divergence': { kind: 'boolean', default: false, help: 'exit with status 1 when a run collapsed to zero weights or ended with a higher loss than it started with (a warning otherwise)' },
    'chunk-size': { kind: 'number', default: 0, min: 0, max: 1_000_000, integer: true, help: 'models trained together in one batched run (0: from memory, ~256 MB a chunk); on a GPU larger chunks use it better, within its memory (same bytes for any size)' },
  }, 'usage: npx tsx scripts/phase-diagram.ts [flags]        train a sweep, label it, compare with theory, write a report\n       npx tsx scripts/phase-diagram.ts merge DIR... [--out DIR]   merge shard-K-of-N.json files into one result');
  await useBackend(flags.backend);
  const { config, thresholds } = sweepFromFlags(flags, argv);
  const experiment = config.experiment;
  const out = resolve(flags.out || `out/${experiment}`);
  const sharding = resolveShard(flags.shard, flags['shard-count']); // bad values throw FlagError (exit 2)
  const cellCount = cellsOf(config).length;
  console.log(`phase-diagram: ${experiment}, ${cellCount} cells x ${flags.seeds} seeds, ${flags.steps} steps, batch ${flags.batch}, ${flags.optimizer} lr ${flags.lr} (${flags.schedule}), seed ${flags.seed}, ${describeThreadPlan(config, flags.workers, flags.backend)}, backend ${describeBackend()}, trainer ${describeTrainer()}`);
  if (sharding) console.log(shardNote(sharding));
  // A shard keeps its partial.json in a folder of its own: shards of one job share --out.
  const runDir = sharding ? join(out, `partial-${sharding.shard.index}-of-${sharding.shard.count}`) : out;
  const claim = claimOutDir(runDir, { overwrite: flags.overwrite, resume: flags.resume, finished: sharding ? undefined : 'results.json', interrupted: 'partial.json', lock: !sharding });
  for (const note of claim.notes) console.log(note);
  const bar = progress('training', 1000, { counts: false });
  const started = performance.now();
  const runs = await trainSweep(config, {
    out: runDir,
    resume: flags.resume,
    workers: flags.workers,
    shard: sharding?.shard,
    backend: flags.backend,
    ...(flags['chunk-size'] > 0 ? { maxInstancesPerChunk: flags['chunk-size'] } : {}),
    onProgress: (p) => bar.update(Math.floor((1000 * p.runSteps) / p.runStepsTotal), `(cells done ${p.cellsDone}/${p.cellsTotal})`),
  });
  bar.finish(`${((performance.now() - started) / 1000).toFixed(1)} s`);
  if (sharding) {
    const path = writeShard(out, { kind: 'sweep', config, thresholds }, sharding.shard, [runs]);
    claim.release();
    rmSync(runDir, { recursive: true, force: true }); // the shard file holds everything partial.json did
    console.log(`wrote ${path}; once all ${sharding.shard.count} shards are done: npx tsx scripts/phase-diagram.ts merge ${out}`);
    return;
  }
  const results = assembleResults(config, runs, thresholds);
  await report(results, out);
  rmSync(join(out, 'partial.json'), { force: true }); // results.json holds every run now
  claim.release();
  if (results.warnings && flags['fail-on-divergence']) {
    console.error(`phase-diagram: ${results.warnings.length} run(s) collapsed or diverged (--fail-on-divergence)`);
    process.exitCode = 1;
  }
}

async function report(results: SweepResults, out: string): Promise<void> {
  const files = await writeReport(results, out);
  console.log(`wrote ${files.length} files to ${out}: open ${resolve(out, 'index.html')}`);
  console.log(headline(results));
  for (const line of warningLines(results)) console.log(line);
}

runScript('phase-diagram', main);
