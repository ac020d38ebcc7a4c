/**
 * test/helpers.ts for the browser bundles: everything as in Node, except that the suites run on one gpu.js
 * backend instead of the Node ones: gpu.js's WebGL backend on the test page, or the one a test worker names in
 * `globalThis.suiteBackend` (gpujs:webgpu, started by that worker first). The bundler maps every import of
 * test/helpers.ts here.
 */
export * from '../helpers.ts';
import { useBackend } from '../../src/kernels/select.ts';

export async function nodeBackends(): Promise<string[]> {
  const backend = (globalThis as { suiteBackend?: string }).suiteBackend ?? 'gpujs:gpu';
  await useBackend(backend, { allowSoftwareGpu: true }); // a test: the software adapter the worker started will do
  await useBackend('js');
  return [backend];
}
