/**
 * Which BLAS a PyTorch anchor ran on, from the shared libraries it had mapped (the anchors record them), and the
 * rule both benchmark scripts apply: a ratio against PyTorch on the reference BLAS (4-30x slower on C and D than
 * on OpenBLAS) is not printed unless asked for, and the fix is named.
 *
 * Debian's torch calls the sgemm of whatever libblas.so.3 the alternatives (or LD_LIBRARY_PATH) point at;
 * libtorch also maps libopenblas.so.0 directly, so only the libblas.so.3 path tells which one serves sgemm.
 *
 * And the CUDA anchors both scripts run: whether torch sees a CUDA device, and the three ways it runs a step.
 */
import { spawnSync } from 'node:child_process';

/** The CUDA device torch sees under `python`, or null where there is none (no torch, no CUDA build, no GPU). */
export function cudaDeviceName(python: string): string | null {
  const probe = spawnSync(python, ['-c', 'import torch; assert torch.cuda.is_available(); print(torch.cuda.get_device_name(0))'], { encoding: 'utf8' });
  return probe.status === 0 ? probe.stdout.trim() : null;
}

/** tms_torch_device.py's modes: eager, torch.compile, and the whole step as one CUDA graph (the least overhead torch offers). */
export const CUDA_MODES = [['eager', []], ['torch.compile', ['--compile']], ['CUDA graph', ['--graph']]] as const;

/** The configurations tms_torch_device.py has (its CONFIGS: no G). */
export const DEVICE_ANCHOR_CONFIGS: readonly string[] = ['A', 'B', 'C', 'D', 'P'];

/**
 * tms_torch_device.py's command line for one mode (the caller adds --json FILE): the configurations it has among
 * `configs`, `runs` timed runs of `secs` each. Its flags are its own (no --no-matmul: it times no products), so both benchmark
 * scripts build them here (tested against the script's parser).
 */
export function deviceAnchorArgs(script: string, o: { device: 'cuda' | 'cpu'; configs: readonly string[]; mode: readonly string[]; runs: number; secs: number }): string[] {
  const configs = o.configs.filter((c) => DEVICE_ANCHOR_CONFIGS.includes(c));
  if (configs.length === 0) throw new RangeError(`tms_torch_device.py has none of the configurations ${o.configs.join(',')} (it has ${DEVICE_ANCHOR_CONFIGS.join(',')})`);
  return [script, '--device', o.device, '--configs', configs.join(','), ...o.mode, '--runs', String(o.runs), '--secs', String(o.secs)];
}
export interface BlasInfo {
  kind: 'OpenBLAS' | 'reference BLAS' | 'unknown';
  /** The library that serves sgemm, as mapped. */
  library: string | null;
  /** OpenBLAS's own thread pool size, where the anchor set or read it. */
  threads: number | null;
}

export function blasOf(mapped: readonly string[] | undefined, threads?: number | null): BlasInfo {
  const libs = mapped ?? [];
  const libblas = libs.filter((p) => p.includes('libblas.so'));
  const serving = libblas.length ? libblas : libs;
  if (serving.length === 0) return { kind: 'unknown', library: null, threads: threads ?? null };
  const kind = serving.some((p) => p.includes('openblas')) ? 'OpenBLAS' : 'reference BLAS';
  return { kind, library: serving[0], threads: threads ?? null };
}

export const OPENBLAS_HINT = "install OpenBLAS (Debian: apt-get install libopenblas0-pthread) and keep --blas-dir at its folder (/usr/lib/x86_64-linux-gnu/openblas-pthread)";

export function describeBlas(b: BlasInfo): string {
  return b.kind === 'unknown' ? 'BLAS unknown (the anchor recorded no mapped BLAS library)' : `${b.kind} (${b.library}${b.threads !== null ? `, ${b.threads} BLAS thread${b.threads === 1 ? '' : 's'}` : ''})`;
}

/** Whether a ratio against this anchor may be printed: OpenBLAS, or anything when the caller allowed it. */
export function ratioAllowed(b: BlasInfo, allowReference: boolean): boolean {
  return b.kind === 'OpenBLAS' || allowReference;
}
