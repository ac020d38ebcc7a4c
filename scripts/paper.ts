/**
 * The paper, figure by figure: trains what each of the paper's figures needs, draws it, checks the paper's claims
 * against the measured numbers, and writes one offline report (index.html, every plot as SVG and PNG).
 *
 *   npx tsx scripts/paper.ts --quick                      # every figure, about 10 minutes on 2 cores
 *   npx tsx scripts/paper.ts --only intro,geometry        # some figures
 *   npx tsx scripts/paper.ts --full --out out/paper-full  # the paper's sizes and step counts (hours on 2 cores)
 *   npx tsx scripts/paper.ts --full --shard 0/4 --out shared/paper   # one task of four (or from Slurm/Kubernetes env),
 *   npx tsx scripts/paper.ts --full --resume --out shared/paper      # then the report from every task's figures
 *
 * Exit status 1 when a check fails (the report says which and by how much); 2 for bad flags.
 */
import os from 'node:os';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FlagError, parseFlags, runScript } from '../src/cli.ts';
import { describeBackend } from '../src/kernels/registry.ts';
import { backendFlag, useBackend } from '../src/kernels/select.ts';
import { claimOutDir } from '../src/phase/out-dir.ts';
import { progress } from '../src/progress.ts';
import { writeAtomic } from '../src/phase/sweep.ts';
import { sharedRuns, type PaperContext, type Scale } from '../src/paper/figure.ts';
import { FIGURE_NAMES, FIGURES, figuresOfShard } from '../src/paper/figures.ts';
import { resolveShard, shardCountFlag } from '../src/phase/shards.ts';
import { loadSaved, writeFigure, writeIndex, type SavedFigure } from '../src/paper/report.ts';

const SYNOPSIS = `usage: npx tsx scripts/paper.ts [--quick | --full] [--only NAMES] [--out DIR] [--resume | --overwrite] [--shard K/N]
regenerate the paper's figures beside its claims, with checks that pass or fail, into one offline report

figures: ${FIGURE_NAMES.join(', ')}`;

async function main(argv: string[]): Promise<void> {
  const flags = parseFlags(
    argv,
    {
      quick: { kind: 'boolean', default: false, help: 'small models and short runs, about 10 minutes on 2 cores (the default scale)' },
      full: { kind: 'boolean', default: false, help: "the paper's sizes and step counts" },
      only: { kind: 'string', default: '', help: `comma-separated figures to run (default: all of ${FIGURE_NAMES.join(', ')})` },
      out: { kind: 'string', default: '', help: 'output folder (default out/paper-quick or out/paper-full)' },
      resume: { kind: 'boolean', default: false, help: 'keep the figures an interrupted or earlier run in --out finished (same scale and seed); run the rest' },
      overwrite: { kind: 'boolean', default: false, help: 'replace the report already in --out' },
      seed: { kind: 'number', default: 0, min: 0, max: 2 ** 32 - 1, integer: true, help: 'seed of every run' },
      workers: { kind: 'number', default: os.availableParallelism(), min: 1, max: 256, integer: true, help: 'worker threads (the same bytes for any number)' },
      backend: backendFlag,
      shard: { kind: 'string', default: '', help: 'run only shard K/N (0-based K) of the figures, into --out (shared by the shards), without the report; default from SLURM_ARRAY_TASK_ID/COUNT or JOB_COMPLETION_INDEX; none: every figure even inside a job array' },
      'shard-count': shardCountFlag,
    },
    SYNOPSIS,
  );
  if (flags.quick && flags.full) throw new FlagError('--quick and --full: choose one scale');
  const scale: Scale = flags.full ? 'full' : 'quick';
  const names = flags.only ? flags.only.split(',').map((s) => s.trim()) : FIGURE_NAMES;
  const unknown = names.filter((n) => !FIGURE_NAMES.includes(n));
  if (unknown.length || names.length === 0) throw new FlagError(`--only ${flags.only}: unknown figure ${unknown.map((n) => `'${n}'`).join(', ') || "''"}; expected names from ${FIGURE_NAMES.join(', ')}`);
  const sharding = resolveShard(flags.shard, flags['shard-count']);
  await useBackend(flags.backend);
  const chosen = FIGURES.filter((f) => names.includes(f.name));
  const figures = sharding ? figuresOfShard(chosen, scale, sharding.shard.index, sharding.shard.count) : chosen;
  const out = resolve(flags.out || `out/paper-${scale}`);
  // Shards share --out and write only their figures' folders: no lock (as the sweeps' shards), no report.
  const claim = sharding ? null : claimOutDir(out, { overwrite: flags.overwrite, resume: flags.resume, finished: 'index.html', interrupted: 'partial.json', lock: true });
  for (const note of claim?.notes ?? []) console.log(note);
  if (sharding) console.log(`paper: shard ${sharding.shard.index} of ${sharding.shard.count} (from ${sharding.source}): ${figures.length ? figures.map((f) => f.name).join(', ') : 'no figures (more shards than figure groups)'}`);
  // Marks the folder as a run in progress until index.html is written: a later run resumes it or starts over.
  else writeAtomic(join(out, 'partial.json'), `${JSON.stringify({ scale, seed: flags.seed, figures: figures.map((f) => f.name) })}\n`);
  console.log(`paper: ${figures.length} figure(s) at the ${scale} scale (${figures.map((f) => f.name).join(', ')}), seed ${flags.seed}, ${flags.workers} worker(s), backend ${describeBackend()}; writing ${out}`);
  const total = figures.reduce((s, f) => s + f.cost[scale], 0);
  let done = 0;
  const started = performance.now();
  const entries = [];
  const shared = sharedRuns();
  for (const [k, figure] of figures.entries()) {
    const eta = done > 0 ? ` (about ${Math.ceil((((performance.now() - started) / 1000) * (total - done)) / done / 60)} min left)` : '';
    console.log(`\n[${k + 1}/${figures.length}] ${figure.name}: ${figure.title}${eta}`);
    let saved: SavedFigure | null = flags.resume ? loadSaved(out, figure.name, scale, flags.seed) : null;
    if (saved) console.log(`  kept from the earlier run (${saved.seconds.toFixed(0)} s then)`);
    else {
      const ctx: PaperContext = { scale, workers: flags.workers, backend: flags.backend, seed: flags.seed, progress: (label, steps) => progress(`  ${label}`, steps), shared };
      const t0 = performance.now();
      const output = await figure.run(ctx);
      saved = { name: figure.name, scale, seed: flags.seed, seconds: (performance.now() - t0) / 1000, ...output };
    }
    const drawn = await writeFigure(out, saved);
    for (const c of saved.checks) console.log(`  ${c.pass === null ? 'reported' : c.pass ? 'pass' : 'FAIL'}: ${c.claim}: ${c.measured}${c.note ? ` (${c.note})` : ''}`);
    entries.push({ figure, saved, drawn });
    done += figure.cost[scale];
  }
  if (sharding) {
    console.log(`\npaper: shard ${sharding.shard.index} of ${sharding.shard.count} done; once every shard is: npx tsx scripts/paper.ts --${scale} --resume --out ${out}${flags.only ? ` --only ${flags.only}` : ''}${flags.seed ? ` --seed ${flags.seed}` : ''}`);
    if (entries.some((e) => e.saved.checks.some((c) => c.pass === false))) process.exitCode = 1;
    return;
  }
  writeIndex(out, scale, entries, { scale, seed: flags.seed, workers: flags.workers, backend: describeBackend(), figures: figures.map((f) => f.name) });
  rmSync(join(out, 'partial.json'), { force: true });
  claim!.release();
  const checks = entries.flatMap((e) => e.saved.checks);
  const failed = checks.filter((c) => c.pass === false);
  const explained = failed.filter((c) => c.note).length;
  console.log(`\npaper: ${checks.filter((c) => c.pass === true).length} checks passed, ${failed.length} failed${failed.length ? ` (${explained} of them known and explained)` : ''}, ${checks.filter((c) => c.pass === null).length} reported; open ${resolve(out, 'index.html')}`);
  if (failed.length) process.exitCode = 1;
}

runScript('paper', main);
