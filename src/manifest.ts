/**
 * The reproducibility manifest written with every result: what made it (package, git commit, backend, Node),
 * the configuration's hash, and a content hash of the results, so a second run can be checked to reproduce
 * the first bit for bit (scripts/compare.ts --verify DIR).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { getBackend } from './kernels/registry.ts';
import { COUNTER_RNG } from './counter/threefry.ts';
import { DEVICE_TRAINER_BACKENDS, hasDeviceTraining } from './kernels/device/training.ts';

// The package's root: one folder up from src/manifest.ts, two from the compiled dist/src/manifest.js.
const root = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? '..' : '../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };

/** The reproducibility record written beside every result. */
export interface Manifest {
  package: string;
  /** The checkout's commit, with "+changes" when the working tree differs from it; null outside git. */
  gitCommit: string | null;
  backend: string;
  /** 'device' (whole steps on the backend's device) or 'autograd'; the scripts train with the backend's default. */
  trainer: 'device' | 'autograd';
  /** The generator of the training batches, e.g. "threefry2x32-20 v1": results of different streams differ. */
  dataStream: string;
  node: string;
  /** sha256 of the configuration (what was asked for). */
  configHash: string;
  /** sha256 of the results without this manifest (what came out). */
  resultsHash: string;
}

/** The sha256 of a text, as hex. */
export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

let commit: string | null | undefined;
function gitCommit(): string | null {
  if (commit !== undefined) return commit;
  // An installed package has no checkout of its own: git would report the enclosing project's commit.
  if (!import.meta.url.endsWith('.ts')) return (commit = null);
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    commit = dirty ? `${head}+changes` : head;
  } catch {
    commit = null;
  }
  return commit;
}

/** The manifest of a result; `backend` defaults to the active one (a merge passes the backend its shards ran on). */
export function manifestOf(results: object, config: object, backend = getBackend().name): Manifest {
  return {
    package: `${pkg.name}@${pkg.version}`,
    gitCommit: gitCommit(),
    backend,
    // the active backend says itself (gpujs:gpu trains on the device only in a browser with WebGL2)
    trainer: (backend === getBackend().name ? hasDeviceTraining(getBackend()) : DEVICE_TRAINER_BACKENDS.includes(backend)) ? 'device' : 'autograd',
    dataStream: `${COUNTER_RNG.name} v${COUNTER_RNG.version}`,
    node: process.version,
    configHash: sha256(JSON.stringify(config)),
    resultsHash: sha256(JSON.stringify(results)),
  };
}
