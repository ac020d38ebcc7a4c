/**
 * Sweeps and comparisons split over an existing scheduler (Slurm job arrays, Kubernetes indexed jobs): shard K
 * of N trains the cells whose index is K modulo N and writes shard-K-of-N.json; merging checks that the shards
 * belong to one job, that none is missing or duplicated, and hands back exactly the runs a single machine would
 * have made (every run draws from its own seed, so where it ran changes no byte).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FlagError } from '../cli.ts';
import { manifestOf, sha256, type Manifest } from '../manifest.ts';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import { assembleComparison, type Comparison, type Variant } from './compare.ts';
import { cellsOf, type SweepConfig } from './experiments.ts';
import { headline, writeComparison, writeReport } from './report.ts';
import { assembleResults, inShard, writeAtomic, type Shard, type SweepResults, type SweepRuns } from './sweep.ts';
import { checkRuns, checkSweepConfig, checkThresholdsIn, ResultsFileError } from './results-check.ts';
import type { GenericSchema } from 'valibot';
import { num, parseOrThrow, show } from '../schema.ts';
import { claimOutDir } from './out-dir.ts';
import { runWarnings } from './results.ts';

export const SHARD_FORMAT = 'superposition-lab/shard@2';
/** More shards than this is a typo, not a cluster: a sweep has at most 40000 cells, and extra shards are empty. */
export const MAX_SHARDS = 100_000;

/** What a shard belongs to: one sweep, or a comparison of two variants of one. */
export type ShardJob = { kind: 'sweep'; config: SweepConfig; thresholds: { feature: FeatureThresholds; neuron: NeuronThresholds } } | { kind: 'comparison'; a: Variant; b: Variant; resamples: number };

export interface ShardFile {
  format: typeof SHARD_FORMAT;
  job: ShardJob;
  /** sha256 of the job: shards merge only with shards of the same job. */
  jobHash: string;
  shard: Shard;
  /** The shard's raw runs: one table for a sweep, [A, B] for a comparison. */
  runs: SweepRuns[];
  manifest: Manifest;
}


export const shardFileName = (s: Shard): string => `shard-${s.index}-of-${s.count}.json`;

/** Parse "K/N" (0 <= K < N). */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || count > MAX_SHARDS || index >= count) throw new FlagError(`${flag} ${text}: expected K/N with 1 <= N <= ${MAX_SHARDS} and 0 <= K < N (K is 0-based)`);
  return { index, count };
}

/** --shard-count, the same in every script that shards. */
export const shardCountFlag = { kind: 'number', default: 0, min: 0, max: MAX_SHARDS, integer: true, help: 'shard count N for a Kubernetes indexed job (JOB_COMPLETION_INDEX)' } as const;

/** The line a shard run prints: which cells it trains, and which variable made it a shard. */
export function shardNote({ shard: { index: K, count: N }, source }: { shard: Shard; source: string }): string {
  return `shard ${K} of ${N} (from ${source}): the cells whose index is ${K} mod ${N}${source === '--shard' ? '' : ' (--shard none runs the whole sweep here instead)'}`;
}

/**
 * The shard to run: --shard when given (`none`: no shard, even inside a job array); else a Slurm array task (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN,
 * of SLURM_ARRAY_TASK_COUNT); else a Kubernetes indexed job (JOB_COMPLETION_INDEX, of shardCount, which must be
 * given since Kubernetes does not export the completion count). Returns null for an ordinary single-machine run.
 */
export function resolveShard(flag: string, shardCount: number, env: NodeJS.ProcessEnv = process.env): { shard: Shard; source: string } | null {
  if (flag === 'none') return null; // the whole sweep, whatever the scheduler's variables say
  if (flag) return { shard: parseShard(flag), source: '--shard' };
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
    const id = Number(env.SLURM_ARRAY_TASK_ID) - Number(env.SLURM_ARRAY_TASK_MIN ?? 0);
    const shard = parseShard(`${id}/${env.SLURM_ARRAY_TASK_COUNT}`, 'SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT');
    return { shard, source: `Slurm array task ${env.SLURM_ARRAY_TASK_ID} (SLURM_ARRAY_TASK_MIN ${env.SLURM_ARRAY_TASK_MIN ?? 0}, count ${env.SLURM_ARRAY_TASK_COUNT})` };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (!shardCount) throw new FlagError(`JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX} is set (a Kubernetes indexed job) but --shard-count is not: pass the job's completions`);
    return { shard: parseShard(`${env.JOB_COMPLETION_INDEX}/${shardCount}`, 'JOB_COMPLETION_INDEX/--shard-count'), source: `Kubernetes JOB_COMPLETION_INDEX ${env.JOB_COMPLETION_INDEX} of ${shardCount}` };
  }
  return null;
}

/** Write one shard's runs (atomically: a re-run replaces it whole, with the same bytes), with its manifest. */
export function writeShard(out: string, job: ShardJob, shard: Shard, runs: SweepRuns[]): string {
  mkdirSync(out, { recursive: true });
  const jobHash = sha256(JSON.stringify(job));
  const file: ShardFile = { format: SHARD_FORMAT, job, jobHash, shard, runs, manifest: manifestOf({ shard, runs }, job) };
  const path = join(out, shardFileName(shard));
  writeAtomic(path, JSON.stringify(file));
  return path;
}

/** Every shard file in the given folders (or the files themselves). */
export function findShardFiles(paths: readonly string[]): string[] {
  return paths.flatMap((p) => {
    if (!existsSync(p)) throw new Error(`merge: ${p} does not exist`);
    if (statSync(p).isFile()) return [p];
    return readdirSync(p).filter((f) => /^shard-\d+-of-\d+\.json$/.test(f)).sort().map((f) => join(p, f));
  });
}

/**
 * One shard file, checked before anything is allocated from it: its format, its job (every configuration
 * field bounded as its flag is), its shard numbers (at most one shard per cell), its manifest's backend, and
 * every run of exactly the cells that shard trains. Errors name the file and the field.
 */
export function readShard(file: string): ShardFile {
  let s: ShardFile;
  try {
    s = JSON.parse(readFileSync(file, 'utf8')) as ShardFile;
  } catch (e) {
    throw new ResultsFileError(`merge: ${file}: ${(e as Error).message}`);
  }
  const source = `merge: ${file}`;
  const field = <T extends GenericSchema>(schema: T, value: unknown, at: string) => parseOrThrow(schema, value, (message) => new ResultsFileError(message), source, at);
  if (typeof s !== 'object' || s === null || s.format !== SHARD_FORMAT) throw new ResultsFileError(`${source}: not a shard file of this version (format ${show((s as { format?: unknown } | null)?.format)}, expected ${SHARD_FORMAT})`);
  const job = s.job as ShardJob | undefined;
  if (job?.kind !== 'sweep' && job?.kind !== 'comparison') throw new ResultsFileError(`${source}: job.kind: expected sweep or comparison`);
  const configs = job.kind === 'sweep' ? [checkSweepConfig(job.config, source, 'job.config')] : [checkSweepConfig(job.a?.config, source, 'job.a.config'), checkSweepConfig(job.b?.config, source, 'job.b.config')];
  if (job.kind === 'sweep') checkThresholdsIn(job.thresholds, source, 'job.thresholds', job.config.experiment);
  else {
    checkThresholdsIn(job.a.thresholds, source, 'job.a.thresholds', job.a.config.experiment);
    checkThresholdsIn(job.b.thresholds, source, 'job.b.thresholds', job.b.config.experiment);
    field(num(100, 1e6, true), job.resamples, 'job.resamples'); // compare.ts's --resamples range
  }
  const cells = cellsOf(configs[0]);
  const { index: rawIndex, count: rawCount } = (s.shard ?? {}) as Partial<Shard>;
  const count = field(num(1, MAX_SHARDS, true), rawCount, 'shard.count');
  const index = field(num(0, count - 1, true), rawIndex, 'shard.index');
  if (typeof s.jobHash !== 'string' || !/^[0-9a-f]{64}$/.test(s.jobHash)) throw new ResultsFileError(`${source}: jobHash: expected 64 hex digits (a sha256), found ${show(s.jobHash)}`);
  if (typeof s.manifest?.backend !== 'string') throw new ResultsFileError(`${source}: manifest.backend: expected a string`);
  if (!Array.isArray(s.runs) || s.runs.length !== configs.length) throw new ResultsFileError(`${source}: runs: expected ${configs.length} table(s)`);
  const expected = cells.filter((c) => inShard(c, { index, count })).map((c) => c.index);
  const runs = s.runs.map((table, t) => checkRuns(table, configs[t], source, `runs[${t}]`, expected));
  return { ...s, runs };
}

/** Check the shards make one complete job and combine their runs. */
export function mergeShards(files: readonly string[]): { job: ShardJob; runs: SweepRuns[]; backend: string } {
  if (files.length === 0) throw new Error('merge: no shard files (shard-K-of-N.json) found');
  const shards = files.map((f) => ({ file: f, ...readShard(f) }));
  const first = shards[0];
  for (const s of shards) {
    if (s.jobHash !== first.jobHash || s.jobHash !== sha256(JSON.stringify(s.job))) {
      throw new Error(`merge: ${s.file} belongs to another ${s.job.kind} (job hash ${s.jobHash.slice(0, 16)}) than ${first.file} (${first.jobHash.slice(0, 16)})`);
    }
    if (s.shard.count !== first.shard.count) throw new Error(`merge: ${s.file} is one of ${s.shard.count} shards, ${first.file} one of ${first.shard.count}`);
    // Backends agree within float32 rounding, not bit for bit: a merge of mixed backends is no one run's result.
    if (s.manifest.backend !== first.manifest.backend) throw new Error(`merge: ${s.file} was trained on backend ${s.manifest.backend}, ${first.file} on ${first.manifest.backend}`);
  }
  const count = first.shard.count;
  const seen = new Map<number, string>();
  const duplicates: string[] = [];
  for (const s of shards) {
    const prior = seen.get(s.shard.index);
    if (prior !== undefined) duplicates.push(`shard ${s.shard.index} in ${prior} and ${s.file}`);
    seen.set(s.shard.index, s.file);
  }
  if (duplicates.length > 0) throw new Error(`merge: duplicated shards: ${duplicates.join('; ')}`);
  const missing = Array.from({ length: count }, (_, k) => k).filter((k) => !seen.has(k));
  if (missing.length > 0) throw new Error(`merge: ${missing.length} of ${count} shards missing: ${missing.map((k) => shardFileName({ index: k, count })).join(', ')}`);

  // Each shard's cells were checked against its job's (readShard); the same job hash makes them one sweep's.
  const tables = first.runs.map((): SweepRuns => ({}));
  for (const s of shards) s.runs.forEach((table, t) => Object.assign(tables[t], table));
  return { job: first.job, runs: tables, backend: first.manifest.backend };
}

/** Merge shard files and write what a single run of their job writes (results.json, plots, index.html). */
export async function mergeAndReport(files: readonly string[], out: string | null, claim?: { overwrite: boolean }): Promise<{ out: string; written: string[]; results: SweepResults | Comparison }> {
  const { job, runs, backend } = mergeShards(files);
  const dir = out ?? resolve(job.kind === 'sweep' ? `out/${job.config.experiment}` : `out/compare-${job.a.config.experiment}`);
  // As a one-machine run does, the merge owns its output folder (out-dir.ts) when the command line asks it to.
  const owned = claim ? claimOutDir(dir, { overwrite: claim.overwrite, finished: 'results.json' }) : null;
  for (const note of owned?.notes ?? []) console.log(note);
  try {
    // The merged result's manifest names the backend the shards trained on, as a one-machine run's would (the
    // merge itself trains nothing, so that backend need not start here).
    if (job.kind === 'sweep') {
      const results = assembleResults(job.config, runs[0], job.thresholds);
      return { out: dir, written: await writeReport(results, dir, backend), results };
    }
    const results = assembleComparison(job.a, job.b, runs[0], runs[1], job.resamples);
    return { out: dir, written: await writeComparison(results, dir, backend), results };
  } finally {
    owned?.release();
  }
}

/**
 * The `merge DIR... [--out DIR]` subcommand of the scripts: merge the shard files found there and write the
 * single-run outputs, printing where they are and the headline numbers.
 */
export async function mergeCommand(script: string, argv: readonly string[]): Promise<void> {
  const paths: string[] = [];
  let out = '';
  let overwrite = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h') {
      console.log(`usage: npx tsx scripts/${script} merge DIR_OR_SHARD_FILE... [--out DIR] [--overwrite]   merge shard files into what one machine would have written\n\n  --overwrite replaces a finished result in --out (refused without it)`);
      return;
    }
    if (a === '--overwrite') overwrite = true;
    else
    if (a === '--out') {
      out = argv[++i] ?? '';
      if (!out || out.startsWith('--')) throw new FlagError('merge: --out needs a folder');
    }
    else if (a.startsWith('--out=')) out = a.slice(6);
    else if (a.startsWith('--')) throw new FlagError(`merge: unknown flag ${a} (merge takes shard folders or files, --out DIR and --overwrite)`);
    else paths.push(a);
  }
  if (paths.length === 0) throw new FlagError('merge: give the folders (or files) holding shard-K-of-N.json');
  const files = findShardFiles(paths);
  const merged = await mergeAndReport(files, out ? resolve(out) : null, { overwrite });
  console.log(`merge: ${files.length} shards of one ${'kind' in merged.results ? 'comparison' : 'sweep'}; wrote ${merged.written.length} files to ${merged.out}: open ${resolve(merged.out, 'index.html')}`);
  console.log(headline(merged.results));
  for (const line of runWarnings(merged.results)) console.log(line);
}
