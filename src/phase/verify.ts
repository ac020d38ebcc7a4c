/**
 * Checking a saved result: is results.json still what was written (its content hash against the manifest), and
 * does re-running its configuration reproduce it bit for bit?
 */
import { readFileSync } from 'node:fs';
import { checkComparison, checkResults, ResultsFileError } from './results-check.ts';
import { useBackend } from '../kernels/select.ts';
import { join } from 'node:path';
import { sha256, type Manifest } from '../manifest.ts';
import type { FeatureThresholds, NeuronThresholds } from './classify.ts';
import { compare, type Comparison } from './compare.ts';
import type { SweepConfig } from './experiments.ts';
import { runSweep, type SweepResults } from './sweep.ts';

/** The outcome of checking a results.json: intact against its manifest, and reproduced by a fresh run. */
export interface Verification {
  /** The file's content hashes to the manifest's resultsHash. */
  intact: boolean;
  /** A fresh run of the same configuration gives the same content, byte for byte. */
  reproduced: boolean;
  /** Where the first difference is, when there is one (file against manifest, or file against re-run). */
  details: string[];
}

/** The path and values of the first difference between two JSON values, or null when they are equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | null {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || a === null || b === null || typeof a !== 'object') {
    return Object.is(a, b) ? null : `${path || '(root)'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
  }
  const ka = Object.keys(a as object);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return `${path || '(root)'}: keys [${ka.join(', ')}] vs [${kb.join(', ')}]`;
  for (const k of ka) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
    if (d !== null) return d;
  }
  return null;
}

/** A results.json as JSON, split into its content and its manifest (the manifest's hash and backend checked). */
export function readResultsFile(file: string): { manifest: Manifest; content: Record<string, unknown> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ResultsFileError(`${file}: ${(e as Error).message}`);
  }
  if (typeof (parsed as { manifest?: { resultsHash?: unknown; backend?: unknown } })?.manifest?.resultsHash !== 'string' || typeof (parsed as { manifest: { backend?: unknown } }).manifest.backend !== 'string') {
    throw new ResultsFileError(`${file}: manifest: expected an object with resultsHash and backend strings`);
  }
  const { manifest, ...content } = parsed as { manifest: Manifest } & Record<string, unknown>;
  return { manifest, content };
}

/** Check dir/results.json against its manifest's hash, and re-run it to see whether it reproduces byte for byte. */
export async function verifyResults(dir: string, options: { workers?: number; backend?: string } = {}): Promise<Verification> {
  const file = join(dir, 'results.json');
  const { manifest, content } = readResultsFile(file);
  // Everything the re-run would take from the file is checked first: a file is not a licence to train forever.
  if (content.kind === 'comparison') checkComparison(content, file);
  else checkResults(content, file);
  const details: string[] = [];
  const intact = sha256(JSON.stringify(content)) === manifest.resultsHash;
  // Bit for bit means on the backend that wrote the file (backends agree only within float32 rounding).
  const backend = options.backend ?? manifest.backend;
  details.push(`re-run on backend ${backend}${backend === manifest.backend ? ' (the one recorded)' : ` (the file was written on ${manifest.backend})`}`);
  if (!intact) details.push(`results.json no longer matches its manifest's resultsHash ${manifest.resultsHash.slice(0, 16)}...: it was changed after it was written`);
  await useBackend(backend, { log: () => {} });
  let fresh: unknown;
  if (content.kind === 'comparison') {
    const c = content as unknown as Comparison;
    fresh = await compare(c.a, c.b, { workers: options.workers, resamples: c.resamples, backend });
  } else {
    const results = content as unknown as SweepResults;
    const { thresholds, ...config } = results.config;
    const t = thresholds as FeatureThresholds & NeuronThresholds;
    fresh = await runSweep(config as SweepConfig, { workers: options.workers, featureThresholds: t, neuronThresholds: t, backend });
  }
  const reran = JSON.parse(JSON.stringify(fresh)) as unknown;
  const reproduced = sha256(JSON.stringify(reran)) === manifest.resultsHash;
  const where = firstDifference(content, reran);
  if (!reproduced) details.push(`the re-run differs from what the manifest recorded (${manifest.resultsHash.slice(0, 16)}...)${where ? `; first difference, file vs re-run, at ${where}` : ''}`);
  else if (where) details.push(`the re-run reproduces the recorded hash, and the file differs from it at ${where}`);
  return { intact, reproduced, details };
}
