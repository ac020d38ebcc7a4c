/**
 * Sweeps split over an existing scheduler (Slurm job arrays, Kubernetes indexed jobs): shard K of N trains the
 * cells whose index is K modulo N and writes shard-K-of-N.json; merging checks that the shards belong to one
 * sweep, that none is missing or duplicated, and hands back exactly the runs a single machine would have made
 * (every run draws from its own seed, so where it ran changes no byte).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import { cellsOf, type SweepConfig } from './experiments.ts';
import { configHash, inShard, writeAtomic, type Shard, type SweepRuns } from './sweep.ts';

export const SHARD_FORMAT = 'superposition-lab/shard@1';

export interface ShardFile {
  format: typeof SHARD_FORMAT;
  config: SweepConfig;
  configHash: string;
  thresholds: { feature: FeatureThresholds; neuron: NeuronThresholds };
  shard: Shard;
  cells: SweepRuns;
}

export const shardFileName = (s: Shard): string => `shard-${s.index}-of-${s.count}.json`;

/** Parse "K/N" (0 <= K < N). */
export function parseShard(text: string, flag = '--shard'): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = m ? Number(m[1]) : NaN;
  const count = m ? Number(m[2]) : NaN;
  if (!m || count < 1 || index >= count) throw new RangeError(`${flag} ${text}: expected K/N with N >= 1 and 0 <= K < N (K is 0-based)`);
  return { index, count };
}

/**
 * The shard to run: --shard when given; else a Slurm array task (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN,
 * of SLURM_ARRAY_TASK_COUNT); else a Kubernetes indexed job (JOB_COMPLETION_INDEX, of shardCount, which must be
 * given since Kubernetes does not export the completion count). Returns null for an ordinary single-machine run.
 */
export function resolveShard(flag: string, shardCount: number, env: NodeJS.ProcessEnv = process.env): { shard: Shard; source: string } | null {
  if (flag) return { shard: parseShard(flag), source: '--shard' };
  if (env.SLURM_ARRAY_TASK_ID !== undefined && env.SLURM_ARRAY_TASK_COUNT !== undefined) {
    const id = Number(env.SLURM_ARRAY_TASK_ID) - Number(env.SLURM_ARRAY_TASK_MIN ?? 0);
    const shard = parseShard(`${id}/${env.SLURM_ARRAY_TASK_COUNT}`, 'SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT');
    return { shard, source: `Slurm array task ${env.SLURM_ARRAY_TASK_ID} (SLURM_ARRAY_TASK_MIN ${env.SLURM_ARRAY_TASK_MIN ?? 0}, count ${env.SLURM_ARRAY_TASK_COUNT})` };
  }
  if (env.JOB_COMPLETION_INDEX !== undefined) {
    if (!shardCount) throw new RangeError(`JOB_COMPLETION_INDEX=${env.JOB_COMPLETION_INDEX} is set (a Kubernetes indexed job) but --shard-count is not: pass the job's completions`);
    return { shard: parseShard(`${env.JOB_COMPLETION_INDEX}/${shardCount}`, 'JOB_COMPLETION_INDEX/--shard-count'), source: `Kubernetes JOB_COMPLETION_INDEX ${env.JOB_COMPLETION_INDEX} of ${shardCount}` };
  }
  return null;
}

/** Write one shard's runs (atomically: a re-run replaces it whole, with the same bytes). */
export function writeShard(out: string, config: SweepConfig, shard: Shard, thresholds: ShardFile['thresholds'], cells: SweepRuns): string {
  const file: ShardFile = { format: SHARD_FORMAT, config, configHash: configHash(config), thresholds, shard, cells };
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

/** Check the shards make one complete sweep and combine their runs. */
export function mergeShards(files: readonly string[]): { config: SweepConfig; thresholds: ShardFile['thresholds']; runs: SweepRuns } {
  if (files.length === 0) throw new Error('merge: no shard files (shard-K-of-N.json) found');
  const shards = files.map((f) => {
    const s = JSON.parse(readFileSync(f, 'utf8')) as ShardFile;
    if (s.format !== SHARD_FORMAT) throw new Error(`merge: ${f} is not a shard file (format ${String(s.format)})`);
    return { file: f, ...s };
  });
  const first = shards[0];
  for (const s of shards) {
    if (s.configHash !== first.configHash || s.configHash !== configHash(s.config)) {
      throw new Error(`merge: ${s.file} belongs to another sweep (config hash ${s.configHash}) than ${first.file} (${first.configHash})`);
    }
    if (JSON.stringify(s.thresholds) !== JSON.stringify(first.thresholds)) throw new Error(`merge: ${s.file} was labelled with other thresholds than ${first.file}`);
    if (s.shard.count !== first.shard.count) throw new Error(`merge: ${s.file} is one of ${s.shard.count} shards, ${first.file} one of ${first.shard.count}`);
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

  const runs: SweepRuns = {};
  for (const s of shards) {
    const expected = cellsOf(s.config).filter((c) => inShard(c, s.shard)).map((c) => String(c.index));
    const got = Object.keys(s.cells);
    if (expected.length !== got.length || expected.some((c) => s.cells[c] === undefined)) {
      throw new Error(`merge: ${s.file} holds cells [${got.join(', ')}] but shard ${s.shard.index}/${count} should hold [${expected.join(', ')}]`);
    }
    Object.assign(runs, s.cells);
  }
  return { config: first.config, thresholds: first.thresholds, runs };
}
