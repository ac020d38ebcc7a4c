/** The PyTorch anchor's BLAS, as the benchmark scripts read it from the libraries the anchor had mapped. */
import { expect, it } from 'vitest';
import { blasOf, ratioAllowed } from '../../scripts/torch-anchor.ts';

it('names the BLAS that serves sgemm: libblas.so.3, not the libopenblas.so.0 that libtorch maps anyway', () => {
  // Debian's torch with the reference BLAS selected: libtorch_cpu still maps OpenBLAS directly (a mislabel once).
  const reference = blasOf(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', '/usr/lib/x86_64-linux-gnu/libopenblas.so.0'], 1);
  expect(reference).toEqual({ kind: 'reference BLAS', library: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0', threads: 1 });
  const openblas = blasOf(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3', '/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0'], 1);
  expect(openblas.kind).toBe('OpenBLAS');
  expect(blasOf([], null).kind).toBe('unknown');
});

it('refuses a ratio against the reference BLAS unless allowed', () => {
  const reference = blasOf(['/usr/lib/x86_64-linux-gnu/blas/libblas.so.3'], 1);
  expect(ratioAllowed(reference, false)).toBe(false);
  expect(ratioAllowed(reference, true)).toBe(true);
  expect(ratioAllowed(blasOf(['/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3']), false)).toBe(true);
});
