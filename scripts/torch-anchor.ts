/**
 * Which BLAS a PyTorch anchor ran on, from the shared libraries it had mapped (the anchors record them), and the
 * rule both benchmark scripts apply: a ratio against PyTorch on the reference BLAS (4-30x slower on C and D than
 * on OpenBLAS) is not printed unless asked for, and the fix is named.
 *
 * Debian's torch calls the sgemm of whatever libblas.so.3 the alternatives (or LD_LIBRARY_PATH) point at;
 * libtorch also maps libopenblas.so.0 directly, so only the libblas.so.3 path tells which one serves sgemm.
 */
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
