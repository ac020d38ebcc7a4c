/**
 * Running a sweep: cells and seeds cut into chunks (whole cells, each trained as one batched run), chunks spread
 * over worker threads, finished cells saved atomically as they arrive so an interrupted sweep resumes, and the
 * outputs turned into labelled cells. Every run draws from its own seed, so the bytes of the results do not
 * depend on chunking, the number of workers or interruptions.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { trainChunk, type ChunkRun, type RunOutput } from './chunk.ts';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import { cellsOf, SHAPES, type Cell, type SweepConfig } from './experiments.ts';
import { addOutputs, assembleResults, chunksOf, runsOf, sortedRuns, type SweepResults, type SweepRuns } from './results.ts';
import { sha256 } from '../manifest.ts';
import { evaluationRows } from '../toy/train.ts';
import { checkRuns, ResultsFileError } from './results-check.ts';
import { show } from '../schema.ts';
import { moduleFile } from '../module-file.ts';
import { runOnBackend } from '../kernels/select.ts';
import { isSmallTiedModel } from '../toy/fused.ts';
import { prefetchingBatches } from '../toy/sampler-thread.ts';
import { DEVICE_TRAINER_BACKENDS } from '../kernels/device/training.ts';

// The results types and assembly live in results.ts (shared with the browser explorer); re-exported for callers.
export { agreementOf, assembleResults, type Agreement, type FeatureCell, type GeometryCell, type NeuronCell, type SweepResults, type SweepRuns } from './results.ts';

/** How a sweep runs: where it saves, how many workers, thresholds, progress reports and memory limits. */
export interface SweepOptions {
  /** Where partial results are saved (and read back with resume). */
  out?: string;
  resume?: boolean;
  workers?: number;
  featureThresholds?: FeatureThresholds;
  neuronThresholds?: NeuronThresholds;
  /** Upper bound on instances per batched run (memory); default from batch and model size (~256 MB per chunk). */
  maxInstancesPerChunk?: number;
  /** Progress in run-steps (one run trained one step), with finished cells; called often from every worker. */
  onProgress?: (p: { runSteps: number; runStepsTotal: number; cellsDone: number; cellsTotal: number }) => void;
  /** Kernel backend for worker threads (the main thread's is set by the caller); default 'js'. */
  backend?: string;
  /** Test hook: stop (throw) after this many chunks, as a crash would. */
  crashAfterChunks?: number;
  /** The memory a sweep may need (bytes); default this machine's (os.totalmem). Larger sweeps are refused first. */
  memoryBytes?: number;
}

export function configHash(config: SweepConfig): string {
  return sha256(JSON.stringify(config)).slice(0, 16);
}

/** The temporary file writeAtomic writes first, NAME.tmp-PID: a leftover one names the process that died. */
export const ATOMIC_TEMP_FILE = /\.tmp-(\d+)$/;

/** Write a file so that a reader sees the old or the new content, never a torn one. */
export function writeAtomic(path: string, content: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

interface PartialFile {
  configHash: string;
  /** The backend that trained the saved cells (backends agree within float32 rounding only). */
  backend?: string;
  /** Outputs by cell index, as plain arrays. */
  cells: SweepRuns;
}


/**
 * How a sweep uses `workers` cores: `trainers` threads training chunks, each with a sampler thread when
 * `samplerThreads`. The small tied models (the 2x1 and 3x2 feature sweeps: sampling is about half a step) give half
 * the cores to sampler threads, as train-parallel.ts's threadPlan does for one run; the others train on every core.
 */
export function sweepThreadPlan(config: SweepConfig, workers: number, backend = 'js'): { trainers: number; samplerThreads: boolean } {
  // a backend with a device trainer samples on the device: no sampler threads
  const small = isSmallTiedModel(SHAPES[config.experiment]) && workers >= 2 && !DEVICE_TRAINER_BACKENDS.includes(backend);
  return small ? { trainers: Math.floor(workers / 2), samplerThreads: true } : { trainers: workers, samplerThreads: false };
}

/** sweepThreadPlan in words, for the scripts' headers: "2 cores: 1 training and 1 sampler thread", "4 worker threads". */
export function describeThreadPlan(config: SweepConfig, workers: number, backend?: string): string {
  const { trainers, samplerThreads } = sweepThreadPlan(config, workers, backend);
  if (samplerThreads) return `${workers} cores: ${trainers} training and ${trainers} sampler thread${trainers > 1 ? 's' : ''}`;
  return `${workers} worker thread${workers > 1 ? 's' : ''}`;
}

/**
 * Run the chunks on `workers` cores (in this thread when one trains, see sweepThreadPlan), calling onChunk as each
 * finishes (in any order) and onRunSteps as training advances.
 */
async function runChunks(config: SweepConfig, chunks: ChunkRun[][], workers: number, backend: string, onChunk: (outputs: RunOutput[]) => void, onRunSteps: (n: number) => void): Promise<void> {
  const { trainers, samplerThreads } = sweepThreadPlan(config, workers, backend);
  if (trainers <= 1) {
    // In this thread, on the sweep's backend (the workers start it themselves).
    await runOnBackend(backend, () => {
      for (const runs of chunks) onChunk(trainChunk(config, runs, (steps) => onRunSteps(steps * runs.length), samplerThreads ? prefetchingBatches : undefined));
    });
    return;
  }
  const boot = new URL('../worker-boot.mjs', import.meta.url);
  const entry = moduleFile('./worker', import.meta.url).href;
  const pool = Array.from({ length: Math.min(trainers, chunks.length) }, () => new Worker(boot, { workerData: { entry } }));
  let next = 0;
  try {
    await Promise.all(
      pool.map(
        (worker) =>
          new Promise<void>((resolve, reject) => {
            const send = (): void => {
              if (next >= chunks.length) return resolve();
              const id = next++;
              worker.postMessage({ id, config, runs: chunks[id], backend, samplerThread: samplerThreads });
            };
            worker.on('message', (msg: { id: number; outputs?: RunOutput[]; steps?: number; error?: string }) => {
              if (msg.error !== undefined) return reject(new Error(msg.error));
              if (msg.steps !== undefined) return onRunSteps(msg.steps * chunks[msg.id].length);
              try {
                onChunk(msg.outputs!);
              } catch (e) {
                return reject(e);
              }
              send();
            });
            worker.on('error', reject);
            worker.on('exit', (code) => {
              if (next < chunks.length || code !== 0) reject(new Error(`sweep worker exited (code ${code}) with chunks unfinished`));
            });
            send();
          }),
      ),
    );
  } finally {
    await Promise.all(pool.map((w) => w.terminate()));
  }
}

/** Which cells a shard trains: shard K of N takes the cells whose index is K modulo N (spreads rows evenly). */
export interface Shard {
  index: number;
  count: number;
}

export function inShard(cell: Cell, shard: Shard | undefined): boolean {
  return shard === undefined || cell.index % shard.count === shard.index;
}


/**
 * Train the cells of the sweep (those of `shard` only, when given), resuming from --out's partial.json when
 * asked, and return every run's raw output by cell.
 */
export async function trainSweep(config: SweepConfig, options: SweepOptions & { shard?: Shard } = {}): Promise<SweepRuns> {
  const workers = options.workers ?? os.availableParallelism();
  const cells = cellsOf(config).filter((c) => inShard(c, options.shard));
  checkFitsMemory(config, cells.length, workers, options.memoryBytes ?? os.totalmem());
  const hash = configHash(config);
  const partialPath = options.out ? join(options.out, 'partial.json') : null;
  const backend = options.backend ?? 'js';
  let partial: PartialFile = { configHash: hash, backend, cells: {} };
  if (partialPath && options.resume && existsSync(partialPath)) {
    let saved: PartialFile;
    try {
      saved = JSON.parse(readFileSync(partialPath, 'utf8')) as PartialFile;
    } catch (e) {
      throw new ResultsFileError(`resume: ${partialPath}: ${(e as Error).message} (a partial.json cut short: delete it to start over)`);
    }
    if (typeof saved !== 'object' || saved === null) throw new ResultsFileError(`resume: ${partialPath}: expected an object`);
    if (saved.configHash !== hash) {
      throw new Error(`resume: ${partialPath} belongs to a different sweep (config hash ${show(saved.configHash)}, this one ${hash}); use another --out or run without --resume`);
    }
    if (saved.backend !== undefined && saved.backend !== backend) {
      throw new Error(`resume: ${partialPath} was trained on backend ${show(saved.backend)}, this run uses ${backend}; resume with --backend ${String(saved.backend).slice(0, 40)}`);
    }
    // Every saved run must be one of this sweep's, complete and well-formed (a hand-edited W = [1] or a missing
    // run would otherwise be labelled as if trained); cells of this shard only.
    const runs = checkRuns(saved.cells, config, `resume: ${partialPath}`, 'cells');
    const mine = new Set(cells.map((c) => String(c.index)));
    const foreign = Object.keys(runs).filter((key) => !mine.has(key));
    if (foreign.length) throw new ResultsFileError(`resume: ${partialPath}: cells: holds ${foreign.length} cells [${foreign.slice(0, 10).join(', ')}${foreign.length > 10 ? ', ...' : ''}] that this run does not train`);
    partial = { configHash: hash, backend, cells: runs };
  }
  if (options.out) mkdirSync(options.out, { recursive: true });

  const todo = cells.filter((c) => partial.cells[c.index] === undefined);
  const perChunk = options.maxInstancesPerChunk ?? instancesPerChunk(config);
  const chunks = chunksOf(config, todo, workers, perChunk).map((c) => runsOf(config, c));
  let done = cells.length - todo.length;
  let chunksDone = 0;
  const runStepsTotal = cells.length * config.seeds * config.steps;
  let runSteps = done * config.seeds * config.steps;
  const report = (): void => options.onProgress?.({ runSteps, runStepsTotal, cellsDone: done, cellsTotal: cells.length });
  report();
  await runChunks(config, chunks, workers, backend, (outputs) => {
    addOutputs(partial.cells, outputs);
    done += new Set(outputs.map((o) => o.cell)).size;
    if (partialPath) writeAtomic(partialPath, JSON.stringify(partial));
    report();
    if (options.crashAfterChunks !== undefined && ++chunksDone >= options.crashAfterChunks) throw new Error('simulated crash');
  }, (n) => {
    runSteps += n;
    report();
  });
  return sortedRuns(partial.cells, cells);
}


/**
 * How many runs one chunk trains together, from memory: ~256 MB of [instances, rows, features] float32 arrays
 * (about 24 live per step), where rows is the training batch or, at the end, what the evaluation holds at once
 * (evaluationRows: a stratified batch whole, a plain one in slices), whichever is larger; at least one cell's runs.
 */
export function instancesPerChunk(config: SweepConfig): number {
  return Math.max(config.seeds, Math.floor(256e6 / (chunkRows(config) * SHAPES[config.experiment].features * 4 * 24)));
}

/** The rows a chunk holds at once per run: the training batch or the evaluation's, whichever is larger. */
function chunkRows(config: SweepConfig): number {
  const { features, kind } = SHAPES[config.experiment];
  return Math.max(config.batch, evaluationRows(config.evalBatch, features, kind));
}

/**
 * The peak memory a sweep needs, estimated before it starts: each worker's chunk (instancesPerChunk: ~256 MB,
 * or one cell's runs when those alone are larger) and every run's weights held as JS numbers and written as
 * JSON (about 32 bytes a number, counting partial.json and results.json).
 */
export function sweepMemory(config: SweepConfig, cells: number, workers: number): { training: number; results: number } {
  const { features, hidden, kind } = SHAPES[config.experiment];
  const training = workers * instancesPerChunk(config) * chunkRows(config) * features * 4 * 24;
  const weights = features * hidden * (kind === 'abs' ? 2 : 1) + features;
  return { training, results: cells * config.seeds * weights * 32 };
}

/** Refuse, before anything is trained or allocated, a sweep that needs more memory than `available`. */
export function checkFitsMemory(config: SweepConfig, cells: number, workers: number, available: number): void {
  const { training, results } = sweepMemory(config, cells, workers);
  if (training + results <= available) return;
  const gib = (b: number) => `${(b / 2 ** 30).toPrecision(3)} GiB`;
  throw new Error(
    `this sweep needs about ${gib(training + results)} (training: ${workers} worker(s) x ${gib(training / workers)}, each a chunk of ${instancesPerChunk(config)} runs of ${chunkRows(config)} rows; results: ${gib(results)} for ${cells} cells x ${config.seeds} seeds), ` +
      `more than the ${gib(available)} of this machine: lower --seeds, --batch, --eval-batch, --workers or the grid, or shard it (--shard K/N)`,
  );
}

/** Train a whole sweep and label it. */
export async function runSweep(config: SweepConfig, options: SweepOptions = {}): Promise<SweepResults> {
  const runs = await trainSweep(config, options);
  return assembleResults(config, runs, { feature: options.featureThresholds, neuron: options.neuronThresholds });
}
